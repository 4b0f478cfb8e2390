import type { InnerConnection } from './inner-connection.js';
import type { ClientConnection } from './client-connection.js';

/**
 * Binds each client to one worker connection and keeps it there (PHP's "bind" router,
 * docs/protocol.md §5.5). Least-connections counts assignments per worker, as PHP does; a client
 * whose worker has gone is re-bound on its next event.
 */
export class WorkerRouter {
  /** Worker key (`"<remoteIp>:<name>:<index>"`) → connection, in connection order. */
  readonly workers = new Map<string, InnerConnection>();
  /** Least-connections counters of the workers that take new clients (not the draining ones). */
  private readonly counts = new Map<string, number>();
  private readonly draining = new Set<string>();

  constructor(private readonly mode: 'least-connections' | 'random') {}

  get size(): number {
    return this.workers.size;
  }

  /** Registers a worker; false (nothing changed) when a live connection already has its key. */
  add(key: string, conn: InnerConnection): boolean {
    const old = this.workers.get(key);
    if (old && old !== conn && !old.socket.destroyed) return false;
    this.workers.delete(key);
    this.workers.set(key, conn);
    this.counts.set(key, 0);
    return true;
  }

  /** Forgets a worker connection (only if it is still the registered one for its key). */
  remove(key: string, conn: InnerConnection): boolean {
    if (this.workers.get(key) !== conn) return false;
    this.workers.delete(key);
    this.counts.delete(key);
    this.draining.delete(key);
    return true;
  }

  /** The worker is stopping: it gets no new client, and its clients' events wait until it is gone. */
  drain(key: string): void {
    if (!this.workers.has(key)) return;
    this.draining.add(key);
    this.counts.delete(key);
  }

  /** Number of workers taking new clients. */
  get available(): number {
    return this.counts.size;
  }

  /**
   * The worker for this client, binding it first if needed. Null when no worker can take the event
   * now: none is connected, or the client's worker is draining (its events must wait for it to
   * finish, or they could overtake the ones it still handles).
   */
  route(client: ClientConnection): InnerConnection | null {
    if (client.workerKey !== null) {
      const bound = this.workers.get(client.workerKey);
      if (bound) return this.draining.has(client.workerKey) ? null : bound;
    }
    if (this.counts.size === 0) return null;
    let key: string;
    if (this.mode === 'random') {
      const keys = [...this.counts.keys()];
      key = keys[Math.floor(Math.random() * keys.length)]!;
    } else {
      let best = Infinity;
      key = '';
      for (const [k, n] of this.counts) {
        if (n < best) {
          best = n;
          key = k;
        }
      }
      this.counts.set(key, best + 1);
    }
    client.workerKey = key;
    return this.workers.get(key)!;
  }

  /** True when {@link route} would find a worker for this client now (without binding it). */
  canRoute(client: ClientConnection): boolean {
    if (client.workerKey !== null && this.workers.has(client.workerKey)) return !this.draining.has(client.workerKey);
    return this.counts.size > 0;
  }

  /** A bound client closed: its worker's count goes down (never below 0). */
  release(client: ClientConnection): void {
    if (client.workerKey === null || this.mode !== 'least-connections') return;
    const n = this.counts.get(client.workerKey);
    if (n !== undefined && n > 0) this.counts.set(client.workerKey, n - 1);
  }
}
