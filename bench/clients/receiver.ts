import { parsePayload } from '../app-protocol.js';
import { nowUs } from '../harness/clock.js';
import type { BenchConnection } from './connections.js';

/** One client connection of this process, with what it has received so far. */
export interface Conn {
  c: BenchConnection;
  /** Closed on the harness's command (not counted as an unexpected close). */
  closing: boolean;
  /** Sequence number of the last broadcast (`b`) and uid push (`u`) received. */
  lastB: number;
  lastU: number;
  onHello: (() => void) | null;
  onEcho: ((seq: number, t: number) => void) | null;
  onBroadcast: ((seq: number) => void) | null;
}

/** A fresh connection record around `c`. */
export const newConn = (c: BenchConnection): Conn => ({ c, closing: false, lastB: 0, lastU: 0, onHello: null, onEcho: null, onBroadcast: null });

/** Every connection of this process. */
export const conns: Conn[] = [];

const zero = () => ({ b: 0, u: 0, e: 0, hello: 0, other: 0, outOfOrder: 0, closed: 0, lastUs: 0 });

/** What this process's connections received since the last reset (`closed` survives resets). */
export let received = zero();
let pushLatencies: number[] = [];
let broadcastWait: { expect: number; remaining: number; resolve: (atUs: number) => void } | null = null;

/** Counts one message of `conn`: checks its order, records push latency, wakes whoever waits for it. */
export function onMessage(conn: Conn, text: string): void {
  switch (text.charCodeAt(0)) {
    case 98: {
      // b <seq> <t>: a broadcast
      const { seq } = parsePayload(text);
      if (seq !== conn.lastB + 1) received.outOfOrder++;
      conn.lastB = seq;
      received.b++;
      conn.onBroadcast?.(seq);
      if (broadcastWait && seq === broadcastWait.expect && --broadcastWait.remaining === 0) {
        const w = broadcastWait;
        broadcastWait = null;
        w.resolve(nowUs());
      }
      return;
    }
    case 117: {
      // u <seq> <t>: a push to this connection's uid
      const { seq, t } = parsePayload(text);
      if (seq !== conn.lastU + 1) received.outOfOrder++;
      conn.lastU = seq;
      received.u++;
      const now = nowUs();
      received.lastUs = now;
      pushLatencies.push(now - t);
      return;
    }
    case 101: {
      // e <seq> <t>: an echo reply
      const { seq, t } = parsePayload(text);
      received.e++;
      conn.onEcho?.(seq, t);
      return;
    }
    case 72:
      // Hello <id>
      received.hello++;
      conn.onHello?.();
      return;
    default:
      received.other++;
  }
}

/** A connection closed: counted unless the harness closed it. */
export function onClose(conn: Conn): void {
  if (!conn.closing) received.closed++;
}

/** Zeroes the counters and every connection's sequence numbers (a new phase starts at seq 1). */
export function resetReceived(): void {
  received = { ...zero(), closed: received.closed };
  pushLatencies = [];
  for (const c of conns) c.lastB = c.lastU = 0;
}

/** Resolves (with the time) once every connection has received broadcast number `expect`. */
export function waitBroadcasts(expect: number): Promise<{ atUs: number }> {
  const remaining = conns.filter((c) => c.lastB < expect).length;
  if (remaining === 0) return Promise.resolve({ atUs: nowUs() });
  return new Promise((resolve) => {
    broadcastWait = { expect, remaining, resolve: (atUs) => resolve({ atUs }) };
  });
}

/** The push latencies (µs, 0.1 µs precision) recorded since the last call or reset. */
export function takePushLatencies(): number[] {
  const l = pushLatencies;
  pushLatencies = [];
  return l.map((x) => Math.round(x * 10) / 10);
}
