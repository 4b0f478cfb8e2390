import type { ClientConnection } from './client-connection.js';
import type { WebSocketVerdict } from '../protocol/extension-command.js';

interface Pending {
  client: ClientConnection;
  workerKey: string;
  deadline: number;
  decide: (verdict: WebSocketVerdict) => void;
}

/**
 * Websocket handshakes held for a worker's `@OnWebSocketConnect` verdict. Every handshake has the
 * same timeout, so insertion order is deadline order: one timer, armed for the oldest, serves them
 * all (no timer per connection).
 */
export class PendingHandshakes {
  private readonly pending = new Map<number, Pending>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeoutMs: number,
    /** Called for each handshake that timed out, before it is refused with 503. */
    private readonly onTimeout: (client: ClientConnection, workerKey: string) => void,
  ) {}

  /** Handshakes waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** Holds `client`'s handshake until {@link settle}, the worker's loss, or the timeout. */
  add(client: ClientConnection, workerKey: string, decide: (verdict: WebSocketVerdict) => void): void {
    this.pending.set(client.id, { client, workerKey, deadline: Date.now() + this.timeoutMs, decide });
    this.arm();
  }

  /** Applies the verdict of `workerKey` for connection `id`; false when nothing of that worker waits. */
  settle(id: number, workerKey: string, verdict: WebSocketVerdict): boolean {
    const p = this.pending.get(id);
    if (!p || p.workerKey !== workerKey) return false;
    this.pending.delete(id);
    p.decide(verdict);
    return true;
  }

  /** The client went away while waiting. */
  drop(id: number): void {
    this.pending.delete(id);
  }

  /** The worker went away: its handshakes are refused (503), the browser retries. */
  failWorker(workerKey: string): void {
    for (const [id, p] of this.pending) {
      if (p.workerKey !== workerKey) continue;
      this.pending.delete(id);
      p.decide({ status: 503 });
    }
  }

  /** Refuses everything (gateway stopping). */
  clear(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const p of all) p.decide({ status: 503 });
  }

  private arm(): void {
    if (this.timer || this.pending.size === 0) return;
    const oldest = this.pending.values().next().value!;
    this.timer = setTimeout(() => this.expire(), Math.max(0, oldest.deadline - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(id);
      this.onTimeout(p.client, p.workerKey);
      p.decide({ status: 503 });
    }
    this.arm();
  }
}
