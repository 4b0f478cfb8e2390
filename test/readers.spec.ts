import { describe, expect, it } from 'vitest';
import { FrameProtocol, TextProtocol } from '../lib/protocol/client-protocol.js';
import { GatewayCommand, HEAD_LEN } from '../lib/protocol/gateway-command.js';
import { encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { GatewayPacketReader, type OversizedPacket } from '../lib/protocol/gateway-packet.reader.js';
import { LineReader } from '../lib/protocol/line.reader.js';
import { QueryReplyReader } from '../lib/protocol/query-reply.reader.js';
import { GatewayProtocolError } from '../lib/errors/gateway-protocol.error.js';

/**
 * The stream readers (text lines, `frame://`, GatewayProtocol packets, query replies): exact
 * output for every way a stream can be split, and time linear in the bytes received however a
 * message is split (a `Buffer.concat` per chunk made an unfinished 10 MB line cost 23 s of CPU).
 */

/** One reader under test: how a message is put on the wire, and how chunks are fed. */
interface Subject {
  name: string;
  /** The wire bytes of one message. */
  encode(message: Buffer): Buffer;
  /** What the reader should deliver for that message. */
  expected(message: Buffer): Buffer;
  /** A fresh reader accepting messages up to `max` bytes; returns its feed function. */
  create(max: number): { push(chunk: Buffer, out: Buffer[]): void; buffered(): number };
}

const NL = Buffer.from('\n');
const lengthPrefix = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
};
const noOversized = (big: OversizedPacket) => expect.unreachable(`unexpected oversized packet of ${big.length} bytes`);

const SUBJECTS: Subject[] = [
  {
    name: 'LineReader (text://, Register lines)',
    // A line must not hold a newline: the payload is made of letters.
    encode: (m) => Buffer.concat([m, NL]),
    expected: (m) => m,
    create(max) {
      const r = new LineReader(max);
      return { push: (c, out) => r.push(c, (l) => out.push(Buffer.from(l))), buffered: () => r.pending };
    },
  },
  {
    name: 'FrameDecoder (frame://)',
    encode: (m) => Buffer.concat([lengthPrefix(m.length + 4), m]),
    expected: (m) => m,
    create(max) {
      const r = FrameProtocol.createDecoder(max + 4);
      return { push: (c, out) => r.push(c, (l) => out.push(Buffer.from(l))), buffered: () => r.pending };
    },
  },
  {
    name: 'GatewayPacketReader (internal links)',
    encode: (m) => encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, connectionId: 7, body: m }),
    expected: (m) => encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, connectionId: 7, body: m }),
    create(max) {
      const r = new GatewayPacketReader(max + HEAD_LEN);
      return { push: (c, out) => r.push(c, (p) => out.push(Buffer.from(p)), noOversized), buffered: () => r.bufferedBytes };
    },
  },
  {
    name: 'QueryReplyReader (GatewayClient replies)',
    encode: (m) => Buffer.concat([lengthPrefix(m.length), m]),
    expected: (m) => m,
    create(max) {
      const r = new QueryReplyReader(max);
      return { push: (c, out) => r.push(c, (p) => out.push(Buffer.from(p))), buffered: () => r.bufferedBytes };
    },
  },
];

/** A deterministic PRNG (mulberry32), so a failing split can be reproduced. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes of letters (no `\n`, no `\r`), varying with `seed`. */
function letters(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 97 + ((i * 7 + seed) % 26);
  return b;
}

/** Views of `wire` of `size` bytes each (the last one shorter), as a socket would deliver them. */
function split(wire: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i += size) out.push(wire.subarray(i, i + size));
  return out;
}

/** Views of `wire` of random sizes between 1 and `maxSize`. */
function splitRandomly(wire: Buffer, maxSize: number, seed: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; ) {
    const n = 1 + Math.floor(rnd() * maxSize);
    out.push(wire.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Messages of every size class: empty, tiny, around the ChunkList thresholds (16 KiB, 64 KiB), large. */
const SIZES = [0, 1, 5, 27, 28, 29, 100, 1023, 1024, 1025, 16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 200_000, 1_000_000];
const MESSAGES = SIZES.map((n, i) => letters(n, i));

describe('stream readers: exact output however the stream is split', () => {
  for (const subject of SUBJECTS) {
    describe(subject.name, () => {
      // The empty line is still a line (the reader strips nothing else), so every subject takes every size.
      const wire = Buffer.concat(MESSAGES.map((m) => subject.encode(m)));
      const expected = MESSAGES.map((m) => subject.expected(m).toString('hex'));
      const splits: [string, () => Buffer[]][] = [
        ['the whole stream in one chunk (several messages per chunk)', () => [wire]],
        ['1 KB chunks', () => split(wire, 1024)],
        ['64 KB chunks', () => split(wire, 65_536)],
        ['random chunks of 1..5000 bytes', () => splitRandomly(wire, 5000, 1)],
        ['random chunks of 1..100000 bytes', () => splitRandomly(wire, 100_000, 2)],
        ['random chunks of 1..40 bytes', () => splitRandomly(wire, 40, 3)],
        ['chunks of 3 bytes', () => split(wire, 3)],
      ];
      for (const [what, chunks] of splits) {
        it(what, () => {
          const reader = subject.create(2_000_000);
          const out: Buffer[] = [];
          for (const c of chunks()) reader.push(c, out);
          expect(out.map((m) => m.toString('hex'))).toEqual(expected);
          expect(reader.buffered()).toBe(0);
        });
      }
      it('1-byte chunks (the messages up to 65,537 bytes)', () => {
        const small = MESSAGES.filter((m) => m.length <= 65_537);
        const reader = subject.create(2_000_000);
        const out: Buffer[] = [];
        for (const c of split(Buffer.concat(small.map((m) => subject.encode(m))), 1)) reader.push(c, out);
        expect(out.map((m) => m.toString('hex'))).toEqual(small.map((m) => subject.expected(m).toString('hex')));
      });
      it('a message across chunks, with the next ones in the chunk that ends it', () => {
        const a = subject.encode(letters(50_000, 1));
        const b = subject.encode(letters(10, 2));
        const c = subject.encode(letters(3, 3));
        const reader = subject.create(2_000_000);
        const out: Buffer[] = [];
        reader.push(a.subarray(0, 20_000), out);
        reader.push(a.subarray(20_000, 40_000), out);
        expect(out).toEqual([]);
        expect(reader.buffered()).toBe(40_000);
        reader.push(Buffer.concat([a.subarray(40_000), b, c.subarray(0, 2)]), out);
        expect(out.map((m) => m.length)).toEqual([subject.expected(letters(50_000)).length, subject.expected(letters(10)).length]);
        expect(reader.buffered()).toBe(2);
        reader.push(c.subarray(2), out);
        const sent = [letters(50_000, 1), letters(10, 2), letters(3, 3)];
        expect(out.map((m) => m.toString('hex'))).toEqual(sent.map((m) => subject.expected(m).toString('hex')));
      });
    });
  }

  it('LineReader strips \\r\\n and \\r split from their \\n', () => {
    const r = new LineReader();
    const out: string[] = [];
    for (const c of split(Buffer.from('one\r\ntwo\r\r\n\nthree\r'), 1)) r.push(c, (l) => out.push(l.toString()));
    r.push(Buffer.from('\n'), (l) => out.push(l.toString()));
    expect(out).toEqual(['one', 'two', '', 'three']);
  });

  it('oversize is refused as soon as the limit is reached, whatever the split', () => {
    for (const size of [1, 1000, 65_536]) {
      const line = new LineReader(100_000);
      expect(() => split(letters(200_000), size).forEach((c) => line.push(c, () => undefined))).toThrow(GatewayProtocolError);
      expect(line.pending).toBe(0);
      // frame:// and query replies: refused on the length field, before the payload.
      const frame = FrameProtocol.createDecoder(100_000);
      expect(() => split(Buffer.concat([lengthPrefix(200_000), letters(10)]), size).forEach((c) => frame.push(c, () => undefined))).toThrow(GatewayProtocolError);
      const replies = new QueryReplyReader(100_000);
      expect(() => split(Buffer.concat([lengthPrefix(100_001), letters(10)]), size).forEach((c) => replies.push(c, () => undefined))).toThrow(GatewayProtocolError);
    }
    // Exactly at the limit: still read (workerman's `≥` for lines counts the unfinished bytes only).
    const line = new LineReader(100_000);
    const out: Buffer[] = [];
    for (const c of split(Buffer.concat([letters(99_999), NL]), 1000)) line.push(c, (l) => out.push(l));
    expect(out.map((l) => l.length)).toEqual([99_999]);
  });
});

describe('GatewayPacketReader: an oversized packet is reported and skipped, the link goes on', () => {
  const LIMIT = 64 * 1024;
  const small = (n: number) => encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ONE, connectionId: n, body: letters(100, n) });
  const big = encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, connectionId: 42, body: letters(1_000_000) });
  const stream = Buffer.concat([small(1), big, small(2)]);

  for (const [what, chunks] of [
    ['one chunk', () => [stream]],
    ['1 KB chunks', () => split(stream, 1024)],
    ['64 KB chunks', () => split(stream, 65_536)],
    ['1-byte chunks through the headers, then 10 KB chunks', () => [...split(stream.subarray(0, 200), 1), ...split(stream.subarray(200), 10_000)]],
    ['random chunks', () => splitRandomly(stream, 30_000, 4)],
    // 128 is where the oversized packet starts: cut after 10 and 22 bytes of its 28-byte header.
    ['cuts inside the oversized header', () => [stream.subarray(0, 138), stream.subarray(138, 150), stream.subarray(150)]],
    ['its header alone, then the rest', () => [stream.subarray(0, 156), stream.subarray(156)]],
  ] as [string, () => Buffer[]][]) {
    it(`small, oversized, small (${what}): the small ones are delivered, the big one is named`, () => {
      const reader = new GatewayPacketReader(LIMIT);
      const packets: Buffer[] = [];
      const oversized: OversizedPacket[] = [];
      let maxHeld = 0;
      for (const c of chunks()) {
        reader.push(c, (p) => packets.push(Buffer.from(p)), (o) => oversized.push(o));
        maxHeld = Math.max(maxHeld, reader.bufferedBytes);
      }
      expect(packets.map((p) => p.toString('hex'))).toEqual([small(1), small(2)].map((p) => p.toString('hex')));
      expect(oversized).toEqual([{ cmd: GatewayCommand.SEND_TO_ALL, connectionId: 42, length: big.length }]);
      expect(reader.bufferedBytes).toBe(0);
    });
  }

  it('while the skipped packet is half-received, bufferedBytes says so (for the stalled-frame sweep)', () => {
    const reader = new GatewayPacketReader(LIMIT);
    const oversized: OversizedPacket[] = [];
    reader.push(big.subarray(0, 500_000), () => expect.unreachable(), (o) => oversized.push(o));
    expect(oversized).toHaveLength(1);
    expect(reader.bufferedBytes).toBe(500_000);
    reader.push(big.subarray(500_000), () => expect.unreachable(), (o) => oversized.push(o));
    expect(reader.bufferedBytes).toBe(0);
    expect(oversized).toHaveLength(1);
  });

  it('a length below 28 still throws: the framing cannot be resynchronised', () => {
    const reader = new GatewayPacketReader(LIMIT);
    const bad = Buffer.alloc(HEAD_LEN);
    bad.writeUInt32BE(12, 0);
    const delivered: Buffer[] = [];
    expect(() => reader.push(Buffer.concat([small(1), bad, small(2)]), (p) => delivered.push(p), () => undefined)).toThrow(GatewayProtocolError);
    expect(delivered).toHaveLength(1);
  });
});

/**
 * Linear time. Each figure is the CPU time of this process (not wall time: a run preempted by
 * other processes on a shared machine is not slower) and the best of several runs (a garbage
 * collection may land in one). A quadratic reader
 * takes ~100× longer for 10× the bytes; a linear one ~10×, so the bound of 20 fails the former
 * with a wide margin and tolerates noise on the latter.
 */
describe('stream readers: time is linear in the message size, whatever the split', () => {
  /** CPU milliseconds to feed one message of `bytes` in chunks of `chunkSize` to a fresh reader (best of `runs`). */
  function timeOne(subject: Subject, bytes: number, chunkSize: number, runs: number): number {
    const wire = subject.encode(letters(bytes));
    const chunks = split(wire, chunkSize);
    const length = subject.expected(Buffer.alloc(bytes)).length;
    let best = Infinity;
    for (let run = 0; run < runs; run++) {
      const reader = subject.create(bytes + 1024);
      const out: Buffer[] = [];
      const t0 = process.cpuUsage();
      for (const c of chunks) reader.push(c, out);
      const used = process.cpuUsage(t0);
      best = Math.min(best, (used.user + used.system) / 1000);
      expect(out).toHaveLength(1);
      expect(out[0]!.length).toBe(length);
    }
    return best;
  }

  const MB = 1024 * 1024;
  for (const subject of SUBJECTS) {
    it(`${subject.name}: 10 MB at 1 KB and 64 KB chunks, 1 MB at 1-byte chunks`, () => {
      timeOne(subject, MB, 1024, 2); // warm-up (JIT)
      const t1k1 = timeOne(subject, MB, 1024, 5);
      const t1k10 = timeOne(subject, 10 * MB, 1024, 5);
      const t64k1 = timeOne(subject, MB, 65_536, 5);
      const t64k10 = timeOne(subject, 10 * MB, 65_536, 5);
      // 1-byte chunks: one call per byte dominates, so 10 MB would take seconds; 1 MB vs 256 KB instead.
      const t1b256k = timeOne(subject, MB / 4, 1, 3);
      const t1b1m = timeOne(subject, MB, 1, 3);
      const perMb = (ms: number, mb: number) => (ms / mb).toFixed(2);
      console.log(
        `${subject.name}: ms per MB — 1 KB chunks: ${perMb(t1k1, 1)} (1 MB), ${perMb(t1k10, 10)} (10 MB); ` +
          `64 KB chunks: ${perMb(t64k1, 1)} (1 MB), ${perMb(t64k10, 10)} (10 MB); 1-byte chunks: ${perMb(t1b256k, 0.25)} (256 KB), ${perMb(t1b1m, 1)} (1 MB)`,
      );
      // 10× the bytes: well under 20× the time (quadratic would be ~100×: seconds for 10 MB). A
      // floor of 5 ms keeps a 1–2 ms figure for 1 MB, where one GC pause is half the time, from
      // turning noise into a ratio on a loaded machine.
      expect(t1k10 / Math.max(t1k1, 5)).toBeLessThan(20);
      expect(t64k10 / Math.max(t64k1, 5)).toBeLessThan(20);
      // 4× the bytes one at a time: under 8× the time (quadratic would be ~16×).
      expect(t1b1m / Math.max(t1b256k, 1)).toBeLessThan(8);
      // Across split sizes, per MB: 1 KB chunks cost at most a constant factor more than 64 KB ones.
      expect(t1k10 / Math.max(t64k10, 1)).toBeLessThan(50);
      // And in absolute terms, far from the 23 s the old reader took for 10 MB in 1 KB writes.
      expect(t1k10).toBeLessThan(2000);
    }, 60_000);
  }
});
