import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GatewayWorkerTier } from '../gateway-worker.bootstrap.js';

/** One tier the process manager runs: a compiled entry file and how many processes of it. */
export interface CliTierConfig {
  /** A GatewayWorker tier, or `'process'` for any other process to keep running (e.g. a web server). */
  tier: GatewayWorkerTier | 'process';
  /** The compiled entry file that boots this tier (e.g. `dist/main/gateway.main.js`), relative to the config file. */
  entry: string;
  /** Number of processes. Default 1 (the Register is always one process). */
  count?: number;
}

/**
 * `gateway-worker.config.json` (or `.mjs`/`.js` exporting the same object as default): what
 * `gateway-worker start` runs on this host.
 */
export interface CliConfig {
  /** Name shown by `status`. Default: the directory name. */
  name?: string;
  tiers: CliTierConfig[];
  /** Pid file of the master process. Default `./gateway-worker.pid`. */
  pidFile?: string;
  /** Log file of a daemonized (`-d`) master. Default `./gateway-worker.log`. */
  logFile?: string;
  /** How long `stop` lets processes finish before killing them, ms. Default 10000. */
  stopTimeout?: number;
  /**
   * Where `status` finds the whole cluster (every host): the Register address(es) and the secret
   * key. Overridden by `--register` / `GATEWAY_WORKER_REGISTER_ADDRESS` and `GATEWAY_WORKER_SECRET_KEY`.
   */
  registerAddress?: string | string[];
  secretKey?: string;
}

/** The configuration with paths resolved and defaults filled in. */
export interface ResolvedCliConfig {
  name: string;
  root: string;
  tiers: Required<CliTierConfig>[];
  pidFile: string;
  logFile: string;
  stopTimeout: number;
  configFile: string;
  registerAddresses: string[];
  secretKey: string;
}

const TIERS: CliTierConfig['tier'][] = ['register', 'gateway', 'business-worker', 'process'];
const CANDIDATES = ['gateway-worker.config.json', 'gateway-worker.config.mjs', 'gateway-worker.config.js'];

/** The config file `cwd` holds (the first of the candidate names), if any. */
export function findCliConfig(cwd: string): string | undefined {
  return CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c));
}

/** Finds and loads the config file (`--config` or the first candidate in `cwd`), validating it. */
export async function loadCliConfig(cwd: string, explicit?: string): Promise<ResolvedCliConfig> {
  const file = explicit ? resolve(cwd, explicit) : findCliConfig(cwd);
  if (!file || !existsSync(file)) {
    throw new Error(
      `No configuration found${explicit ? ` at ${explicit}` : ` in ${cwd} (looked for ${CANDIDATES.join(', ')})`}. ` +
        'Create gateway-worker.config.json listing the tiers to run, e.g. {"tiers":[{"tier":"register","entry":"dist/register.main.js"}]}.',
    );
  }
  const raw: CliConfig = file.endsWith('.json')
    ? JSON.parse(readFileSync(file, 'utf8'))
    : ((await import(pathToFileURL(file).href)) as { default: CliConfig }).default;
  const root = dirname(file);
  const problems: string[] = [];
  if (!raw || !Array.isArray(raw.tiers) || raw.tiers.length === 0) problems.push('"tiers" must list at least one tier');
  const tiers = (raw?.tiers ?? []).map((t, i) => {
    if (!TIERS.includes(t.tier)) problems.push(`tiers[${i}].tier must be one of ${TIERS.join(', ')}`);
    if (typeof t.entry !== 'string' || !existsSync(resolve(root, t.entry))) problems.push(`tiers[${i}].entry ${JSON.stringify(t.entry)} does not exist (build the app first?)`);
    const count = t.count ?? 1;
    if (!Number.isInteger(count) || count < 1) problems.push(`tiers[${i}].count must be a positive integer`);
    if (t.tier === 'register' && count !== 1) problems.push('the register tier runs as exactly one process (its state lives in memory)');
    return { tier: t.tier, entry: resolve(root, t.entry), count };
  });
  if (problems.length) throw new Error(`Invalid ${file}:\n  - ${problems.join('\n  - ')}`);
  return {
    name: raw.name ?? root.split('/').pop() ?? 'gateway-worker',
    root,
    tiers,
    pidFile: resolve(root, raw.pidFile ?? 'gateway-worker.pid'),
    logFile: resolve(root, raw.logFile ?? 'gateway-worker.log'),
    stopTimeout: raw.stopTimeout ?? 10_000,
    configFile: file,
    registerAddresses: ([] as string[]).concat(process.env.GATEWAY_WORKER_REGISTER_ADDRESS?.split(',') ?? raw.registerAddress ?? []),
    secretKey: process.env.GATEWAY_WORKER_SECRET_KEY ?? raw.secretKey ?? '',
  };
}
