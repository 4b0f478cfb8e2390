/** An event whose handlers have not settled yet. */
export interface PendingEvent {
  /** `performance.now()` after which it has timed out. */
  deadline: number;
  /** Called once, when the deadline passes before the event settles. */
  expire(): void;
}

/**
 * The `eventTimeout` of every event in flight, checked by one sweep instead of a timer per event
 * (a `setTimeout` + `clearTimeout` per event showed in the worker's profile). All events get the
 * same timeout, so insertion order is deadline order and the sweep stops at the first event that
 * is still in time. The interval runs only while events are (or were, a period ago) in flight, and
 * its period (a tenth of the timeout, 10 ms to 1 s) bounds how late an expiry can be.
 */
export class EventDeadlines {
  private readonly pending = new Set<PendingEvent>();
  private timer: NodeJS.Timeout | null = null;
  private readonly period: number;

  constructor(readonly timeout: number) {
    this.period = Math.min(1000, Math.max(10, Math.round(timeout / 10)));
  }

  /** Starts watching an event that went asynchronous; returns it, for `settle()`. */
  track(expire: () => void): PendingEvent {
    const event: PendingEvent = { deadline: performance.now() + this.timeout, expire };
    this.pending.add(event);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.period);
      this.timer.unref();
    }
    return event;
  }

  /**
   * The event settled (in time or not): stop watching it. The interval is left running until a
   * sweep finds nothing in flight: with one event at a time, stopping and re-arming it per event
   * would cost the very timer calls this class exists to avoid.
   */
  settle(event: PendingEvent): void {
    this.pending.delete(event);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    const now = performance.now();
    for (const event of this.pending) {
      if (event.deadline > now) break;
      this.pending.delete(event);
      event.expire();
    }
    if (this.pending.size === 0) this.stop();
  }
}
