import cluster, { type Worker } from 'node:cluster';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type { GatewayWorkerTier } from '../gateway-worker.bootstrap.js';
import { tierNotReady } from '../gateway-worker.messages.js';
import type { ResolvedCliConfig } from './cli.config.js';
import { ENV_GENERATION, ENV_PROCESS_INDEX, READY_MESSAGE } from '../gateway-worker.constants.js';


/** One managed process, as `status` shows it. */
export interface ManagedProcess {
  tier: GatewayWorkerTier | 'process';
  index: number;
  pid: number;
  generation: number;
  startedAt: number;
  restarts: number;
  state: 'starting' | 'running' | 'stopping';
}

interface Slot extends ManagedProcess {
  worker: Worker;
  entry: string;
}

const READY_TIMEOUT = 20_000;
const CRASH_BACKOFF = 1_000;

/**
 * The master process of `gateway-worker start`: forks `count` processes per tier with Node's
 * cluster module (so several gateway processes share the public port, each with its own internal
 * port `startPort + index`), restarts crashed ones, rolls business workers on `reload` one at a
 * time, and stops everything gracefully: workers first (they finish in-flight events), then
 * gateways (they close clients cleanly), then the Register.
 */
export class ProcessManager {
  private readonly slots = new Set<Slot>();
  private stopping = false;
  private reloading: Promise<void> | null = null;
  private generation = 0;

  constructor(
    private readonly config: ResolvedCliConfig,
    private readonly log: (line: string) => void,
    /** Where the process table is written for `status` (JSON). */
    private readonly stateFile: string,
  ) {
    // Let the OS spread connections over the gateway processes sharing a port (no hand-off
    // through the master, which would cost a syscall and an IPC message per connection).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
  }

  /** The managed processes. */
  get processes(): ManagedProcess[] {
    return [...this.slots].map(({ worker: _w, entry: _e, ...p }) => p);
  }

  /** Starts every tier (Register first) and resolves once every process reported ready. */
  async start(): Promise<void> {
    for (const tier of ['register', 'gateway', 'business-worker', 'process'] as const) {
      for (const spec of this.config.tiers.filter((t) => t.tier === tier)) {
        // Stopped while starting (Ctrl-C): start nothing more.
        if (this.stopping) return;
        await Promise.all(Array.from({ length: spec.count }, (_, i) => this.fork(tier, i, spec.entry, 0)));
      }
    }
    this.log(`started ${this.slots.size} processes: ${this.summary()}`);
  }

  /**
   * Rolling restart of the business workers, picking up new code: for each worker, a replacement
   * starts and connects before the old one is asked to stop. Gateways and their clients stay.
   */
  reload(): Promise<void> {
    if (this.reloading) return this.reloading;
    this.reloading = (async () => {
      this.generation++;
      const old = [...this.slots].filter((s) => s.tier === 'business-worker');
      this.log(`reload: replacing ${old.length} business worker process(es)`);
      for (const slot of old) {
        if (this.stopping) break;
        const fresh = await this.fork('business-worker', slot.index, slot.entry, slot.restarts, this.generation);
        this.log(`reload: business-worker ${slot.index} pid ${slot.pid} → ${fresh.pid}`);
        await this.stopSlot(slot);
      }
      this.log('reload: done');
    })().finally(() => (this.reloading = null));
    return this.reloading;
  }

  /** Stops everything gracefully, killing what does not stop within `stopTimeout`. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.reloading?.catch(() => undefined);
    for (const tier of ['process', 'business-worker', 'gateway', 'register'] as const) {
      await Promise.all([...this.slots].filter((s) => s.tier === tier).map((s) => this.stopSlot(s)));
    }
    this.writeState();
  }

  private summary(): string {
    const counts = new Map<string, number>();
    for (const s of this.slots) counts.set(s.tier, (counts.get(s.tier) ?? 0) + 1);
    return [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
  }

  private fork(tier: ManagedProcess['tier'], index: number, entry: string, restarts: number, generation = this.generation): Promise<Slot> {
    cluster.setupPrimary({ exec: entry, silent: false });
    const worker = cluster.fork({ [ENV_PROCESS_INDEX]: String(index), [ENV_GENERATION]: String(generation) });
    const slot: Slot = { tier, index, pid: worker.process.pid!, generation, startedAt: Date.now(), restarts, state: 'starting', worker, entry };
    this.slots.add(slot);
    this.writeState();
    worker.on('exit', (code, signal) => this.onExit(slot, code, signal));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(tierNotReady(tier, index, slot.pid, READY_TIMEOUT))), READY_TIMEOUT);
      // Plain processes are ready when they run; tiers say so once they serve.
      const readyOn = tier === 'process' ? 'online' : 'message';
      const onMessage = (msg?: unknown) => {
        if (readyOn === 'message' && msg !== READY_MESSAGE) return;
        clearTimeout(timer);
        worker.off(readyOn, onMessage);
        slot.state = 'running';
        this.writeState();
        resolve(slot);
      };
      worker.on(readyOn, onMessage);
      worker.once('exit', () => {
        clearTimeout(timer);
        if (slot.state === 'starting') reject(new Error(`${tier} ${index} exited while starting; see its log`));
      });
    });
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.slots.delete(slot);
    this.writeState();
    if (slot.state === 'stopping' || this.stopping) return;
    this.log(`${slot.tier} ${slot.index} (pid ${slot.pid}) exited with ${signal ?? `code ${code}`}; restarting`);
    // A process that dies right after starting is not restarted in a tight loop.
    const delay = Date.now() - slot.startedAt < 5_000 ? CRASH_BACKOFF * 5 : CRASH_BACKOFF;
    setTimeout(() => {
      if (this.stopping) return;
      this.fork(slot.tier, slot.index, slot.entry, slot.restarts + 1, slot.generation).then(
        (fresh) => this.log(`${fresh.tier} ${fresh.index} restarted as pid ${fresh.pid}`),
        (err: Error) => this.log(`restart failed: ${err.message}`),
      );
    }, delay);
  }

  private async stopSlot(slot: Slot): Promise<void> {
    slot.state = 'stopping';
    if (slot.worker.isDead()) return;
    const exited = new Promise<void>((r) => slot.worker.once('exit', () => r()));
    slot.worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.log(`${slot.tier} ${slot.index} (pid ${slot.pid}) did not stop within ${this.config.stopTimeout} ms; killing it`);
      slot.worker.process.kill('SIGKILL');
    }, this.config.stopTimeout);
    await exited;
    clearTimeout(timer);
    if (this.stopping) this.log(`${slot.tier} ${slot.index} (pid ${slot.pid}) stopped`);
  }

  /** Removes the process table file (once everything has stopped). */
  removeState(): void {
    rmSync(this.stateFile, { force: true });
  }

  private writeState(): void {
    // Written aside and renamed: `status` may read it at any moment and must never see half a file.
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ name: this.config.name, master: process.pid, processes: this.processes }, null, 2));
    renameSync(tmp, this.stateFile);
  }
}
