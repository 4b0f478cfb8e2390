/**
 * The BusinessWorker's small parts on their own: serial queues, event deadlines, session tracking
 * and write-back, the handler runner's queue cap — so each can be changed without the e2e suite.
 */
import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientSession, decodeSession } from '../lib/business-worker/client-session.js';
import { EventDeadlines } from '../lib/business-worker/event-deadlines.js';
import { GatewayHandlerRegistry } from '../lib/business-worker/gateway-handler.registry.js';
import { HandlerRunner, type EventLink } from '../lib/business-worker/handler-runner.js';
import { SerialQueues } from '../lib/business-worker/serial-queues.js';
import { SessionTracker } from '../lib/business-worker/session-tracker.js';
import { SessionWriteBack } from '../lib/business-worker/session-write-back.js';
import { withoutBinaryFlag } from '../lib/client/binary-flag.js';
import type { GatewayTransport } from '../lib/client/gateway-transport.interface.js';
import { PacketTooLargeError } from '../lib/errors/packet-too-large.error.js';
import { GatewayService } from '../lib/gateway.service.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';
import { RateMeter } from '../lib/utils/rate-meter.js';
import { encodeClientId } from '../lib/protocol/client-id.js';
import { ExtensionCommand, FLAG_BINARY } from '../lib/protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { arrayReplaceRecursive, mergeSerializedSessions, replaceRecursive } from '../lib/protocol/php-array-merge.js';
import { phpSerialize, phpUnserializeExact } from '../lib/protocol/php-serialize.js';
import { PhpArray } from '../lib/protocol/php-value.js';

const tick = () => new Promise<void>((r) => setImmediate(r));
const bytes = (s: string) => Buffer.from(s);

describe('SerialQueues', () => {
  it('runs one key in order, even when items finish asynchronously, and different keys concurrently', async () => {
    const log: string[] = [];
    const pending = new Map<string, () => void>();
    const q = new SerialQueues<string>((item, done) => {
      log.push(`start ${item}`);
      if (item.endsWith('sync')) return done();
      pending.set(item, () => {
        log.push(`end ${item}`);
        done();
      });
    });
    q.push('a', 'a1');
    q.push('a', 'a2 sync');
    q.push('b', 'b1');
    q.push('a', 'a3');
    expect(log).toEqual(['start a1', 'start b1']);
    expect(q.active).toBe(2);
    pending.get('a1')!();
    // a2 finished inline, a3 started in the same turn.
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start a2 sync', 'start a3']);
    pending.get('b1')!();
    const idle = q.idle();
    let isIdle = false;
    void idle.then(() => (isIdle = true));
    await tick();
    expect(isIdle).toBe(false);
    pending.get('a3')!();
    await tick();
    expect(isIdle).toBe(true);
    expect(q.active).toBe(0);
  });

  it('a run that throws counts as done; a second done() is ignored', () => {
    const seen: number[] = [];
    const q = new SerialQueues<number>((n, done) => {
      seen.push(n);
      if (n === 1) throw new Error('boom');
      done();
      done();
    });
    q.push('k', 1);
    q.push('k', 2);
    q.push('k', 3);
    expect(seen).toEqual([1, 2, 3]);
    expect(q.active).toBe(0);
  });

  it('10,000 synchronous items queued behind a slow one run in one loop, without growing the stack', () => {
    let n = 0;
    let release!: () => void;
    const q = new SerialQueues<number>((i, done) => {
      if (i === 0) release = done;
      else {
        n++;
        done();
      }
    });
    q.push('k', 0);
    for (let i = 1; i <= 10_000; i++) q.push('k', i);
    expect(n).toBe(0);
    release();
    expect(n).toBe(10_000);
    expect(q.active).toBe(0);
  });
});

describe('EventDeadlines', () => {
  afterEach(() => vi.useRealTimers());

  it('expires what has not settled in time, once, in order; settled events never expire; the sweep stops when idle', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const d = new EventDeadlines(400);
    const expired: string[] = [];
    const a = d.track(() => expired.push('a'));
    d.track(() => expired.push('b'));
    d.settle(a);
    vi.advanceTimersByTime(200);
    d.track(() => expired.push('c'));
    vi.advanceTimersByTime(240); // b's deadline (400) passed; c's (600) not
    expect(expired).toEqual(['b']);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(['b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('session tracking and write-back', () => {
  const v1 = phpSerialize({ n: 1 });
  const v2 = phpSerialize({ n: 2 });
  const v3 = phpSerialize({ n: 3 });

  it('SessionTracker: an event carrying a version this worker replaced sees the written one, until the gateway confirms', () => {
    const t = new SessionTracker();
    t.written('c', v1, v2);
    expect(t.resolve('c', v1)).toBe(v2); // sent before the write reached the gateway
    expect(t.size).toBe(1);
    expect(t.resolve('c', v2).equals(v2)).toBe(true); // the gateway has it: forgotten
    expect(t.size).toBe(0);
    t.written('c', v1, v2);
    expect(t.resolve('c', v3)).toBe(v3); // someone else wrote: taken as it is
    expect(t.size).toBe(0);
  });

  it('ClientSession: decodes lazily, writes back only a real change, and in PHP canonical form', () => {
    const tracker = new SessionTracker();
    const untouched = new ClientSession('c', v1, tracker);
    expect(untouched.pendingWrite()).toBeNull();
    const same = new ClientSession('c', v1, tracker);
    same.get().n = 1;
    expect(same.pendingWrite()).toBeNull();
    // PHP wrote 2.0 as d:2; the same content in our canonical form is not a change.
    const phpBytes = bytes('a:1:{s:1:"n";d:2;}');
    const php = new ClientSession('c', phpBytes, tracker);
    expect(php.get()).toEqual({ n: 2 });
    expect(php.pendingWrite()).toBeNull();
    const changed = new ClientSession('c', v1, tracker);
    changed.get().n = 2;
    expect(changed.pendingWrite()!.equals(v2)).toBe(true);
  });

  it('ClientSession: setSession/updateSession through GatewayService are what the gateway holds; the write-back compares with them', () => {
    const tracker = new SessionTracker();
    const s = new ClientSession('c', phpSerialize({ a: { x: 1, y: [1, 2] }, b: 1 }), tracker);
    s.merged({ a: { y: [9] }, c: 'new' });
    expect(s.get()).toEqual({ a: { x: 1, y: [9, 2] }, b: 1, c: 'new' });
    // Nothing left to write: the gateway merged the same update.
    expect(s.pendingWrite()).toBeNull();
    expect(tracker.size).toBe(1);
    s.replaced({ z: 1 }, phpSerialize({ z: 1 }));
    expect(s.pendingWrite()).toBeNull();
    s.get().z = 2;
    expect(s.pendingWrite()!.equals(phpSerialize({ z: 2 }))).toBe(true);
  });

  it('SessionWriteBack: sends CMD_SET_SESSION for a change, remembers it for the next event, forgets on close', () => {
    const wb = new SessionWriteBack(new Logger('test'));
    const sent: Buffer[] = [];
    const sink = { write: (p: Buffer) => (sent.push(p), true) };
    const s = wb.open('c', v1, false);
    s.get().n = 2;
    wb.writeBack(s, 7, sink);
    expect(sent).toHaveLength(1);
    const p = decodeGatewayPacket(sent[0]!);
    expect([p.cmd, p.connectionId, p.extData.equals(v2)]).toEqual([GatewayCommand.SET_SESSION, 7, true]);
    expect(wb.unconfirmed).toBe(1);
    // The next event left the gateway before the write: it sees the written session.
    expect(wb.open('c', v1, false).get()).toEqual({ n: 2 });
    wb.open('c', v2, true);
    expect(wb.unconfirmed).toBe(0);
  });

  it('SessionWriteBack: a session PHP cannot represent is logged, not sent', () => {
    const errors: string[] = [];
    const logger = { error: (m: string) => errors.push(m) } as unknown as Logger;
    const wb = new SessionWriteBack(logger);
    const s = wb.open('c', v1, false);
    s.get().f = () => 1;
    const sent: Buffer[] = [];
    wb.writeBack(s, 1, { write: (p) => (sent.push(p), true) });
    expect(sent).toEqual([]);
    expect(errors[0]).toContain('Session of client c was not written back');
  });

  it('decodeSession: lists become objects, garbage and non-arrays read as {}', () => {
    expect(decodeSession(bytes('a:0:{}'))).toEqual({});
    expect(decodeSession(bytes('a:2:{i:0;s:1:"x";i:1;s:1:"y";}'))).toEqual({ 0: 'x', 1: 'y' });
    expect(decodeSession(bytes('i:5;'))).toEqual({});
    expect(decodeSession(bytes('a:1:{'))).toEqual({});
  });
});

describe('one array_replace_recursive', () => {
  it('the live session (plain objects, in place) and the gateway (exact model) merge alike', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ a: 1, b: { c: [1, 2, 3], d: 'x' } }, { b: { c: [9], e: true }, f: null }],
      // (A JS list cannot have holes: an update past its end must continue it.)
      [{ list: ['a', 'b'] }, { list: { 1: 'B', 2: 'C' } }],
      [{ a: { deep: { deeper: 1 } } }, { a: 'scalar' }],
      [{ a: 'scalar' }, { a: { now: 'array' } }],
      [{ 7: 'int key', s: 1 }, { 7: 'replaced', 8: 'new' }],
    ];
    for (const [base, update] of cases) {
      const live = structuredClone(base);
      const returned = replaceRecursive(live, structuredClone(update));
      expect(returned).toBe(live); // in place
      const gateway = mergeSerializedSessions(phpSerialize(base), phpSerialize(update));
      // Same content (a JS object enumerates integer keys first, so bytes may differ in order only).
      expect(live).toEqual(decodeSession(gateway));
    }
  });

  it('arrayReplaceRecursive copies and leaves its inputs untouched', () => {
    const base = phpUnserializeExact(phpSerialize({ a: { b: 1 } })) as PhpArray;
    const update = phpUnserializeExact(phpSerialize({ a: { c: 2 } })) as PhpArray;
    const before = phpSerialize(base).toString();
    const merged = arrayReplaceRecursive(base, update);
    expect(phpSerialize(base).toString()).toBe(before);
    expect(phpSerialize(merged).toString()).toBe(phpSerialize({ a: { b: 1, c: 2 } }).toString());
    expect(arrayReplaceRecursive(base)).not.toBe(base);
  });
});

/** A link that records what the runner writes on it. */
function recordingLink(speaksExtensions = true): EventLink & { packets: Buffer[] } {
  const packets: Buffer[] = [];
  return {
    packets,
    speaksExtensions,
    write: (p) => (packets.push(p), true),
    control: (p) => (packets.push(p), true),
    listener: () => undefined,
  };
}

function messageEvent(connectionId: number, body: string | Buffer, flag = FLAG_BODY_IS_SCALAR): Buffer {
  return encodeGatewayPacket({
    cmd: GatewayCommand.ON_MESSAGE,
    localIp: 0x7f000001,
    localPort: 2900,
    connectionId,
    flag,
    body: typeof body === 'string' ? Buffer.from(body) : body,
  });
}

function runnerWith(onMessage: (message: unknown) => unknown, maxQueuedEvents = 10_000) {
  const registry = new GatewayHandlerRegistry();
  registry.register('message', { name: 'onMessage', call: (message) => onMessage(message) });
  const reading: string[] = [];
  const counters = { eventsIn: 0, eventsHandled: 0, eventTimeouts: 0, readPauses: 0 };
  const warnings: string[] = [];
  const logger = { warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m), log: () => undefined } as unknown as Logger;
  const requests = new RateMeter();
  requests.stop();
  const runner = new HandlerRunner({
    registry,
    sessions: new SessionWriteBack(logger),
    source: { pauseReading: () => reading.push('pause'), resumeReading: () => reading.push('resume') },
    logger,
    eventTimeout: 0,
    maxQueuedEvents,
    workerKey: 'W:0',
    counters,
    requests,
  });
  return { runner, reading, counters, warnings };
}

describe('HandlerRunner', () => {
  it('confirms each event with EVENTS_HANDLED naming its client, after the event’s own commands', async () => {
    const link = recordingLink();
    const { runner } = runnerWith(async () => {
      await tick();
      link.write(Buffer.from('reply'));
    });
    runner.push(messageEvent(5, 'a'), link);
    runner.push(messageEvent(9, 'b'), link);
    await runner.idle();
    const kinds = link.packets.map((p) => (p.toString() === 'reply' ? 'reply' : `${p[4]}:${decodeGatewayPacket(p).connectionId}`));
    expect(kinds).toEqual(['reply', `${ExtensionCommand.EVENTS_HANDLED}:5`, 'reply', `${ExtensionCommand.EVENTS_HANDLED}:9`]);
  });

  it('sends no confirmation to a gateway that does not speak the extensions (PHP)', async () => {
    const link = recordingLink(false);
    const { runner } = runnerWith(() => undefined);
    runner.push(messageEvent(5, 'a'), link);
    await runner.idle();
    expect(link.packets).toEqual([]);
  });

  it('gives handlers a Buffer for a binary frame (FLAG_BINARY from a TypeScript gateway), a string otherwise', async () => {
    const seen: unknown[] = [];
    const { runner } = runnerWith((m) => void seen.push(m));
    const binary = Buffer.from([0, 255, 1]);
    runner.push(messageEvent(1, binary, FLAG_BODY_IS_SCALAR | FLAG_BINARY), recordingLink(true));
    runner.push(messageEvent(1, 'text'), recordingLink(true));
    // A PHP gateway never means FLAG_BINARY.
    runner.push(messageEvent(2, 'php', FLAG_BODY_IS_SCALAR | FLAG_BINARY), recordingLink(false));
    await runner.idle();
    expect(Buffer.isBuffer(seen[0]) && (seen[0] as Buffer).equals(binary)).toBe(true);
    expect(seen.slice(1)).toEqual(['text', 'php']);
  });

  it('stops reading at maxQueuedEvents and reads again at half; counts and logs it once per interval', async () => {
    const releases: (() => void)[] = [];
    const { runner, reading, counters, warnings } = runnerWith(() => new Promise<void>((r) => releases.push(r)), 10);
    const link = recordingLink();
    // Ten clients, one event each: all start, none finishes.
    for (let i = 1; i <= 10; i++) runner.push(messageEvent(i, 'x'), link);
    expect(reading).toEqual(['pause']);
    expect(runner.readingPaused).toBe(true);
    expect(counters.readPauses).toBe(1);
    expect(warnings.filter((w) => w.includes('maxQueuedEvents'))).toHaveLength(1);
    for (let i = 0; i < 4; i++) releases[i]!();
    await tick();
    expect(runner.queuedEvents).toBe(6);
    expect(reading).toEqual(['pause']);
    releases[4]!();
    await tick();
    expect(runner.queuedEvents).toBe(5);
    expect(reading).toEqual(['pause', 'resume']);
    for (let i = 11; i <= 15; i++) runner.push(messageEvent(i, 'x'), link);
    expect(reading).toEqual(['pause', 'resume', 'pause']);
    expect(counters.readPauses).toBe(2);
    // Rate-limited: the second pause within the interval is counted, not logged.
    expect(warnings.filter((w) => w.includes('maxQueuedEvents'))).toHaveLength(1);
    // A draining worker must read everything still in its links.
    runner.uncap();
    expect(reading).toEqual(['pause', 'resume', 'pause', 'resume']);
    for (const r of releases) r();
    await runner.idle();
    expect(runner.queuedEvents).toBe(0);
    expect(counters.eventsHandled).toBe(15);
    expect(encodeClientId(0x7f000001, 2900, 1)).toHaveLength(20);
  });
});

describe('GatewayService packets', () => {
  /** A transport that records what would be written. */
  function recording(): GatewayTransport & { written: Buffer[] } {
    const written: Buffer[] = [];
    return {
      written,
      send: (_a, p) => (written.push(p), true),
      sendAll: (p) => {
        for (const a of ['127.0.0.1:2900', '127.0.0.2:2900']) {
          const packet = typeof p === 'function' ? p(a) : p;
          if (packet) written.push(packet);
        }
        return 2;
      },
      addresses: () => ['127.0.0.1:2900', '127.0.0.2:2900'],
      query: () => Promise.reject(new Error('no queries here')),
    };
  }
  const id = (ip: number, n: number) => encodeClientId(ip, 2900, n);

  it('a packet over innerMaxPackageSize rejects with PacketTooLargeError before anything is written (GatewayClient role too)', async () => {
    const t = recording();
    const service = new GatewayService(resolveGatewayWorkerOptions({ maxPackageSize: 100, innerMaxPackageSize: 200 }), t);
    const big = 'x'.repeat(300);
    for (const call of [
      () => service.sendToClient(id(0x7f000001, 1), big),
      () => service.sendToAll(big),
      () => service.sendToUid('u', big),
      () => service.sendToGroup('g', big, [id(0x7f000001, 1)]),
      () => service.setSession(id(0x7f000001, 1), { big }),
      () => service.updateSession(id(0x7f000001, 1), { big }),
    ]) {
      const err = await call().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(PacketTooLargeError);
      expect((err as PacketTooLargeError).limit).toBe(200);
      expect((err as Error).message).toMatch(/-byte packet, over the 200-byte limit of the internal links \(innerMaxPackageSize\); nothing was sent\. Send smaller messages/);
    }
    // A list spanning two gateways whose second packet is too big: the first is not sent either.
    const many = Array.from({ length: 40 }, (_, i) => id(0x7f000002, i + 1));
    const err = await service.sendToAll('hi', [id(0x7f000001, 1), ...many]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(PacketTooLargeError);
    expect(t.written).toEqual([]);
    expect(await service.sendToAll('x'.repeat(100))).toBe(true);
    expect(t.written).toHaveLength(2);
  });

  it('Buffers are sent with FLAG_BINARY, strings and raw sends without; withoutBinaryFlag copies only flagged packets', async () => {
    const t = recording();
    const service = new GatewayService(resolveGatewayWorkerOptions({}), t);
    await service.sendToClient(id(0x7f000001, 1), Buffer.from([1, 2]));
    await service.sendToClient(id(0x7f000001, 1), new Uint8Array([1, 2]));
    await service.sendToClient(id(0x7f000001, 1), 'text');
    await service.sendToClient(id(0x7f000001, 1), Buffer.from([1, 2]), true);
    expect(t.written.map((p) => (decodeGatewayPacket(p).flag & FLAG_BINARY) !== 0)).toEqual([true, true, false, false]);
    const flagged = t.written[0]!;
    const cleared = withoutBinaryFlag(flagged);
    expect(cleared).not.toBe(flagged);
    expect(decodeGatewayPacket(cleared).flag).toBe(FLAG_BODY_IS_SCALAR);
    expect((decodeGatewayPacket(flagged).flag & FLAG_BINARY) !== 0).toBe(true);
    expect(withoutBinaryFlag(t.written[2]!)).toBe(t.written[2]);
  });
});
