import { PROFILE_DIR, waitForServer } from '../harness/arms.js';
import { Child } from '../harness/child.js';
import type { ClientPool } from '../harness/client-pool.js';
import { percentile } from '../harness/stats.js';
import { waitUntil } from '../harness/timeout.js';
import { alternate, withArm, type Scenario } from './scenario.js';

const GROUPS = 100;
const FLAT_BATCH = 100;

/** Waits until the clients have received `sent` uid pushes, all in order. */
async function received(clients: ClientPool, sent: number): Promise<Record<string, number>> {
  let counts: Record<string, number> = {};
  await waitUntil(
    async () => (counts = await clients.counts()).u >= sent,
    30_000,
    `${sent} uid pushes to arrive`,
    () => `${counts.u} arrived`,
    20,
  );
  if (counts.u !== sent || counts.outOfOrder) throw new Error(`${counts.u} of ${sent} pushes arrived, ${counts.outOfOrder} out of order`);
  return counts;
}

/**
 * S6, pushes from an external app: N websocket clients each bound to a uid; a separate Nest app
 * (GatewayService as the GatewayClient) calls `sendToUid` on random uids, first at a steady rate
 * (latency from the call to the receipt), then flat out (rate until the last receipt).
 */
export const s6: Scenario = {
  id: 's6',
  title: 'S6 sendToUid from an external app',
  async run(ctx) {
    const { clients: n, pushRate, pushMs, flatPushes } = ctx.cfg;
    const table = await alternate(ctx, 'S6', ['ours'] as const, (armName, run) =>
      withArm(ctx, `S6-${armName}-r${run + 1}`, 'ours', { hello: false }, ctx.cfg.clientProcs, async (arm, clients) => {
        await clients.open({ kind: 'ws', port: arm.ports.ws!, count: n, concurrency: 100, login: { groups: GROUPS } }, 180_000);
        await waitForServer(arm, n, true, 120_000);
        const pusher = new Child('pusher', 'servers/ours/pusher.main.js', [], {
          env: { BENCH_GW_OPTIONS: JSON.stringify({ registerAddress: arm.registerAddress }) },
        });
        try {
          await pusher.ready();
          const seen = await pusher.call<number>('count');
          if (seen !== n) throw new Error(`the pusher sees ${seen} clients, not ${n}`);
          // Warm-up, discarded.
          await clients.all('reset');
          const warm = await pusher.call<{ sent: number }>('paced', { rate: pushRate, ms: 500, uids: n });
          await received(clients, warm.sent);

          await clients.all('reset');
          const paced = await pusher.call<{ sent: number }>('paced', { rate: pushRate, ms: pushMs, uids: n }, pushMs + 30_000);
          await received(clients, paced.sent);
          const latencies = (await clients.all<number[]>('takePushLatencies')).flat();

          await clients.all('reset');
          if (ctx.cfg.profile) await pusher.call('profileStart');
          const flat = await pusher.call<{ sent: number; startUs: number }>('flat', { count: flatPushes, batch: FLAT_BATCH, uids: n }, 120_000);
          const counts = await received(clients, flat.sent);
          if (ctx.cfg.profile) await pusher.call('profileStop', `${PROFILE_DIR}S6-r${run + 1}-pusher-flat.cpuprofile`);
          return {
            rate: paced.sent / (pushMs / 1000),
            p50: percentile(latencies, 50) / 1000,
            p99: percentile(latencies, 99) / 1000,
            max: percentile(latencies, 100) / 1000,
            flat: flat.sent / ((counts.lastUs! - flat.startUs) / 1e6),
          };
        } finally {
          await pusher.kill();
        }
      }),
    );
    const r = ctx.results;
    r.measure('S6', `paced push rate achieved`, 'push/s', 'ours', table.series('ours', 'rate'));
    r.measure('S6', `push → receipt p50 at ${pushRate}/s, ${n} ws`, 'ms', 'ours', table.series('ours', 'p50'));
    r.measure('S6', `push → receipt p99 at ${pushRate}/s, ${n} ws`, 'ms', 'ours', table.series('ours', 'p99'));
    r.measure('S6', `push → receipt max at ${pushRate}/s, ${n} ws`, 'ms', 'ours', table.series('ours', 'max'));
    r.measure('S6', `flat-out push rate, ${flatPushes} pushes`, 'push/s', 'ours', table.series('ours', 'flat'));
    r.valueTarget('S6', `push → receipt p99 at ${pushRate}/s`, table.series('ours', 'p99'), '<=', 2, 'ms');
  },
};
