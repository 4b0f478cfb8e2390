import { groupOf, LOGIN, uidOf } from '../app-protocol.js';
import { nowUs } from '../harness/clock.js';
import { percentile } from '../harness/stats.js';
import { openConnection, type BenchConnection, type ClientKind } from './connections.js';
import { conns, newConn, onClose, onMessage } from './receiver.js';

/** Per-connection limit on becoming usable. */
const OPEN_TIMEOUT = 20_000;

/** What `open` is asked to do. */
export interface OpenSpec {
  kind: ClientKind;
  port: number;
  count: number;
  /** Handshakes in flight at once. */
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
    const timer = setTimeout(() => done(new Error(`connection ${index} not open after ${OPEN_TIMEOUT / 1000} s`)), OPEN_TIMEOUT);
    const conn = newConn(null as unknown as BenchConnection);
    const up = () => {
      if (spec.login) {
        const n = spec.login.first + index;
        conn.c.send(`${LOGIN} ${uidOf(n)} ${groupOf(n, spec.login.groups)}`);
      }
      done();
    };
    conn.c = openConnection(spec.kind, spec.port, {
      open: () => {
        if (!spec.hello) return up();
        conn.onHello = () => {
          conn.onHello = null;
          up();
        };
      },
      message: (text) => onMessage(conn, text),
      error: (err) => done(err),
      close: () => {
        onClose(conn);
        done(new Error(`connection ${index} closed before it was up`));
      },
    });
    conns.push(conn);
  });
}

/**
 * Opens `spec.count` connections, at most `spec.concurrency` handshakes at a time, and reports
 * when the first started and the last was up, with the time each took (p50, p99).
 */
export async function open(spec: OpenSpec) {
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
