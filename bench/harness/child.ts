import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReadyEvent, RpcRequest, RpcResponse } from './ipc.js';
import { withTimeout } from './timeout.js';

/** Last bytes of output kept per child, printed when it fails. */
const TAIL = 8_000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Options of a child process. */
export interface ChildOptions {
  /** Node flags, e.g. `--expose-gc`, `--cpu-prof`. */
  execArgv?: string[];
  env?: Record<string, string>;
  /** Working directory (where `--cpu-prof` writes its profile). */
  cwd?: string;
}

/**
 * A Node process started by the harness (a server tier, a client driver, the pusher) that takes
 * commands over IPC. Each runs in its own process group so `kill()` takes everything it spawned
 * with it; every live child is tracked so `killAllChildren()` can clean up on any exit path.
 */
export class Child {
  private static readonly live = new Set<Child>();
  private static logSeq = 0;
  /** When set (`--logs`), every child's whole output also goes to `<logDir>/<n>-<name>.log`. */
  static logDir: string | null = null;
  readonly process: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private output = '';
  private readyInfo: Promise<unknown>;
  private exitError: Error | null = null;

  /** @param script path relative to the compiled bench directory (bench/dist/bench) */
  constructor(
    readonly name: string,
    script: string,
    args: string[] = [],
    options: ChildOptions = {},
  ) {
    const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
    // BENCH_CHILD_NODE_ARGS (e.g. "--trace-gc") goes to every child: a diagnostic hook.
    const extra = process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    this.process = spawn(process.execPath, [...(options.execArgv ?? []), ...extra, path, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });
    Child.live.add(this);
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-TAIL);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    if (Child.logDir) {
      mkdirSync(Child.logDir, { recursive: true });
      const file = createWriteStream(join(Child.logDir, `${String(++Child.logSeq).padStart(3, '0')}-${name.replace(/\W+/g, '-')}.log`));
      this.process.stdout!.pipe(file);
      this.process.stderr!.pipe(file);
    }
    this.readyInfo = new Promise((resolve, reject) => {
      this.process.on('message', (m: RpcResponse | ReadyEvent) => {
        if ('event' in m && m.event === 'ready') return resolve(m.info);
        if ('rpc' in m) {
          const p = this.pending.get(m.rpc);
          if (!p) return;
          this.pending.delete(m.rpc);
          if (m.ok) p.resolve(m.result);
          else p.reject(new Error(`${this.name}: ${m.error}`));
        }
      });
      this.process.once('exit', (code, signal) => {
        Child.live.delete(this);
        this.exitError = new Error(`${this.name} exited (${signal ?? `code ${code}`}); its last output:\n${this.tail()}`);
        reject(this.exitError);
        for (const p of this.pending.values()) p.reject(this.exitError);
        this.pending.clear();
      });
    });
    // Nobody may be waiting yet; the rejection is seen by ready()/call() when it matters.
    this.readyInfo.catch(() => undefined);
  }

  /** The process id. */
  get pid(): number {
    return this.process.pid!;
  }

  /** Resolves with the child's ready info once it announced itself. */
  ready<T>(ms = 30_000): Promise<T> {
    return withTimeout(this.readyInfo as Promise<T>, ms, `${this.name} start`);
  }

  /** Runs a command in the child and resolves with its answer. */
  call<T>(cmd: string, args?: unknown, ms = 60_000): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const rpc = this.nextId++;
    const request: RpcRequest = { rpc, cmd, args };
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.process.send(request);
    return withTimeout(answer, ms, `${this.name} ${cmd}`).finally(() => this.pending.delete(rpc));
  }

  /** The last output of the child (stdout and stderr). */
  tail(): string {
    return this.output.trimEnd();
  }

  /** Resolves once the child has exited, or after `ms` (whichever comes first). */
  async exited(ms: number): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    await Promise.race([new Promise((r) => this.process.once('exit', r)), new Promise((r) => setTimeout(r, ms))]);
  }

  /** Sends `signal` to the child's process group and waits (up to `ms`) for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', ms = 5_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.process.once('exit', () => r()));
    killGroup(this.pid, signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, ms))]);
    if (this.process.exitCode === null && this.process.signalCode === null) killGroup(this.pid, 'SIGKILL');
  }

  /** SIGKILLs every child still running, synchronously (safe in an `exit` handler). */
  static killAll(): void {
    for (const c of Child.live) killGroup(c.pid, 'SIGKILL');
    Child.live.clear();
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}
