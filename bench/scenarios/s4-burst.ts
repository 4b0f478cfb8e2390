import { waitForServer, wsEndpoint, type ServerArm } from '../harness/arms.js';
import type { ClientPool } from '../harness/client-pool.js';
import { pairedRatios } from '../harness/stats.js';
import { alternate, withArm, type Scenario } from './scenario.js';

/** B1 (socket.io, `io.emit`) is measured for reference; the targets are against B0 and B0c. */
const ALL_ARMS = ['ours', 'B0', 'B0c', 'B1', 'oursR'] as const;
type Mode = 'burst' | 'single';

/**
 * Connection 0 sends `total` broadcasts (`perBurst` per write; it waits for its own copy of each
 * burst's last one), every connection must receive all of them in order. Returns server CPU per
 * delivery and the wall-clock rate.
 */
async function phase(arm: ServerArm, clients: ClientPool, receivers: number, total: number, perBurst: number) {
  await clients.all('reset');
  const cpu0 = await arm.cpuByProcess();
  const burst = await clients.first.call<{ startUs: number; endUs: number }>('burst', { total, perBurst }, 120_000);
  const done = await clients.all<{ atUs: number }>('waitBroadcasts', { expect: total }, 60_000);
  const cpu1 = await arm.cpuByProcess();
  const counts = await clients.counts();
  const deliveries = total * receivers;
  if (counts.b !== deliveries || counts.outOfOrder) {
    throw new Error(`${counts.b} of ${deliveries} broadcast deliveries arrived, ${counts.outOfOrder} out of order`);
  }
  const wallUs = Math.max(...done.map((d) => d.atUs)) - burst.startUs;
  const cpuUs = Object.fromEntries(Object.keys(cpu1).map((p) => [p, (cpu1[p]! - cpu0[p]!) / deliveries]));
  const totalUs = Object.values(cpuUs).reduce((a, b) => a + b, 0);
  return { perCpuS: 1e6 / totalUs, perWallS: deliveries / (wallUs / 1e6), cpuUs };
}

/**
 * S4, `sendToAll` bursts to 20 and 900 receivers. `burst` mode: 50 broadcasts arrive in one
 * chunk (what coalescing is for); `single` mode: one broadcast per round trip, so one per tick.
 * The target metric is deliveries per second of server CPU (all server processes).
 */
export const s4: Scenario = {
  id: 's4',
  title: 'S4 sendToAll bursts',
  async run(ctx) {
    const { receivers, deliveries, burst } = ctx.cfg;
    // oursR (with --resume): the receivers are resumable SDK clients (acks, kept messages).
    const ARMS = ctx.cfg.resume ? ALL_ARMS : ALL_ARMS.filter((a) => a !== 'oursR');
    const modes: Mode[] = ['burst', 'single'];
    const table = await alternate(ctx, 'S4', ARMS, (armName, run) =>
      withArm(ctx, `S4-${armName}-r${run + 1}`, armName, { hello: false }, ctx.cfg.clientProcs, async (arm, clients) => {
        const values: Record<string, number> = {};
        let connected = 0;
        for (const n of [...receivers].sort((a, b) => a - b)) {
          await clients.open({ ...wsEndpoint(arm), count: n - connected, concurrency: 50 });
          connected = n;
          await waitForServer(arm, n);
          for (const mode of modes) {
            const perBurst = mode === 'burst' ? burst : 1;
            const total = Math.max(perBurst, Math.round(deliveries / n / perBurst) * perBurst);
            // Warm-up, discarded: a tenth of the phase.
            await phase(arm, clients, n, Math.max(perBurst, Math.round(total / 10 / perBurst) * perBurst), perBurst);
            const m = await phase(arm, clients, n, total, perBurst);
            if (ctx.cfg.verbose) {
              const by = Object.entries(m.cpuUs).map(([p, us]) => `${p}=${us.toFixed(2)}`).join(' ');
              ctx.log(`S4 ${armName} ${n} receivers ${mode}: server CPU µs per delivery ${by}`);
            }
            values[`${mode}${n}cpu`] = m.perCpuS;
            values[`${mode}${n}wall`] = m.perWallS;
          }
        }
        return values;
      }),
    );
    const r = ctx.results;
    for (const n of receivers) {
      for (const mode of modes) {
        const what = `${n} receivers, ${mode === 'burst' ? `${burst} per chunk` : 'one per tick'}`;
        for (const arm of ARMS) {
          const label = arm === 'B1' ? 'B1 socket.io' : arm === 'oursR' ? 'oursR (resumable, SDK)' : arm;
          r.measure('S4', `deliveries per server CPU-second, ${what}`, 'msg/s', label, table.series(arm, `${mode}${n}cpu`));
          r.measure('S4', `deliveries/s wall, ${what}`, 'msg/s', label, table.series(arm, `${mode}${n}wall`));
        }
      }
    }
    if (ctx.cfg.resume) {
      for (const n of receivers) {
        for (const mode of modes) {
          r.measure('S4', `oursR / ours, deliveries per CPU-s, ${n} receivers, ${mode === 'burst' ? `${burst} per chunk` : 'one per tick'}`, '×', 'oursR', pairedRatios(table.series('oursR', `${mode}${n}cpu`), table.series('ours', `${mode}${n}cpu`)));
        }
      }
    }
    const top = Math.max(...receivers);
    r.ratioTarget('S4', `ours / B0, deliveries per CPU-s, ${top} receivers, bursts`, table.series('ours', `burst${top}cpu`), table.series('B0', `burst${top}cpu`), '>=', 5);
    r.ratioTarget('S4', `ours / B0c, deliveries per CPU-s, ${top} receivers, bursts`, table.series('ours', `burst${top}cpu`), table.series('B0c', `burst${top}cpu`), '>=', 0.8);
    for (const n of receivers) {
      r.ratioTarget('S4', `ours / B0, deliveries per CPU-s, ${n} receivers, one per tick`, table.series('ours', `single${n}cpu`), table.series('B0', `single${n}cpu`), '>=', 1);
    }
  },
};
