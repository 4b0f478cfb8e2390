import { BROADCAST, ECHO, payload } from '../app-protocol.js';
import { announceReady, serveRpc } from '../harness/agent.js';
import { nowUs } from '../harness/clock.js';
import { open } from './opener.js';
import { conns, received, resetReceived, takePushLatencies, waitBroadcasts, type Conn } from './receiver.js';

/**
 * A client driver process: opens many connections to one server and, on the harness's commands,
 * counts what each connection receives (every broadcast and uid push must arrive, in order),
 * drives echo loops, and sends broadcast bursts. Several run at once so the clients are not one
 * process's bottleneck.
 */

/** Closed-loop echo on the first `n` connections: send, wait for the reply, repeat. */
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
      const got = await new Promise<number>((resolve) => {
        conn.onEcho = (s) => resolve(s);
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
  reset: resetReceived,
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
  waitBroadcasts: ({ expect }: { expect: number }) => waitBroadcasts(expect),
  takePushLatencies,
});
announceReady();
