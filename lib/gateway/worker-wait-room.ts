import type { ClientConnection } from './client-connection.js';

/** One client event waiting for a worker. */
export interface WaitingEvent {
  cmd: number;
  body: Buffer;
  flag: number;
}

interface Waiting {
  events: WaitingEvent[];
  bytes: number;
  since: number;
}

/** What the room does when a client's wait exceeds its window or its buffer. */
export type WorkerWaitPolicy = 'close' | 'drop';

/**
 * Client events that cannot go to a worker right now — none is connected, or the client's worker
 * is draining during a reload — wait here, in order, in a buffer bounded per client and in time,
 * and leave as soon as a worker can take them. GatewayWorker instead closes the client at once.
 * Events are kept as (cmd, body): the packet is built when they leave, with the session as it is
 * then (a draining worker may still write the session back).
 */
export class WorkerWaitRoom {
  private readonly waiting = new Map<ClientConnection, Waiting>();
  /** Events that waited and were then delivered. */
  delivered = 0;
  /** Events dropped because the window or the buffer was exceeded (policy `drop`, or the client was closed). */
  expired = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxBytes: number,
  ) {}

  /** Number of clients with waiting events. */
  get size(): number {
    return this.waiting.size;
  }

  /** Bytes held in all. */
  get bytes(): number {
    let n = 0;
    for (const w of this.waiting.values()) n += w.bytes;
    return n;
  }

  has(client: ClientConnection): boolean {
    return this.waiting.has(client);
  }

  /** Queues an event; false when the client's buffer is full (the caller applies the policy). */
  hold(client: ClientConnection, event: WaitingEvent): boolean {
    let w = this.waiting.get(client);
    if (!w) this.waiting.set(client, (w = { events: [], bytes: 0, since: Date.now() }));
    if (w.bytes + event.body.length > this.maxBytes) return false;
    w.events.push(event);
    w.bytes += event.body.length;
    return true;
  }

  /**
   * Hands waiting events over: for each client, `send` is tried for its events in order and stops
   * at the first refusal (no worker yet), keeping the rest.
   */
  flush(send: (client: ClientConnection, event: WaitingEvent) => boolean): void {
    for (const [client, w] of this.waiting) {
      let i = 0;
      while (i < w.events.length && send(client, w.events[i]!)) i++;
      this.delivered += i;
      if (i === w.events.length) this.waiting.delete(client);
      else if (i > 0) {
        for (const e of w.events.splice(0, i)) w.bytes -= e.body.length;
      }
    }
  }

  /** Removes the clients that waited longer than the window; returns them with their event counts. */
  expire(now = Date.now()): { client: ClientConnection; events: number }[] {
    const out: { client: ClientConnection; events: number }[] = [];
    for (const [client, w] of this.waiting) {
      if (now - w.since > this.windowMs) {
        this.waiting.delete(client);
        this.expired += w.events.length;
        out.push({ client, events: w.events.length });
      }
    }
    return out;
  }

  /** Drops a client's waiting events (buffer overflow); returns how many. */
  drop(client: ClientConnection): number {
    const w = this.waiting.get(client);
    if (!w) return 0;
    this.waiting.delete(client);
    this.expired += w.events.length;
    return w.events.length;
  }
}
