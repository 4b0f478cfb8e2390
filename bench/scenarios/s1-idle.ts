import type { ArmName } from '../harness/arms.js';
import { waitForServer } from '../harness/arms.js';
import type { ClientKind } from '../clients/connections.js';
import type { ProcessUsage } from '../harness/ipc.js';
import { sleep } from '../harness/timeout.js';
import { alternate, withArm, type Scenario } from './scenario.js';

const KIB = 1024;
const MIB = 1024 * 1024;
const GROUPS = 100;
/** Connections opened and closed before the baseline snapshot, so JIT code and pools exist in both snapshots. */
const WARMUP = 200;

type Arm = 'ours ws' | 'B0 ws' | 'B1 sio' | 'ours text' | 'B0 text';
const ARMS: readonly Arm[] = ['ours ws', 'B0 ws', 'B1 sio', 'ours text', 'B0 text'];
const SERVER: Record<Arm, ArmName> = { 'ours ws': 'ours', 'B0 ws': 'B0', 'B1 sio': 'B1', 'ours text': 'ours', 'B0 text': 'B0' };
const KIND: Record<Arm, ClientKind> = { 'ours ws': 'ws', 'B0 ws': 'ws', 'B1 sio': 'sio', 'ours text': 'text', 'B0 text': 'text' };

/**
 * S1, idle footprint: N clients per protocol, each bound to a uid and a group, then the memory
 * of the process holding them after GC, minus its memory before them, per connection. For ours
 * also the BusinessWorker's growth, which must not depend on the number of clients.
 */
export const s1: Scenario = {
  id: 's1',
  title: 'S1 idle footprint',
  async run(ctx) {
    const n = ctx.cfg.clients;
    const table = await alternate(ctx, 'S1', ARMS, (armName, run) =>
      withArm(ctx, `S1-${armName}-r${run + 1}`, SERVER[armName], { hello: false }, ctx.cfg.clientProcs, async (arm, clients) => {
        const kind = KIND[armName];
        const port = kind === 'ws' ? arm.ports.ws : kind === 'text' ? arm.ports.text : arm.ports.sio;
        const spec = { kind, port: port!, concurrency: 100, login: { groups: GROUPS } };
        await clients.open({ ...spec, count: WARMUP });
        await waitForServer(arm, WARMUP, true);
        await clients.all('closeAll');
        await waitForServer(arm, 0);
        await sleep(200);
        const before = await arm.front.call<ProcessUsage>('gcUsage');
        const workerBefore = await arm.worker?.call<ProcessUsage>('gcUsage');
        await clients.open({ ...spec, count: n }, 180_000);
        await waitForServer(arm, n, true, 120_000);
        // Let the last login commands and write-backs settle before measuring.
        await sleep(500);
        await waitForServer(arm, n, true);
        const after = await arm.front.call<ProcessUsage>('gcUsage');
        const workerAfter = await arm.worker?.call<ProcessUsage>('gcUsage');
        const counts = await clients.counts();
        if (counts.closed) throw new Error(`${counts.closed} connections closed during the run`);
        const values: Record<string, number> = {
          rss: (after.rss - before.rss) / n / KIB,
          heap: (after.heapUsed - before.heapUsed) / n / KIB,
          external: (after.external - before.external) / n / KIB,
        };
        if (workerBefore && workerAfter) {
          values.workerHeap = (workerAfter.heapUsed - workerBefore.heapUsed) / MIB;
          values.workerRss = (workerAfter.rss - workerBefore.rss) / MIB;
        }
        return values;
      }),
    );

    const r = ctx.results;
    const label = (arm: Arm) => (arm.startsWith('B1') ? 'B1 socket.io' : arm.replace(' text', ' text (net)'));
    for (const arm of ARMS) {
      r.measure('S1', `RSS per connection, ${n} clients`, 'KiB', label(arm), table.series(arm, 'rss'));
      r.measure('S1', `heap per connection, ${n} clients`, 'KiB', label(arm), table.series(arm, 'heap'));
    }
    for (const arm of ['ours ws', 'ours text'] as const) {
      r.measure('S1', `worker heap growth, 0 → ${n} clients`, 'MiB', label(arm), table.series(arm, 'workerHeap'));
      r.measure('S1', `worker RSS growth, 0 → ${n} clients`, 'MiB', label(arm), table.series(arm, 'workerRss'));
    }
    for (const key of ['rss', 'heap'] as const) {
      const what = key === 'rss' ? 'RSS' : 'heap';
      r.ratioTarget('S1', `ours / B0 ws, gateway ${what} per conn`, table.series('ours ws', key), table.series('B0 ws', key), '<=', 1.35);
      r.ratioTarget('S1', `ours / raw net, gateway ${what} per conn (text)`, table.series('ours text', key), table.series('B0 text', key), '<=', 1.6);
      r.ratioTarget('S1', `ours / socket.io, gateway ${what} per conn`, table.series('ours ws', key), table.series('B1 sio', key), '<=', 0.55);
    }
    r.valueTarget('S1', `worker heap growth with ${n} ws clients`, table.series('ours ws', 'workerHeap'), '<=', 1, 'MiB');
    r.valueTarget('S1', `worker heap growth with ${n} text clients`, table.series('ours text', 'workerHeap'), '<=', 1, 'MiB');
  },
};
