#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliUsageError } from '../errors/cli-usage.error.js';
import { commandHelp, parseCliArgs, usage, type CliArgs } from './cli.args.js';
import { findCliConfig, loadCliConfig, type ResolvedCliConfig } from './cli.config.js';
import { ENV_MASTER } from './cli.constants.js';
import { fetchClusterStatus, formatClusterStatus, type ClusterStatus } from './cluster-status.js';
import { isAlive, readLivePid, removePid, writePid } from './pid-file.js';
import { ProcessManager, type ManagedProcess } from './process-manager.js';

/**
 * `gateway-worker start [-d] | stop | restart [-d] | reload | status [--json]` — service
 * management like PHP's `php start.php …`, for the tiers listed in gateway-worker.config.json.
 *
 * `start` runs a master process (the ProcessManager) in a session of its own, so that a terminal's
 * Ctrl-C, which signals the whole foreground process group, reaches only the `start` process in
 * front of it: that one asks the master to stop, and the master stops the tiers in order ("process"
 * tiers, business workers, gateways, Register), exactly as `stop` does. Were the tiers in the
 * terminal's group, each would get SIGINT at once and the Register could die before the workers.
 */

/** The IPC message a master sends to the `start` process in front of it once every tier serves. */
const STARTED_MESSAGE = 'gateway-worker:started';

const stateFileOf = (pidFile: string) => `${pidFile}.json`;
const log = (line: string) => console.log(`[gateway-worker] ${new Date().toISOString()} ${line}`);
const thisFile = fileURLToPath(import.meta.url);

/** Kills a master and the processes of its session (it leads its own process group). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** The package's version, from its package.json (three levels up from dist/lib/cli/). */
function packageVersion(): string {
  const file = fileURLToPath(new URL('../../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/**
 * `start`: refuses a second master, then runs the master in its own session — in the background
 * with `-d` (output to the log file), else in front of this process (output to this terminal).
 */
function start(config: ResolvedCliConfig, args: CliArgs): Promise<number> {
  const running = readLivePid(config.pidFile);
  if (running) {
    console.error(`gateway-worker is already running (pid ${running}, pid file ${config.pidFile}). Use "gateway-worker stop" or "restart".`);
    return Promise.resolve(1);
  }
  return args.daemon ? daemonize(config) : foreground(config);
}

/** Spawns the master in a session of its own, with the IPC channel it reports readiness on. */
function spawnMaster(config: ResolvedCliConfig, mode: 'daemon' | 'foreground', out: number | 'inherit') {
  return spawn(process.execPath, [thisFile, 'start', '--config', config.configFile], {
    cwd: config.root,
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, [ENV_MASTER]: mode },
  });
}

/** Starts a detached master with its output in the log file; returns once it is serving. */
function daemonize(config: ResolvedCliConfig): Promise<number> {
  const child = spawnMaster(config, 'daemon', openSync(config.logFile, 'a'));
  return new Promise((resolve) => {
    child.once('message', (msg) => {
      if (msg !== STARTED_MESSAGE) return;
      console.log(`gateway-worker started in the background (pid ${child.pid}); log: ${config.logFile}`);
      child.disconnect();
      child.unref();
      resolve(0);
    });
    child.once('exit', (code) => {
      console.error(`gateway-worker failed to start (exit code ${code}); see ${config.logFile}`);
      resolve(1);
    });
  });
}

/**
 * Runs the master in front of this process: its output goes to this terminal; SIGINT (Ctrl-C),
 * SIGTERM and SIGHUP here become one SIGTERM to the master (the ordered stop), a second Ctrl-C
 * kills the master's whole process group; SIGUSR2 is passed on (reload). Exits with the master.
 */
function foreground(config: ResolvedCliConfig): Promise<number> {
  const child = spawnMaster(config, 'foreground', 'inherit');
  let interrupts = 0;
  const onStopSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGINT' && ++interrupts > 1) {
      log('second Ctrl-C: killing every process now');
      killGroup(child.pid!);
      return;
    }
    child.kill('SIGTERM');
  };
  const onReload = () => child.kill('SIGUSR2');
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onStopSignal);
  process.on('SIGUSR2', onReload);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onStopSignal);
      process.off('SIGUSR2', onReload);
      // A master killed outright cannot clean up after itself.
      if (signal) {
        removePid(config.pidFile, child.pid!);
        rmSync(stateFileOf(config.pidFile), { force: true });
      }
      resolve(code ?? 1);
    });
  });
}

/**
 * The master (ProcessManager) itself, spawned by `start`: writes the pid file, runs the tiers,
 * reports readiness to the `start` process, and stops the tiers in order on SIGTERM/SIGINT — or
 * when the foreground `start` process in front of it goes away (its IPC channel closes).
 */
async function runMaster(config: ResolvedCliConfig, mode: string): Promise<number> {
  // The tiers inherit this process's output: Nest's logger colours unless NO_COLOR, which would
  // fill a log file (or a pipe) with ANSI escape codes.
  if (!process.stdout.isTTY) process.env.NO_COLOR = '1';
  writePid(config.pidFile, process.pid);
  const stateFile = stateFileOf(config.pidFile);
  const manager = new ProcessManager(config, log, stateFile);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await manager.stop();
    removePid(config.pidFile, process.pid);
    manager.removeState();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  // The `start` process in front of this one went away (killed, terminal closed): stop too.
  if (mode === 'foreground') process.once('disconnect', () => void stop());
  // SIGUSR1 belongs to Node's debugger: reload is SIGUSR2.
  process.on('SIGUSR2', () => void manager.reload().catch((err: Error) => log(`reload failed: ${err.message}`)));
  try {
    await manager.start();
  } catch (err) {
    log(`start failed: ${(err as Error).message}`);
    await manager.stop();
    removePid(config.pidFile, process.pid);
    manager.removeState();
    return 1;
  }
  if (process.send) {
    process.send(STARTED_MESSAGE);
    if (mode !== 'foreground') process.disconnect();
  }
  return new Promise<number>(() => undefined); // runs until a signal stops it
}

async function stop(config: ResolvedCliConfig): Promise<number> {
  const pid = readLivePid(config.pidFile);
  if (!pid) {
    console.log('gateway-worker is not running.');
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  // The master stops four tiers one after the other, each within stopTimeout.
  const deadline = Date.now() + config.stopTimeout * 4 + 5_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      console.error(`pid ${pid} did not stop in time; killing it.`);
      killGroup(pid);
      // A master killed outright cannot clean up after itself.
      removePid(config.pidFile, pid);
      rmSync(stateFileOf(config.pidFile), { force: true });
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log('gateway-worker stopped.');
  return 0;
}

function reload(config: ResolvedCliConfig): number {
  const pid = readLivePid(config.pidFile);
  if (!pid) {
    console.error('gateway-worker is not running: nothing to reload.');
    return 1;
  }
  process.kill(pid, 'SIGUSR2');
  console.log(`reload requested (master pid ${pid}): business workers are replaced one at a time; see the log.`);
  return 0;
}

/** Resident memory of a process in bytes, from /proc (0 if unavailable). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `status`: the cluster through the Register (when an address is known), then this host's
 * processes (when a config names a pid file and its master runs). Exit code 3 when neither is there.
 */
async function status(config: ResolvedCliConfig | null, args: CliArgs): Promise<number> {
  const pid = config ? readLivePid(config.pidFile) : null;
  const file = config ? stateFileOf(config.pidFile) : '';
  const state = pid && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { processes: ManagedProcess[] }) : { processes: [] };
  const local = state.processes.map((p) => ({ ...p, memory: rssOf(p.pid) }));
  const registerAddresses = args.register?.split(',') ?? process.env.GATEWAY_WORKER_REGISTER_ADDRESS?.split(',') ?? config?.registerAddresses ?? [];
  const secretKey = process.env.GATEWAY_WORKER_SECRET_KEY ?? config?.secretKey ?? '';
  let cluster: ClusterStatus | null = null;
  let clusterError: string | null = null;
  if (registerAddresses.length) {
    try {
      cluster = await fetchClusterStatus({ registerAddresses, secretKey, timeout: 3000 });
    } catch (err) {
      clusterError = (err as Error).message;
    }
  }
  if (args.json) {
    console.log(JSON.stringify({ name: config?.name ?? null, master: pid, running: !!pid, processes: local, cluster, clusterError }, null, 2));
    return pid || cluster ? 0 : 3;
  }
  if (cluster) console.log(formatClusterStatus(cluster) + '\n');
  else if (clusterError) console.log(`Cluster status unavailable: ${clusterError}\n`);
  if (!config) return cluster ? 0 : 3;
  if (!pid) {
    console.log('gateway-worker is not running on this host.');
    return cluster ? 0 : 3;
  }
  console.log(`This host: ${config.name}, master pid ${pid}, ${local.length} processes`);
  console.log(['tier'.padEnd(16), 'idx'.padEnd(4), 'pid'.padEnd(8), 'memory'.padEnd(10), 'restarts'.padEnd(9), 'state'].join(''));
  for (const r of local) {
    console.log([r.tier.padEnd(16), String(r.index).padEnd(4), String(r.pid).padEnd(8), `${(r.memory / 1048576).toFixed(1)}M`.padEnd(10), String(r.restarts).padEnd(9), r.state].join(''));
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv);
  if (args.version) {
    console.log(packageVersion());
    return 0;
  }
  if (args.help || args.command === 'help') {
    console.log(args.command && args.command !== 'help' ? commandHelp(args.command) : usage());
    return 0;
  }
  const cwd = process.cwd();
  if (args.command === 'status') {
    // With a Register address, status needs no config file (it shows no local processes then).
    const registerGiven = args.register !== undefined || process.env.GATEWAY_WORKER_REGISTER_ADDRESS !== undefined;
    const config = args.config || !registerGiven || findCliConfig(cwd) ? await loadCliConfig(cwd, args.config) : null;
    return status(config, args);
  }
  const config = await loadCliConfig(cwd, args.config);
  const master = process.env[ENV_MASTER];
  switch (args.command) {
    case 'start':
      return master ? runMaster(config, master) : start(config, args);
    case 'stop':
      return stop(config);
    case 'restart':
      await stop(config);
      return start(config, args);
    case 'reload':
      return reload(config);
  }
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: Error) => {
    console.error(err.message);
    process.exitCode = err instanceof CliUsageError ? err.exitCode : 1;
  },
);
