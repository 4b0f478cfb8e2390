/**
 * Property tests of every decoder that faces the network (docs/protocol.md §2.4, §4, §8, §10): random
 * and mutated input is either decoded or rejected with the codec's own error — never another
 * exception, never a hang — and valid input survives any chunking. Also the gateway's command
 * handler (no packet makes it throw; exactly one well-formed reply per query) and the readers of
 * query replies (no reply makes a GatewayService merge throw).
 */
import type { Logger } from '@nestjs/common';
import fc from 'fast-check';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { fakeSocket } from './support/fake-socket.js';
import { GatewayProtocolError } from '../lib/errors/gateway-protocol.error.js';
import { PhpUnserializeError } from '../lib/errors/php-unserialize.error.js';
import { ClientConnection } from '../lib/gateway/client-connection.js';
import { ClientCommands } from '../lib/gateway/client-commands.js';
import { GatewayCounters } from '../lib/gateway/gateway-counters.js';
import type { InnerCommand } from '../lib/gateway/inner-port.js';
import { QueryCommands } from '../lib/gateway/query-commands.js';
import { GatewayTables } from '../lib/gateway/gateway-tables.js';
import { InnerConnection } from '../lib/gateway/inner-connection.js';
import { FrameProtocol, TextProtocol } from '../lib/protocol/client-protocol.js';
import { GatewayCommand, HEAD_LEN, QUERY_COMMANDS } from '../lib/protocol/gateway-command.js';
import { decodeBody, decodeGatewayPacket, encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { GatewayPacketReader } from '../lib/protocol/gateway-packet.reader.js';
import { LineReader } from '../lib/protocol/line.reader.js';
import { phpSerialize, phpUnserializeExact } from '../lib/protocol/php-serialize.js';
import { PhpArray, PhpFloat, type PhpExactValue } from '../lib/protocol/php-value.js';
import {
  broadcastAddressesLine,
  gatewayConnectLine,
  parseRegisterMessage,
  PING_LINE,
  readAddresses,
  workerConnectLine,
} from '../lib/protocol/register-message.js';
import {
  clientIdsByGroup,
  clientIdsByUid,
  clientIdsOfConnections,
  countsByGroup,
  groupIdUnion,
  selectedClientIds,
  selectedUids,
  sessionsByClientId,
  sumOfCounts,
  uidsByGroup,
  type ReplyMerger,
} from '../lib/service/query-reply.merge.js';
import { replySource } from '../lib/service/query-reply.reader.js';

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Splits `buf` at the given cut points (taken modulo its length). */
function chunked(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (buf.length ? c % (buf.length + 1) : 0)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

type Mutation = { kind: 'flip' | 'set' | 'cut' | 'insert' | 'drop'; at: number; value: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'insert', 'drop'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

/** Applies byte-level mutations: bit flips, replaced, inserted and dropped bytes, truncation. */
function mutate(buf: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << (m.value % 8));
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
  }
  return b;
}

const bytesArb = (maxLength = 200) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const COMMANDS = Object.values(GatewayCommand) as number[];

/** A GatewayProtocol packet with arbitrary fields, ext and body. */
const packetArb = fc
  .record({
    cmd: fc.oneof(fc.constantFrom(...COMMANDS), fc.integer({ min: 0, max: 255 })),
    localIp: fc.nat({ max: 0xffffffff }),
    localPort: fc.nat({ max: 0xffff }),
    connectionId: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.nat({ max: 0xffffffff })),
    flag: fc.integer({ min: 0, max: 255 }),
    extData: bytesArb(60),
    body: bytesArb(60),
  })
  .map((p) => encodeGatewayPacket(p));

/** Runs `fn`; returns the thrown error, or null. */
function thrown(fn: () => void): unknown {
  try {
    fn();
    return null;
  } catch (err) {
    return err;
  }
}

// ---------------------------------------------------------------------------------------------
// GatewayProtocol framing (§2.4)
// ---------------------------------------------------------------------------------------------

describe('GatewayPacketReader (§2.4) under fuzzing', () => {
  /** Feeds chunks; every packet must decode; the only error allowed is GatewayProtocolError. */
  function feed(chunks: Buffer[], max = 4096): { packets: Buffer[]; error: unknown } {
    const reader = new GatewayPacketReader(max);
    const packets: Buffer[] = [];
    const error = thrown(() => {
      for (const c of chunks) {
        reader.push(c, (p) => {
          expect(p.length).toBeGreaterThanOrEqual(HEAD_LEN);
          expect(p.length).toBeLessThanOrEqual(max);
          expect(p.readUInt32BE(0)).toBe(p.length);
          const decoded = decodeGatewayPacket(p);
          expect(decoded.extData.length + decoded.body.length).toBe(p.length - HEAD_LEN);
          decodeBody(decoded);
          packets.push(Buffer.from(p));
        }, (big) => {
          // Over the limit: reported with its declared length, then skipped.
          expect(big.length).toBeGreaterThan(max);
        });
      }
    });
    if (error !== null) expect(error).toBeInstanceOf(GatewayProtocolError);
    return { packets, error };
  }

  it('valid packet streams come out exactly, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(packetArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (packets, cuts) => {
        const { packets: out, error } = feed(chunked(Buffer.concat(packets), cuts));
        expect(error).toBeNull();
        expect(out.map((p) => p.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
      }),
      RUNS,
    );
  });

  it('random bytes are decoded or rejected with GatewayProtocolError', () => {
    fc.assert(
      fc.property(bytesArb(400), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        feed(chunked(bytes, cuts));
      }),
      RUNS,
    );
  });

  it('mutated packet streams are decoded or rejected with GatewayProtocolError', () => {
    fc.assert(
      fc.property(
        fc.array(packetArb, { minLength: 1, maxLength: 5 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (packets, mutations, cuts) => {
          feed(chunked(mutate(Buffer.concat(packets), mutations), cuts));
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Register lines (§4)
// ---------------------------------------------------------------------------------------------

describe('LineReader and Register messages (§4) under fuzzing', () => {
  const LINES = [
    gatewayConnectLine('127.0.0.1:2900', 's3cr3t'),
    workerConnectLine('s3cr3t'),
    PING_LINE,
    broadcastAddressesLine(['127.0.0.1:2900', '127.0.0.1:2901']),
    Buffer.from('{"event":"broadcast_addresses","addresses":{"0":"127.0.0.1:2900","2":"10.0.0.2:2900"}}\n'),
  ];

  /** Reads lines, parses each; the only error allowed is GatewayProtocolError (line too long). */
  function readAll(chunks: Buffer[], max = 256): Buffer[] {
    const reader = new LineReader(max);
    const lines: Buffer[] = [];
    const error = thrown(() => {
      for (const c of chunks) {
        reader.push(c, (line) => {
          expect(line.includes(0x0a)).toBe(false);
          lines.push(Buffer.from(line));
          const msg = parseRegisterMessage(line);
          if (msg !== null) {
            expect(typeof msg.event).toBe('string');
            expect(msg.event).not.toBe('');
            const list = readAddresses(msg.addresses);
            if (list !== null) for (const a of list) expect(typeof a).toBe('string');
          }
        });
      }
    });
    if (error !== null) expect(error).toBeInstanceOf(GatewayProtocolError);
    return lines;
  }

  it('valid lines come out exactly and parse, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...LINES), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const out = readAll(chunked(Buffer.concat(lines), cuts));
        expect(out.map(String)).toEqual(lines.map((l) => l.toString().replace(/\n$/, '')));
        for (const l of out) expect(parseRegisterMessage(l)).not.toBeNull();
      }),
      RUNS,
    );
  });

  it('random and mutated lines are parsed or refused (null), never thrown', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          bytesArb(300),
          fc.tuple(fc.array(fc.constantFrom(...LINES), { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 })).map(([l, m]) =>
            mutate(Buffer.concat(l), m),
          ),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) + '\n')),
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, cuts) => {
          readAll(chunked(bytes, cuts));
          expect(() => parseRegisterMessage(bytes)).not.toThrow();
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Client framings (§8.1, §8.2)
// ---------------------------------------------------------------------------------------------

describe('Text and Frame decoders (§8) under fuzzing', () => {
  function decode(protocol: typeof TextProtocol, chunks: Buffer[], max: number): { messages: string[]; error: unknown } {
    const dec = protocol.createDecoder(max);
    const messages: string[] = [];
    const error = thrown(() => {
      for (const c of chunks) dec.push(c, (m) => messages.push(Buffer.from(m).toString('hex')));
    });
    if (error !== null) expect(error).toBeInstanceOf(GatewayProtocolError);
    return { messages, error };
  }
  const messageArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));

  it('frame://: encoded messages come out exactly, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.flatMap((m) => [FrameProtocol.encode(m)].flat()));
        const { messages: out, error } = decode(FrameProtocol, chunked(wire, cuts), 1024);
        expect(error).toBeNull();
        expect(out).toEqual(messages.map((m) => m.toString('hex')));
      }),
      RUNS,
    );
  });

  it('text://: lines without newlines come out exactly, whatever the chunking', () => {
    const lineArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a && b !== 0x0d)));
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const wire = Buffer.concat(lines.flatMap((l) => [TextProtocol.encode(l)].flat()));
        const { messages: out, error } = decode(TextProtocol, chunked(wire, cuts), 1024);
        expect(error).toBeNull();
        expect(out).toEqual(lines.map((m) => m.toString('hex')));
      }),
      RUNS,
    );
  });

  it('random and mutated input is decoded or rejected with GatewayProtocolError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(TextProtocol, FrameProtocol),
        fc.oneof(
          bytesArb(400),
          fc.tuple(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.array(mutationArb, { maxLength: 6 })).map(([ms, muts]) =>
            mutate(Buffer.concat(ms.flatMap((m) => [FrameProtocol.encode(m)].flat())), muts),
          ),
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (protocol, bytes, cuts) => {
          decode(protocol, chunked(bytes, cuts), 64);
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The gateway's command handler (§5.7, §10)
// ---------------------------------------------------------------------------------------------


/** ext_data a command plausibly carries: JSON of any shape, uids/groups, sessions, or garbage. */
const extArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  fc
    .record({
      fields: fc.array(fc.constantFrom('uid', 'groups', 'session', 'other', 1), { maxLength: 4 }),
      where: fc.oneof(
        fc.constant([]),
        fc.record({ groups: fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer())) }, { requiredKeys: [] }),
        fc.record({ uid: fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.double())) }, { requiredKeys: [] }),
        fc.record({ connection_id: fc.dictionary(fc.string({ maxLength: 2 }), fc.oneof(fc.integer({ min: 0, max: 5 }), fc.jsonValue())) }),
        fc.jsonValue(),
      ),
    })
    .map((q) => Buffer.from(JSON.stringify(q))),
  fc.record({ group: fc.jsonValue(), exclude: fc.jsonValue(), connections: fc.jsonValue() }, { requiredKeys: [] }).map((q) => Buffer.from(JSON.stringify(q))),
  fc.constantFrom('', '0', 'g1', '123', 'u1', '__proto__', '-0', '9223372036854775808').map((s) => Buffer.from(s)),
  fc.constantFrom('a:1:{s:1:"a";i:1;}', 'a:1:{s:1:"l";a:1:{i:0;i:9;}}', 'N;', 'i:5;', 'a:1:{s:1:"a";O:8:"stdClass":0:{}}', 'a:2:{i:0;R:1;}').map((s) => Buffer.from(s)),
  bytesArb(40),
);

// Mostly known commands on existing clients, so that commands build on each other's state.
const commandArb = fc
  .record({
    cmd: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...COMMANDS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    connectionId: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 4) }),
    flag: fc.constantFrom(0, 1, 2, 3, 0xff),
    extData: extArb,
    body: fc.oneof(bytesArb(20), fc.constantFrom('N;', 'b:0;', 's:2:"hi";', 'a:1:{i:0;s:1:"x";}', 'i:1;').map((s) => Buffer.from(s))),
  })
  .map((p) => ({ cmd: p.cmd, raw: encodeGatewayPacket(p) }));

describe('the gateway command table (§5.7) under fuzzing', () => {
  it('no command sequence makes it throw; every query gets exactly one well-formed reply', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 40 }), (commands) => {
        const tables = new GatewayTables();
        const clientSockets = [1, 2, 3].map(() => fakeSocket());
        for (const [i, s] of clientSockets.entries()) {
          tables.add(new ClientConnection(tables.allocateId(), s, i === 2 ? 'frame' : 'text', 0x7f000001, 50000 + i, 8282, { limit: 1 << 20, sent: () => undefined, full: () => undefined }));
        }
        const log: string[] = [];
        const logger = { warn: (m: string) => log.push(m), log: () => undefined, error: (m: string) => log.push(m) } as unknown as Logger;
        const table = new Map<number, InnerCommand>([...new ClientCommands(tables, logger).commands(), ...new QueryCommands(tables, new GatewayCounters(), logger, 1 << 20).commands()]);
        const socket = fakeSocket();
        const conn = new InnerConnection(socket, 1 << 20, '');
        const queries: number[] = [];
        for (const { cmd, raw } of commands) {
          table.get(cmd)?.handle(conn, decodeGatewayPacket(raw));
          if (QUERY_COMMANDS.has(cmd)) queries.push(cmd);
        }
        // The replies: uint32 length + PHP serialize, one per query, in order, each readable —
        // except GET_SESSION's, which is the stored session verbatim (SET_SESSION stores any bytes,
        // as PHP does: sessions are opaque to the gateway).
        const wire = Buffer.concat(socket.written);
        let offset = 0;
        let replies = 0;
        while (offset < wire.length) {
          const len = wire.readUInt32BE(offset);
          const body = wire.subarray(offset + 4, offset + 4 + len);
          expect(body.length).toBe(len);
          if (queries[replies] !== GatewayCommand.GET_SESSION_BY_CLIENT_ID) expect(() => phpUnserializeExact(body)).not.toThrow();
          offset += 4 + len;
          replies++;
        }
        expect(replies).toBe(queries.length);
        // Whatever happened to the sessions, each is still readable or was left as it was set.
        for (const c of tables.clients.values()) expect(c.session).toBeInstanceOf(Buffer);
      }),
      { numRuns: 400 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Query replies (§2.9) as GatewayService reads them
// ---------------------------------------------------------------------------------------------

/** Any PHP value, nested: what a broken or hostile "gateway" could answer. */
const phpValueArb: fc.Arbitrary<PhpExactValue> = fc.letrec<{ value: PhpExactValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.nat({ max: 0xffffffff + 10 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.double().map((d) => new PhpFloat(d)),
    fc.string({ maxLength: 8 }),
    fc.constantFrom('uid', 'groups', 'session', '0', '', '__proto__', 'a:1:{s:1:"a";i:1;}'),
    fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)),
    fc
      .array(fc.tuple(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom('uid', 'groups', 'session', 'g1', '123', '__proto__'), fc.string({ maxLength: 4 })), tie('value')), {
        maxLength: 5,
      })
      .map((entries) => PhpArray.from(entries)),
  ),
})).value;

describe('query reply readers under fuzzing', () => {
  const mergers: [string, ReplyMerger<any, unknown>][] = [
    ['sumOfCounts', sumOfCounts],
    ['clientIdsOfConnections', clientIdsOfConnections],
    ['clientIdsByUid', clientIdsByUid(['u1', '42', '__proto__'])],
    ['countsByGroup', countsByGroup(['g1', '123', 'constructor'])],
    ['sessionsByClientId', sessionsByClientId],
    ['groupIdUnion', groupIdUnion],
    ['selectedClientIds', selectedClientIds],
    ['selectedUids', selectedUids],
    ['uidsByGroup', uidsByGroup],
    ['clientIdsByGroup', clientIdsByGroup],
  ];

  it('no reply value makes a merger throw, and client_ids in the results are well-formed', () => {
    fc.assert(
      fc.property(fc.array(phpValueArb, { minLength: 1, maxLength: 3 }), (replies) => {
        for (const [, merger] of mergers) {
          let acc = merger.initial();
          for (const [i, reply] of replies.entries()) acc = merger.merge(acc, reply, replySource(`127.0.0.${i + 1}:2900`));
          const result = merger.finish(acc);
          const text = JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
          for (const m of text.match(/[0-9a-f]{20}/g) ?? []) expect(m.slice(0, 6)).toBe('7f0000');
          // Results are plain data: nothing leaked into a prototype.
          expect(Object.getPrototypeOf({}).polluted).toBeUndefined();
        }
      }),
      RUNS,
    );
  });

  it('mutated reply bytes are decoded or rejected with PhpUnserializeError', () => {
    const captured = [
      'a:1:{i:1;a:3:{s:3:"uid";s:2:"u1";s:6:"groups";a:2:{s:2:"g1";s:2:"g1";i:123;s:3:"123";}s:7:"session";s:68:"a:3:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"b";b:1;}";}}',
      'a:2:{i:0;s:2:"g1";i:1;i:123;}',
      'a:3:{s:2:"g1";i:1;i:123;i:1;s:4:"none";i:0;}',
      'a:2:{i:1;s:20:"a:1:{s:3:"uid";i:5;}";i:2;s:0:"";}',
    ].map((s) => Buffer.from(s));
    fc.assert(
      fc.property(fc.constantFrom(...captured), fc.array(mutationArb, { minLength: 1, maxLength: 5 }), (bytes, mutations) => {
        const input = mutate(bytes, mutations);
        const error = thrown(() => {
          const value = phpUnserializeExact(input);
          // Whatever decodes re-serializes, and the merge readers take it.
          phpSerialize(value);
          selectedUids.merge(selectedUids.initial(), value, replySource('127.0.0.1:2900'));
        });
        if (error !== null) expect(error).toBeInstanceOf(PhpUnserializeError);
      }),
      RUNS,
    );
  });
});
