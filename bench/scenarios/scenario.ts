import type { ArmName, ArmOptions, ServerArm } from '../harness/arms.js';
import { startArm } from '../harness/arms.js';
import { ClientPool } from '../harness/client-pool.js';
import type { BenchConfig, ScenarioId } from '../harness/config.js';
import type { Results } from '../harness/results.js';

/** What a scenario gets: the sizes, where results go, and a logger. */
export interface BenchContext {
  cfg: BenchConfig;
  results: Results;
  log(message: string): void;
}

/** One scenario of the issue: runs its arms, records measurements and targets. */
export interface Scenario {
  id: ScenarioId;
  title: string;
  run(ctx: BenchContext): Promise<void>;
}

/** The values one arm produced in each run (an empty record for a failed run). */
export class RunTable<A extends string> {
  constructor(private readonly runs: Map<A, Record<string, number>[]>) {}

  /** The per-run values of `key` for `arm` (NaN where a run failed). */
  series(arm: A, key: string): number[] {
    return (this.runs.get(arm) ?? []).map((r) => r[key] ?? NaN);
  }
}

/**
 * Runs every arm `cfg.runs` times, rotating the order each run (ours first, then a baseline
 * first…) so slow drift of the machine does not favour one arm. A run that throws is recorded as
 * an error and counts as missing; the others still run.
 */
export async function alternate<A extends string>(
  ctx: BenchContext,
  scenario: string,
  arms: readonly A[],
  fn: (arm: A, run: number) => Promise<Record<string, number>>,
): Promise<RunTable<A>> {
  const runs = new Map<A, Record<string, number>[]>(arms.map((a) => [a, []]));
  for (let run = 0; run < ctx.cfg.runs; run++) {
    const order = arms.map((_, i) => arms[(i + run) % arms.length]!);
    for (const arm of order) {
      const t0 = Date.now();
      try {
        const values = await fn(arm, run);
        runs.get(arm)!.push(values);
        ctx.log(`${scenario} run ${run + 1}/${ctx.cfg.runs} ${arm}: ${summary(values)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        runs.get(arm)!.push({});
        const message = `${scenario} run ${run + 1} ${arm}: ${(err as Error).message}`;
        ctx.results.errors.push(message.split('\n')[0]!);
        ctx.log(`FAILED ${message}`);
      }
    }
  }
  return new RunTable(runs);
}

const summary = (values: Record<string, number>) =>
  Object.entries(values)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');

/**
 * Starts an arm and a client pool, runs `fn`, and stops both whatever happens. With `--profile`,
 * the arm's processes write CPU profiles named after `tag` (from start to stop).
 */
export async function withArm<T>(
  ctx: BenchContext,
  tag: string,
  name: ArmName,
  options: Omit<ArmOptions, 'profileTag'>,
  clientProcs: number,
  fn: (arm: ServerArm, clients: ClientPool) => Promise<T>,
): Promise<T> {
  const profileTag = ctx.cfg.profile ? tag.replace(/[^\w.-]+/g, '_') : undefined;
  const arm = await startArm(name, { ...options, profileTag });
  let clients: ClientPool | null = null;
  try {
    clients = await ClientPool.start(clientProcs);
    return await fn(arm, clients);
  } finally {
    await clients?.stop();
    await arm.stop();
  }
}
