import { BROADCAST, ECHO, groupOf, LOGIN, parsePayload, payload, uidOf } from '../app-protocol.js';
import { announceReady, serveRpc } from '../harness/agent.js';
import { nowUs } from '../harness/clock.js';
import { percentile } from '../harness/stats.js';
import { openConnection, type BenchConnection, type ClientKind } from './connections.js';

/**
 * A client driver process: opens many connections to one server and, on the harness's commands,
 * counts what each connection receives (every broadcast and uid push must arrive, in order),
 * drives echo loops, and sends broadcast bursts. Several run at once so the clients are not one
 * process's bottleneck.
 */

interface Conn {
  c: BenchConnection;
  /** Closed on the harness's command (not counted as an unexpected close). */
  closing: boolean;
  lastB: number;
  lastU: number;
  onHello: (() => void) | null;
  onEcho: ((seq: number, t: number) => void) | null;
  onBroadcast: ((seq: number) => void) | null;
}

const conns: Conn[] = [];
let received = { b: 0, u: 0, e: 0, hello: 0, other: 0, outOfOrder: 0, closed: 0, lastUs: 0 };
let pushLatencies: number[] = [];
let broadcastWait: { expect: number; remaining: number; resolve: (atUs: number) => void } | null = null;

function onMessage(conn: Conn, text: string): void {
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
      const { seq, t } = parsePayload(text);
      received.e++;
      conn.onEcho?.(seq, t);
      return;
    }
    case 72:
      received.hello++;
      conn.onHello?.();
      return;
    default:
      received.other++;
  }
}

interface OpenSpec {
  kind: ClientKind;
  port: number;
  count: number;
  concurrency: number;
  /** Wait for the server's Hello before a connection counts as open. */
  hello: boolean;
  /** Send `L <uid> <group>` once open; uids numbered from `first`. */
  login: { first: number; groups: number } | null;
}

function openOne(spec: OpenSpec, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`connection ${index} not open after 20 s`)), 20_000);
    const conn: Conn = { c: null as unknown as BenchConnection, closing: false, lastB: 0, lastU: 0, onHello: null, onEcho: null, onBroadcast: null };
    const up = () => {
      if (spec.login) {
        const n = spec.login.first + index;
        conn.c.send(`${LOGIN} ${uidOf(n)} ${groupOf(n, spec.login.groups)}`);
      }
      done();
    };
    conn.c = openConnection(spec.kind, spec.port, {
      open: () => {
        if (!spec.hello) up();
        else
          conn.onHello = () => {
            conn.onHello = null;
            up();
          };
      },
      message: (text) => onMessage(conn, text),
      error: (err) => done(err),
      close: () => {
        if (!conn.closing) received.closed++;
        done(new Error(`connection ${index} closed before it was up`));
      },
    });
    conns.push(conn);
  });
}

async function open(spec: OpenSpec) {
  const startUs = nowUs();
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError = '';
  const lane = async () => {
    while (next < spec.count) {
      const i = next++;
      const t0 = nowUs();
      try {
        await openOne(spec, i);
        latencies.push(nowUs() - t0);
      } catch (err) {
        failed++;
        firstError ||= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.count) }, lane));
  const endUs = nowUs();
  return { opened: latencies.length, failed, firstError, startUs, endUs, p50Us: percentile(latencies, 50), p99Us: percentile(latencies, 99) };
}

/** Closed-loop echo on the first `conns` connections: send, wait for the reply, repeat. */
async function echo({ conns: n, warmupMs, ms }: { conns: number; warmupMs: number; ms: number }) {
  const latencies: number[] = [];
  let count = 0;
  let all = 0;
  let wrong = 0;
  const warmEnd = nowUs() + warmupMs * 1000;
  const end = warmEnd + ms * 1000;
  const loop = async (conn: Conn) => {
    let seq = 0;
    for (;;) {
      const t0 = nowUs();
      if (t0 >= end) return;
      const expected = ++seq;
      const [got] = await new Promise<[number, number]>((resolve) => {
        conn.onEcho = (s, t) => resolve([s, t]);
        conn.c.send(`${ECHO} ${payload('e', expected, t0)}`);
      });
      if (got !== expected) wrong++;
      all++;
      if (t0 >= warmEnd) {
        count++;
        latencies.push(nowUs() - t0);
      }
    }
  };
  await Promise.all(conns.slice(0, n).map(loop));
  for (const c of conns) c.onEcho = null;
  return { count, all, wrong, latencies };
}

/**
 * Connection 0 sends `total` broadcasts, `perBurst` in one write, waiting after each burst until
 * it has received the burst's last message itself.
 */
async function burst({ total, perBurst }: { total: number; perBurst: number }) {
  const sender = conns[0]!;
  const startUs = nowUs();
  let seq = 0;
  while (seq < total) {
    const texts: string[] = [];
    for (let i = 0; i < perBurst && seq < total; i++) texts.push(`${BROADCAST} ${payload('b', ++seq, nowUs())}`);
    const last = seq;
    await new Promise<void>((resolve) => {
      sender.onBroadcast = (s) => s === last && resolve();
      sender.c.sendBurst(texts);
    });
  }
  sender.onBroadcast = null;
  return { startUs, endUs: nowUs(), sent: seq };
}

serveRpc({
  open,
  counts: () => ({ ...received, connections: conns.length }),
  reset() {
    received = { b: 0, u: 0, e: 0, hello: 0, other: 0, outOfOrder: 0, closed: received.closed, lastUs: 0 };
    pushLatencies = [];
    for (const c of conns) c.lastB = c.lastU = 0;
  },
  closeAll() {
    for (const c of conns) {
      c.closing = true;
      c.c.close();
    }
    conns.length = 0;
  },
  echo,
  burst,
  /** Connection 0 sends one broadcast `b <seq> <now>`; resolves with the send time. */
  sendBroadcast({ seq }: { seq: number }) {
    const t = nowUs();
    conns[0]!.c.send(`${BROADCAST} ${payload('b', seq, t)}`);
    return { sentUs: t };
  },
  /** Resolves (with the time) once every connection has received broadcast number `expect`. */
  waitBroadcasts({ expect }: { expect: number }) {
    const remaining = conns.filter((c) => c.lastB < expect).length;
    if (remaining === 0) return { atUs: nowUs() };
    return new Promise((resolve) => {
      broadcastWait = { expect, remaining, resolve: (atUs) => resolve({ atUs }) };
    });
  },
  /** The push latencies (µs) recorded since the last reset. */
  takePushLatencies() {
    const l = pushLatencies;
    pushLatencies = [];
    return l.map((x) => Math.round(x * 10) / 10);
  },
});
announceReady();
