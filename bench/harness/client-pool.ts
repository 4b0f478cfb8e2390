import type { ClientKind } from '../clients/connections.js';
import { Child } from './child.js';

/** What `ClientPool.open` reports, over all client processes. */
export interface OpenResult {
  opened: number;
  failed: number;
  firstError: string;
  /** When the first process started connecting, and when the last connection was up (µs, monotonic). */
  startUs: number;
  endUs: number;
  /** The slowest process's median and p99 time to open one connection. */
  p50Us: number;
  p99Us: number;
}

/** How many connections and of what kind, spread over the client processes. */
export interface OpenSpec {
  kind: ClientKind;
  port: number;
  count: number;
  /** Handshakes in flight per process. */
  concurrency: number;
  hello?: boolean;
  /** Bind each connection to a uid and a group (`groups` groups); uids are numbered from 0 across processes. */
  login?: { groups: number };
}

/** Client driver processes (clients/client.main.ts), started together and commanded together. */
export class ClientPool {
  private opened = 0;

  private constructor(readonly procs: Child[]) {}

  /** Starts `n` client processes. */
  static async start(n: number): Promise<ClientPool> {
    const procs = Array.from({ length: n }, (_, i) => new Child(`client ${i}`, 'clients/client.main.js'));
    const pool = new ClientPool(procs);
    try {
      await Promise.all(procs.map((p) => p.ready()));
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  /** The first process (it holds connection 0, the sender in S4 and S5). */
  get first(): Child {
    return this.procs[0]!;
  }

  /**
   * Opens `spec.count` connections, split evenly over the processes, all processes at once.
   * Throws if any failed.
   */
  async open(spec: OpenSpec, ms = 120_000): Promise<OpenResult> {
    const n = this.procs.length;
    const base = Math.floor(spec.count / n);
    let first = this.opened;
    const parts = this.procs.map((p, i) => {
      const count = base + (i < spec.count % n ? 1 : 0);
      const login = spec.login ? { first, groups: spec.login.groups } : null;
      first += count;
      return count === 0
        ? null
        : p.call<OpenResult>('open', { kind: spec.kind, port: spec.port, count, concurrency: spec.concurrency, hello: !!spec.hello, login }, ms);
    });
    const results = (await Promise.all(parts)).filter((r): r is OpenResult => r !== null);
    this.opened = first;
    const r: OpenResult = {
      opened: sum(results.map((x) => x.opened)),
      failed: sum(results.map((x) => x.failed)),
      firstError: results.map((x) => x.firstError).find(Boolean) ?? '',
      startUs: Math.min(...results.map((x) => x.startUs)),
      endUs: Math.max(...results.map((x) => x.endUs)),
      p50Us: Math.max(...results.map((x) => x.p50Us)),
      p99Us: Math.max(...results.map((x) => x.p99Us)),
    };
    if (r.failed) throw new Error(`${r.failed} of ${spec.count} ${spec.kind} connections failed: ${r.firstError}`);
    return r;
  }

  /** Runs a command in every process. */
  all<T>(cmd: string, args?: unknown, ms?: number): Promise<T[]> {
    return Promise.all(this.procs.map((p) => p.call<T>(cmd, args, ms)));
  }

  /** The receive counters of every process, summed (times, keys ending in `Us`: the latest). */
  async counts(): Promise<Record<string, number>> {
    const all = await this.all<Record<string, number>>('counts');
    const total: Record<string, number> = {};
    for (const c of all) {
      for (const [k, v] of Object.entries(c)) total[k] = k.endsWith('Us') ? Math.max(total[k] ?? 0, v) : (total[k] ?? 0) + v;
    }
    return total;
  }

  /** Closes every connection and stops the processes. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL', 3_000)));
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
