#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCliConfig, type ResolvedCliConfig } from './cli.config.js';
import { isAlive, readLivePid, removePid, writePid } from './pid-file.js';
import { fetchClusterStatus, formatClusterStatus, type ClusterStatus } from './cluster-status.js';
import { ProcessManager, type ManagedProcess } from './process-manager.js';

/**
 * `gateway-worker start [-d] | stop | restart [-d] | reload | status [--json]` — service
 * management like PHP's `php start.php …`, for the tiers listed in gateway-worker.config.json.
 */
const USAGE = `Usage: gateway-worker <command> [options]

Commands:
  start        start every tier of gateway-worker.config.json (foreground; Ctrl-C stops)
  start -d     start in the background (pid file + log file)
  stop         stop gracefully (workers finish their events, gateways close clients cleanly)
  restart      stop, then start (add -d to daemonize)
  reload       rolling restart of the business workers with new code; gateways keep every client
  status       the whole cluster, found through the Register, and this host's processes (--json for scripts)

Options:
  -c, --config <file>   configuration file (default: ./gateway-worker.config.json|.mjs|.js)
  -d, --daemon          run in the background
  --json                machine-readable status
  --register <addr>     Register address(es) for status (comma-separated; default: the config's registerAddress)`;

const STARTED_MESSAGE = 'gateway-worker:started';

interface Flags {
  daemon: boolean;
  json: boolean;
  config?: string;
  register?: string;
}

function parse(argv: string[]): { command: string | undefined; flags: Flags } {
  const flags: Flags = { daemon: false, json: false };
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-d' || a === '--daemon') flags.daemon = true;
    else if (a === '--json') flags.json = true;
    else if (a === '-c' || a === '--config') flags.config = argv[++i];
    else if (a === '--register') flags.register = argv[++i];
    else if (!command) command = a;
    else throw new Error(`Unexpected argument "${a}".\n\n${USAGE}`);
  }
  return { command, flags };
}

const stateFileOf = (config: ResolvedCliConfig) => `${config.pidFile}.json`;
const log = (line: string) => console.log(`[gateway-worker] ${new Date().toISOString()} ${line}`);

async function start(config: ResolvedCliConfig, flags: Flags): Promise<number> {
  const running = readLivePid(config.pidFile);
  if (running) {
    console.error(`gateway-worker is already running (pid ${running}, pid file ${config.pidFile}). Use "gateway-worker stop" or "restart".`);
    return 1;
  }
  if (flags.daemon) return daemonize(config);

  writePid(config.pidFile, process.pid);
  const manager = new ProcessManager(config, log, stateFileOf(config));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await manager.stop();
    removePid(config.pidFile, process.pid);
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // SIGUSR1 belongs to Node's debugger: reload is SIGUSR2.
  process.on('SIGUSR2', () => void manager.reload().catch((err: Error) => log(`reload failed: ${err.message}`)));
  try {
    await manager.start();
  } catch (err) {
    log(`start failed: ${(err as Error).message}`);
    await manager.stop();
    removePid(config.pidFile, process.pid);
    return 1;
  }
  if (process.send) {
    process.send(STARTED_MESSAGE);
    process.disconnect();
  }
  return new Promise<number>(() => undefined); // runs until a signal stops it
}

/** Starts a detached master with its output in the log file; returns once it is serving. */
function daemonize(config: ResolvedCliConfig): Promise<number> {
  const out = openSync(config.logFile, 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'start', '--config', config.configFile], {
    cwd: config.root,
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
  });
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

async function stop(config: ResolvedCliConfig): Promise<number> {
  const pid = readLivePid(config.pidFile);
  if (!pid) {
    console.log('gateway-worker is not running.');
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + config.stopTimeout * 3 + 5_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      console.error(`pid ${pid} did not stop in time; killing it.`);
      process.kill(pid, 'SIGKILL');
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

async function status(config: ResolvedCliConfig, flags: Flags): Promise<number> {
  const pid = readLivePid(config.pidFile);
  const file = stateFileOf(config);
  const state = pid && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { processes: ManagedProcess[] }) : { processes: [] };
  const local = state.processes.map((p) => ({ ...p, memory: rssOf(p.pid) }));
  const registerAddresses = flags.register ? flags.register.split(',') : config.registerAddresses;
  let cluster: ClusterStatus | null = null;
  let clusterError: string | null = null;
  if (registerAddresses.length) {
    try {
      cluster = await fetchClusterStatus({ registerAddresses, secretKey: config.secretKey, timeout: 3000 });
    } catch (err) {
      clusterError = (err as Error).message;
    }
  }
  if (flags.json) {
    console.log(JSON.stringify({ name: config.name, master: pid, running: !!pid, processes: local, cluster, clusterError }, null, 2));
    return pid || cluster ? 0 : 3;
  }
  if (cluster) console.log(formatClusterStatus(cluster) + '\n');
  else if (clusterError) console.log(`Cluster status unavailable: ${clusterError}\n`);
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

async function main(): Promise<number> {
  const { command, flags } = parse(process.argv.slice(2));
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  const config = await loadCliConfig(process.cwd(), flags.config);
  switch (command) {
    case 'start':
      return start(config, flags);
    case 'stop':
      return stop(config);
    case 'restart':
      await stop(config);
      return start(config, flags);
    case 'reload':
      return reload(config);
    case 'status':
      return status(config, flags);
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 1;
  }
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  },
);
