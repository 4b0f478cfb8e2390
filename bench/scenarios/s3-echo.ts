import { waitForServer } from '../harness/arms.js';
import type { ClientKind } from '../clients/connections.js';
import { pairedRatios, percentile } from '../harness/stats.js';
import { alternate, withArm, type Scenario } from './scenario.js';

const ALL_ARMS = ['ours', 'B0', 'oursR'] as const;
const KINDS: readonly ClientKind[] = ['text', 'ws'];
const CONNS = [1, 10] as const;
/** Echo needs few connections: two client processes keep the client side out of the way. */
const PROCS = 2;

interface EchoResult {
  count: number;
  /** Echoes including the warm-up (for CPU per echo). */
  all: number;
  wrong: number;
  latencies: number[];
}

/**
 * S3, echo: 1 and 10 connections in a closed loop (send, wait for the reply, send again), over
 * text and websocket. For ours the message goes gateway → worker → gateway; B0 answers in its
 * one process. Throughput and round-trip percentiles.
 */
export const s3: Scenario = {
  id: 's3',
  title: 'S3 echo',
  async run(ctx) {
    const { echoMs, echoWarmupMs } = ctx.cfg;
    // oursR (with --resume): websocket only — text clients cannot opt in to the envelope.
    const ARMS = ctx.cfg.resume ? ALL_ARMS : ALL_ARMS.filter((a) => a !== 'oursR');
    const kindsOf = (arm: string) => (arm === 'oursR' ? (['ws'] as const) : KINDS);
    const table = await alternate(ctx, 'S3', ARMS, (armName, run) =>
      withArm(ctx, `S3-${armName}-r${run + 1}`, armName, { hello: false }, PROCS, async (arm, clients) => {
        const values: Record<string, number> = {};
        for (const kind of kindsOf(armName)) {
          await clients.open({ kind: armName === 'oursR' ? 'wsr' : kind, port: (kind === 'ws' ? arm.ports.ws : arm.ports.text)!, count: 10, concurrency: 10 });
          await waitForServer(arm, 10);
          for (const conns of CONNS) {
            // 1 connection: process 0 alone; 10: five in each process.
            const procs = conns === 1 ? [clients.first] : clients.procs;
            const per = conns / procs.length;
            const cpu0 = await arm.cpuByProcess();
            const results = await Promise.all(procs.map((p) => p.call<EchoResult>('echo', { conns: per, warmupMs: echoWarmupMs, ms: echoMs }, echoMs + echoWarmupMs + 30_000)));
            const cpu1 = await arm.cpuByProcess();
            const wrong = results.reduce((s, x) => s + x.wrong, 0);
            if (wrong) throw new Error(`${wrong} echo replies out of order (${kind}, ${conns} conns)`);
            const latencies = results.flatMap((x) => x.latencies);
            const key = `${kind}${conns}`;
            values[`${key}rate`] = latencies.length / (echoMs / 1000);
            values[`${key}p50`] = percentile(latencies, 50);
            values[`${key}p99`] = percentile(latencies, 99);
            const all = results.reduce((s, x) => s + x.all, 0);
            const cpu = Object.keys(cpu1).map((p) => (cpu1[p]! - cpu0[p]!) / all);
            values[`${key}cpu`] = cpu.reduce((a, b) => a + b, 0);
            if (ctx.cfg.verbose) ctx.log(`S3 ${armName} ${key}: CPU µs per echo by process ${Object.keys(cpu1).map((p, i) => `${p}=${cpu[i]!.toFixed(1)}`).join(' ')}`);
          }
          await clients.all('closeAll');
          await waitForServer(arm, 0);
        }
        return values;
      }),
    );
    const r = ctx.results;
    for (const kind of KINDS) {
      for (const conns of CONNS) {
        const key = `${kind}${conns}`;
        const what = `${kind}, ${conns} conn${conns > 1 ? 's' : ''}`;
        for (const arm of ARMS.filter((a) => (kindsOf(a) as readonly ClientKind[]).includes(kind))) {
          r.measure('S3', `echo/s, ${what}`, 'msg/s', arm, table.series(arm, `${key}rate`));
          r.measure('S3', `echo p50, ${what}`, 'µs', arm, table.series(arm, `${key}p50`));
          r.measure('S3', `echo p99, ${what}`, 'µs', arm, table.series(arm, `${key}p99`));
          r.measure('S3', `server CPU per echo, ${what}`, 'µs', arm, table.series(arm, `${key}cpu`));
        }
      }
    }
    if (ctx.cfg.resume) {
      // The envelope's cost: resumable clients (SDK, acks, kept messages) against plain websockets.
      for (const conns of CONNS) r.measure('S3', `oursR / ours, echo/s, ws, ${conns} conn${conns > 1 ? 's' : ''}`, '×', 'oursR', pairedRatios(table.series('oursR', `ws${conns}rate`), table.series('ours', `ws${conns}rate`)));
    }
    for (const kind of KINDS) {
      r.ratioTarget('S3', `ours / B0, echo/s, ${kind}, 10 conns`, table.series('ours', `${kind}10rate`), table.series('B0', `${kind}10rate`), '>=', 0.6);
      for (const conns of CONNS) r.valueTarget('S3', `ours echo p99, ${kind}, ${conns} conn${conns > 1 ? 's' : ''}`, table.series('ours', `${kind}${conns}p99`), '<=', 1000, 'µs');
    }
  },
};
