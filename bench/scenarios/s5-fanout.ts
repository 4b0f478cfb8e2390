import { waitForServer, wsEndpoint } from '../harness/arms.js';
import { median } from '../harness/stats.js';
import { sleep } from '../harness/timeout.js';
import { alternate, withArm, type Scenario } from './scenario.js';

/** B1 (socket.io, `io.emit`) is measured for reference; the target is against B0. */
const ARMS = ['ours', 'B0', 'B1'] as const;

/**
 * S5, one `sendToAll` to N websocket clients: from the moment connection 0 sends the broadcast
 * request to the moment the last client has it. Each run does one discarded broadcast, then
 * `fanouts` measured ones; the run's value is their median.
 */
export const s5: Scenario = {
  id: 's5',
  title: 'S5 one sendToAll to every client',
  async run(ctx) {
    const n = ctx.cfg.clients;
    const table = await alternate(ctx, 'S5', ARMS, (armName, run) =>
      withArm(ctx, `S5-${armName}-r${run + 1}`, armName, { hello: false }, ctx.cfg.clientProcs, async (arm, clients) => {
        await clients.open({ ...wsEndpoint(arm), count: n, concurrency: 100 }, 180_000);
        await waitForServer(arm, n, false, 120_000);
        const times: number[] = [];
        const cpu: number[] = [];
        for (let i = 0; i <= ctx.cfg.fanouts; i++) {
          await clients.all('reset');
          const cpu0 = await arm.cpuUs();
          const { sentUs } = await clients.first.call<{ sentUs: number }>('sendBroadcast', { seq: 1 });
          const done = await clients.all<{ atUs: number }>('waitBroadcasts', { expect: 1 }, 30_000);
          const cpu1 = await arm.cpuUs();
          const counts = await clients.counts();
          if (counts.b !== n) throw new Error(`${counts.b} of ${n} clients received the broadcast`);
          if (i > 0) {
            times.push((Math.max(...done.map((d) => d.atUs)) - sentUs) / 1000);
            cpu.push((cpu1 - cpu0) / 1000);
          }
          await sleep(200);
        }
        return { lastMs: median(times), cpuMs: median(cpu) };
      }),
    );
    const r = ctx.results;
    for (const arm of ARMS) {
      const label = arm === 'B1' ? 'B1 socket.io' : arm;
      r.measure('S5', `send → last receipt, ${n} ws`, 'ms', label, table.series(arm, 'lastMs'));
      r.measure('S5', `server CPU per broadcast, ${n} ws`, 'ms', label, table.series(arm, 'cpuMs'));
    }
    r.ratioTarget('S5', 'ours / B0, time to the last receipt', table.series('ours', 'lastMs'), table.series('B0', 'lastMs'), '<=', 1.25);
  },
};
