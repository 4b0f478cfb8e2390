import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import type { ProcessUsage } from './ipc.js';
import { freePort } from './ports.js';
import { waitUntil } from './timeout.js';

/**
 * The arms: ours (Register + Gateway + BusinessWorker processes), ours with resumable clients
 * (`oursR`: `resumeWindow` on, websocket clients opted in through the client SDK), and the baselines.
 */
export type ArmName = 'ours' | 'oursR' | 'B0' | 'B0c' | 'B1';

/** What the server holding the connections reports about them. */
export interface ServerStats {
  clients: number;
  uids: number;
  groups: number;
}

/** A running server arm. */
export interface ServerArm {
  name: ArmName;
  /** Public ports by client kind. */
  ports: { ws?: number; text?: number; sio?: number };
  /** The process holding the client connections. */
  front: Child;
  /** Every server process (their CPU is the server's CPU). */
  processes: Child[];
  /** For ours: the BusinessWorker process. */
  worker?: Child;
  /** For ours: the address of the Register (for the S6 pusher). */
  registerAddress?: string;
  stats(): Promise<ServerStats>;
  /** CPU time (user + system, µs) of all server processes so far. */
  cpuUs(): Promise<number>;
  /** CPU time (µs) of each server process so far, by process name. */
  cpuByProcess(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** How an arm is started. */
export interface ArmOptions {
  /** Greet every connection with `Hello <id>` (from `@OnConnect` for ours). */
  hello: boolean;
  /** Profile the arm's busy processes into bench/profiles/<tag>-<process>.cpuprofile, from start to stop. */
  profileTag?: string;
}

export const PROFILE_DIR = fileURLToPath(new URL('../../../profiles/', import.meta.url));
const GC = ['--expose-gc'];

/** Starts one arm and resolves once it accepts clients (for ours: once the worker reached the gateway). */
export function startArm(name: ArmName, options: ArmOptions): Promise<ServerArm> {
  if (name === 'ours' || name === 'oursR') return startOurs(name, options);
  if (name === 'B1') return startSingle(name, 'servers/socketio-chat.js', [], options);
  return startSingle(name, 'servers/baseline-chat.js', [name === 'B0c' ? 'cork' : 'naive'], options);
}

async function cpuByProcess(processes: Child[]): Promise<Record<string, number>> {
  const usages = await Promise.all(processes.map((p) => p.call<ProcessUsage>('usage')));
  return Object.fromEntries(usages.map((u, i) => [processes[i]!.name, u.cpuUs]));
}

async function cpuOf(processes: Child[]): Promise<number> {
  return Object.values(await cpuByProcess(processes)).reduce((a, b) => a + b, 0);
}

/** The processes whose CPU profile is worth having (not the idle Register). */
const profiled = (processes: Child[]) => processes.filter((p) => !p.name.endsWith('register'));

async function startProfiles(processes: Child[], tag: string | undefined): Promise<void> {
  if (!tag) return;
  mkdirSync(PROFILE_DIR, { recursive: true });
  await Promise.all(profiled(processes).map((p) => p.call('profileStart')));
}

async function stopAll(processes: Child[], profileTag?: string): Promise<void> {
  if (profileTag) {
    await Promise.all(
      profiled(processes).map((p) =>
        p.call('profileStop', `${PROFILE_DIR}${profileTag}-${p.name.replace(/\W+/g, '-')}.cpuprofile`, 30_000).catch(() => undefined),
      ),
    );
  }
  // A normal exit first, then the process group goes regardless.
  await Promise.all(
    processes.map(async (p) => {
      await p.call('exit', undefined, 2_000).catch(() => undefined);
      await p.exited(10_000);
      await p.kill('SIGKILL', 3_000);
    }),
  );
}

async function startSingle(name: ArmName, script: string, args: string[], options: ArmOptions): Promise<ServerArm> {
  const server = new Child(name, script, args, { execArgv: GC, env: { BENCH_HELLO: options.hello ? '1' : '0' } });
  try {
    const ports = await server.ready<ServerArm['ports']>();
    await startProfiles([server], options.profileTag);
    return {
      name,
      ports,
      front: server,
      processes: [server],
      stats: () => server.call<ServerStats>('stats'),
      cpuUs: () => cpuOf([server]),
      cpuByProcess: () => cpuByProcess([server]),
      stop: () => stopAll([server], options.profileTag),
    };
  } catch (err) {
    await server.kill();
    throw err;
  }
}

async function startOurs(name: 'ours' | 'oursR', options: ArmOptions): Promise<ServerArm> {
  const registerPort = await freePort();
  const registerAddress = `127.0.0.1:${registerPort}`;
  const moduleOptions = {
    registerAddress,
    register: { listen: `text://127.0.0.1:${registerPort}` },
    gateway: { name: 'BenchGateway', listen: ['websocket://127.0.0.1:0', 'text://127.0.0.1:0'], lanIp: '127.0.0.1', startPort: 0, ...(name === 'oursR' && { resumeWindow: 30_000 }) },
    businessWorker: { name: 'BenchWorker' },
  };
  const env = { BENCH_GW_OPTIONS: JSON.stringify(moduleOptions), BENCH_HELLO: options.hello ? '1' : '0' };
  const tier = (t: string) => new Child(`ours ${t}`, 'servers/ours/tier.main.js', [t], { execArgv: GC, env });
  const started: Child[] = [];
  try {
    const register = tier('register');
    started.push(register);
    await register.ready();
    const gateway = tier('gateway');
    const worker = tier('business-worker');
    started.push(gateway, worker);
    const [info] = await Promise.all([gateway.ready<{ ports: number[] }>(), worker.ready()]);
    await waitUntil(
      async () => (await gateway.call<{ workers: number }>('stats')).workers >= 1,
      15_000,
      'the BusinessWorker to connect to the gateway',
    );
    await startProfiles(started, options.profileTag);
    return {
      name,
      ports: { ws: info.ports[0], text: info.ports[1] },
      front: gateway,
      processes: [register, gateway, worker],
      worker,
      registerAddress,
      stats: () => gateway.call<ServerStats>('stats'),
      cpuUs: () => cpuOf([register, gateway, worker]),
      cpuByProcess: () => cpuByProcess([register, gateway, worker]),
      stop: () => stopAll(started, options.profileTag),
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

/**
 * The connection kind and port a client uses for an arm's websocket endpoint: socket.io clients
 * for B1, the SDK (resume envelope) for oursR, plain websockets for the others.
 */
export function wsEndpoint(arm: ServerArm): { kind: 'ws' | 'sio' | 'wsr'; port: number } {
  if (arm.name === 'B1') return { kind: 'sio', port: arm.ports.sio! };
  return { kind: arm.name === 'oursR' ? 'wsr' : 'ws', port: arm.ports.ws! };
}

/** Resolves once the server reports `clients` connections (and as many bound uids when `uids`). */
export async function waitForServer(arm: ServerArm, clients: number, uids = false, ms = 60_000): Promise<void> {
  let last: ServerStats | null = null;
  await waitUntil(
    async () => {
      last = await arm.stats();
      return last.clients === clients && (!uids || last.uids === clients);
    },
    ms,
    `${arm.name} to report ${clients} connections${uids ? ' bound to uids' : ''}`,
    () => JSON.stringify(last),
    100,
  );
}
