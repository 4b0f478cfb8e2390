import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { ProcessUsage, RpcRequest, RpcResponse } from './ipc.js';

/** A command handler of a child process; its return value (or promise) is the answer. */
export type RpcHandler = (args: any) => unknown;

/** This process's CPU time so far and its memory now. */
export function usage(): ProcessUsage {
  const cpu = process.cpuUsage();
  const m = process.memoryUsage();
  return { cpuUs: cpu.user + cpu.system, rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/**
 * Memory after two full collections (needs `--expose-gc`), so per-connection numbers are not
 * polluted by garbage.
 */
export function usageAfterGc(): ProcessUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc to measure memory after GC');
  gc();
  gc();
  return usage();
}

let profiler: Session | null = null;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))),
  );
}

/** Starts V8's CPU profiler in this process (the window the harness wants, not the startup). */
async function profileStart(): Promise<void> {
  if (profiler) return;
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.setSamplingInterval', { interval: 200 });
  await post(profiler, 'Profiler.start');
}

/** Stops the profiler and writes the profile (`.cpuprofile`, readable by Chrome DevTools) to `file`. */
async function profileStop(file: string): Promise<void> {
  if (!profiler) return;
  const { profile } = await post<{ profile: unknown }>(profiler, 'Profiler.stop');
  profiler.disconnect();
  profiler = null;
  writeFileSync(file, JSON.stringify(profile));
}

/**
 * Answers the harness's commands in a child process. `usage`, `gcUsage`, `profileStart`,
 * `profileStop` and `exit` are built in.
 * The child exits when the IPC channel closes, so a harness that dies (even by SIGKILL) leaves
 * nothing behind.
 */
export function serveRpc(handlers: Record<string, RpcHandler>): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this is a bench child process: start it through the bench harness (it needs an IPC channel)');
  const all: Record<string, RpcHandler> = {
    usage,
    gcUsage: usageAfterGc,
    exit: () => void setImmediate(() => process.exit(0)),
    profileStart,
    profileStop,
    ...handlers,
  };
  process.on('message', async (m: RpcRequest) => {
    if (!m || typeof m.rpc !== 'number') return;
    const handler = all[m.cmd];
    let reply: RpcResponse;
    try {
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      reply = { rpc: m.rpc, ok: true, result: await handler(m.args) };
    } catch (err) {
      reply = { rpc: m.rpc, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    if (process.connected) send(reply);
  });
  process.on('disconnect', () => process.exit(0));
}

/** Tells the harness this child is ready, with whatever it needs to know (ports…). */
export function announceReady(info: unknown = {}): void {
  process.send?.({ event: 'ready', info });
}
