/**
 * One FIFO per key, each drained by one runner at a time: a client's events are handled in order,
 * even when handlers are async, while different clients run concurrently (DESIGN.md §2.6).
 * Queues exist only while they hold work, so memory does not grow with the number of clients.
 */
export class SerialQueues<T> {
  private readonly queues = new Map<string, T[]>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly run: (item: T) => Promise<void>) {}

  /** Number of keys with work in progress. */
  get active(): number {
    return this.queues.size;
  }

  /** Queues `item` behind the other items of `key`, starting it now if there are none. */
  push(key: string, item: T): void {
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(item);
      return;
    }
    this.queues.set(key, []);
    void this.drain(key, item);
  }

  /** Resolves once no work is in progress (for a graceful stop). */
  idle(): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(key: string, first: T): Promise<void> {
    let item: T | undefined = first;
    while (item !== undefined) {
      try {
        await this.run(item);
      } catch {
        // run() reports its own errors; one failure must not stall the client's queue.
      }
      item = this.queues.get(key)!.shift();
    }
    this.queues.delete(key);
    if (this.queues.size === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
