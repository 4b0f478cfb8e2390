import { parseArgs } from 'node:util';

/** The scenarios, in the order `npm run bench` runs them. */
export const SCENARIO_IDS = ['s1', 's2', 's3', 's4', 's5', 's6'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** Sizes and switches of a bench run. The defaults fit a 2-core machine with 20,000 open files per process. */
export interface BenchConfig {
  scenarios: ScenarioId[];
  /** Measured runs per arm (alternating arms); each run also has its own discarded warm-up. */
  runs: number;
  /** Client driver processes. */
  clientProcs: number;
  /** Idle clients of S1 (per protocol), and receivers of S5 and S6. */
  clients: number;
  /** Connections opened in S2. */
  connectClients: number;
  /** Handshakes in flight per client process in S2. */
  connectConcurrency: number;
  /** Receiver counts of S4. */
  receivers: number[];
  /** Deliveries per S4 phase (broadcasts = deliveries / receivers). */
  deliveries: number;
  /** Broadcasts per burst in S4's burst mode. */
  burst: number;
  /** Measured echo time per S3 variant, and its warm-up. */
  echoMs: number;
  echoWarmupMs: number;
  /** S6: paced rate, its duration, and the number of pushes in the flat-out phase. */
  pushRate: number;
  pushMs: number;
  flatPushes: number;
  /** S5: broadcasts per run (the run's value is their median). */
  fanouts: number;
  /** Run ours' gateway and worker with --cpu-prof (profiles in bench/profiles/). */
  profile: boolean;
  /** Where the Markdown results go. */
  out: string | null;
  /** Print progress details. */
  verbose: boolean;
  /** Write every child process's output to bench/logs/. */
  logs: boolean;
  /** S3/S4 also run `oursR`: resumable clients through the client SDK (the envelope's cost). */
  resume: boolean;
}

const DEFAULTS: Omit<BenchConfig, 'scenarios' | 'out'> = {
  runs: 3,
  clientProcs: 4,
  clients: 10_000,
  connectClients: 5_000,
  connectConcurrency: 25,
  receivers: [20, 900],
  deliveries: 270_000,
  burst: 50,
  echoMs: 2_000,
  echoWarmupMs: 500,
  pushRate: 1_000,
  pushMs: 3_000,
  flatPushes: 30_000,
  fanouts: 5,
  profile: false,
  verbose: false,
  logs: false,
  resume: false,
};

/** `--quick`: tiny sizes for trying the harness on a busy machine. */
const QUICK: Partial<BenchConfig> = {
  runs: 1,
  clientProcs: 2,
  clients: 400,
  connectClients: 300,
  receivers: [20, 200],
  deliveries: 20_000,
  echoMs: 500,
  echoWarmupMs: 200,
  pushMs: 1_000,
  flatPushes: 2_000,
  fanouts: 2,
};

export const USAGE = `usage: npm run bench -- [s1 … s6] [options]
  --runs N              measured runs per arm, alternating (default 3)
  --client-procs N      client driver processes (default 4)
  --clients N           S1 idle clients per protocol, S5/S6 receivers (default 10000)
  --connect-clients N   S2 connections (default 5000)
  --receivers A,B       S4 receiver counts (default 20,900)
  --deliveries N        S4 deliveries per phase (default 270000)
  --echo-ms N           S3 measured time per variant (default 2000)
  --push-rate N         S6 paced pushes per second (default 1000)
  --flat-pushes N       S6 pushes in the flat-out phase (default 30000)
  --quick               tiny sizes (for a first try on a busy machine)
  --profile             --cpu-prof on ours' gateway and worker; top functions printed
  --out FILE            results file (default bench/results.md for a full default run, else bench/logs/results.md)
  --resume              S3/S4 also run oursR: resumeWindow on, websocket clients through the client SDK
  --verbose             more progress output (CPU per process in S3…)
  --logs                write every bench process's output to bench/logs/
                        (BENCH_CHILD_NODE_ARGS="--trace-gc" adds Node flags to every bench process)
Sizes above the defaults need more open files than 20,000 per process only in the client
processes (raise --client-procs) and in the server (--clients beyond ~19,000).`;

/** Parses the command line; throws with the usage text on a bad flag. */
export function parseConfig(argv: string[]): BenchConfig & { custom: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      'client-procs': { type: 'string' },
      clients: { type: 'string' },
      'connect-clients': { type: 'string' },
      receivers: { type: 'string' },
      deliveries: { type: 'string' },
      'echo-ms': { type: 'string' },
      'push-rate': { type: 'string' },
      'flat-pushes': { type: 'string' },
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      out: { type: 'string' },
      verbose: { type: 'boolean' },
      logs: { type: 'boolean' },
      resume: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new Error(USAGE);
  const scenarios = positionals.map((p) => p.toLowerCase());
  for (const s of scenarios) if (!(SCENARIO_IDS as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}"\n${USAGE}`);
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got "${v}"`);
    return n;
  };
  const cfg: BenchConfig = { ...DEFAULTS, ...(values.quick ? QUICK : {}), scenarios: [...SCENARIO_IDS], out: null };
  if (scenarios.length) cfg.scenarios = scenarios as ScenarioId[];
  const set = <K extends keyof BenchConfig>(k: K, v: BenchConfig[K] | undefined) => {
    if (v !== undefined) cfg[k] = v;
  };
  set('runs', int(values.runs, 'runs'));
  set('clientProcs', int(values['client-procs'], 'client-procs'));
  set('clients', int(values.clients, 'clients'));
  set('connectClients', int(values['connect-clients'], 'connect-clients'));
  set('deliveries', int(values.deliveries, 'deliveries'));
  set('echoMs', int(values['echo-ms'], 'echo-ms'));
  set('pushRate', int(values['push-rate'], 'push-rate'));
  set('flatPushes', int(values['flat-pushes'], 'flat-pushes'));
  if (values.receivers) cfg.receivers = values.receivers.split(',').map((x) => int(x, 'receivers')!);
  cfg.profile = values.profile ?? false;
  cfg.verbose = values.verbose ?? false;
  cfg.logs = values.logs ?? false;
  cfg.resume = values.resume ?? false;
  cfg.out = values.out ?? null;
  const custom = argv.some((a) => a.startsWith('--') && a !== '--verbose' && a !== '--logs') || scenarios.length > 0;
  return { ...cfg, custom };
}
