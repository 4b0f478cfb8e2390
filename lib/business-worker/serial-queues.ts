/**
 * One FIFO per key, each drained by one runner at a time: a client's events are handled in order,
 * even when handlers are async, while different clients run concurrently (docs/architecture.md §2.6).
 * Queues exist only while they hold work, so memory does not grow with the number of clients.
 *
 * The runner gets a `done` callback instead of returning a promise: an event whose handlers
 * finish synchronously moves the queue on in the same turn with no promise at all (on Node 20,
 * with AsyncLocalStorage active, every promise costs promise-hook calls), and the event timeout
 * can release a queue whose handler never settles without racing promises.
 */
export class SerialQueues<T> {
  private readonly queues = new Map<string, T[]>();
  private idleWaiters: (() => void)[] = [];

  /**
   * @param run handles one item and calls `done` once when the next item of the key may start
   *   (later calls are ignored); a synchronous throw counts as done.
   */
  constructor(private readonly run: (item: T, done: () => void) => void) {}

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
    this.drain(key, item);
  }

  /** Resolves once no work is in progress (for a graceful stop). */
  idle(): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs `item` and what follows it; loops (no recursion) while items complete synchronously. */
  private drain(key: string, first: T): void {
    let item: T | undefined = first;
    while (item !== undefined) {
      let returned = false;
      let finishedInline = false;
      let called = false;
      const done = () => {
        if (called) return;
        called = true;
        if (!returned) finishedInline = true;
        else {
          const next = this.next(key);
          if (next !== undefined) this.drain(key, next);
        }
      };
      try {
        this.run(item, done);
      } catch {
        // run() reports its own errors; one failure must not stall the client's queue.
        done();
      }
      returned = true;
      if (!finishedInline) return;
      item = this.next(key);
    }
  }

  /** The key's next item, or undefined after forgetting the (now empty) queue. */
  private next(key: string): T | undefined {
    const item = this.queues.get(key)!.shift();
    if (item !== undefined) return item;
    this.queues.delete(key);
    if (this.queues.size === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    return undefined;
  }
}
