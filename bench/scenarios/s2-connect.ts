import { waitForServer, wsEndpoint } from '../harness/arms.js';
import { alternate, withArm, type Scenario } from './scenario.js';

/** Connections opened and closed first, so the measured ones meet a warm server. */
const WARMUP = 500;
/** B1 (socket.io) is measured for reference; the target is against B0. */
const ARMS = ['ours', 'B0', 'B1'] as const;

/**
 * S2, connect rate: N websocket clients connect, `connectConcurrency` handshakes in flight per
 * client process; a connection counts once the server's `Hello` (sent from `@OnConnect` for ours,
 * from the `connection` handler for B0) has arrived. Rate = N / (first connect → last Hello).
 */
export const s2: Scenario = {
  id: 's2',
  title: 'S2 connect rate',
  async run(ctx) {
    const n = ctx.cfg.connectClients;
    const table = await alternate(ctx, 'S2', ARMS, (armName, run) =>
      withArm(ctx, `S2-${armName}-r${run + 1}`, armName, { hello: true }, ctx.cfg.clientProcs, async (arm, clients) => {
        const spec = { ...wsEndpoint(arm), concurrency: ctx.cfg.connectConcurrency, hello: true };
        await clients.open({ ...spec, count: WARMUP });
        await waitForServer(arm, WARMUP);
        await clients.all('closeAll');
        await waitForServer(arm, 0);
        await clients.all('reset');
        const r = await clients.open({ ...spec, count: n });
        await waitForServer(arm, n);
        const counts = await clients.counts();
        if (counts.hello !== n) throw new Error(`${counts.hello} of ${n} Hellos arrived`);
        return { rate: n / ((r.endUs - r.startUs) / 1e6), p50: r.p50Us / 1000, p99: r.p99Us / 1000 };
      }),
    );
    const r = ctx.results;
    for (const arm of ARMS) {
      r.measure('S2', `connections/s to Hello, ${n} ws`, 'conn/s', arm === 'B1' ? 'B1 socket.io' : arm, table.series(arm, 'rate'));
      r.measure('S2', 'connect → Hello p99', 'ms', arm === 'B1' ? 'B1 socket.io' : arm, table.series(arm, 'p99'));
    }
    r.ratioTarget('S2', 'ours / B0, connections/s to Hello', table.series('ours', 'rate'), table.series('B0', 'rate'), '>=', 0.7);
  },
};
