/** How often the monitor's timer runs, ms. */
const TICK = 100;
/** How long a measured delay counts, ms: a stall shows for this long after it ended. */
const WINDOW = 5_000;

/**
 * Measures how late the event loop runs a 100 ms timer (timer drift): a loop blocked by
 * synchronous work, a GC storm or CPU starvation runs it late by as much. `delay` is the largest
 * lateness of the last 5 seconds, including the current one if the timer is overdue right now.
 * The timer is unref'd: it never keeps the process alive.
 */
export class EventLoopMonitor {
  private timer: NodeJS.Timeout | null = null;
  private lastTick = 0;
  /** [time, lateness] of recent ticks that were late at all. */
  private late: [number, number][] = [];

  start(): void {
    if (this.timer) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const lateness = Math.max(0, now - this.lastTick - TICK);
      this.lastTick = now;
      if (lateness >= 1) this.late.push([now, lateness]);
      while (this.late.length && this.late[0]![0] < now - WINDOW) this.late.shift();
    }, TICK).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The largest event-loop delay of the last 5 seconds, ms (rounded). */
  get delay(): number {
    const now = performance.now();
    let max = this.timer ? Math.max(0, now - this.lastTick - TICK) : 0;
    for (const [at, lateness] of this.late) if (at >= now - WINDOW && lateness > max) max = lateness;
    return Math.round(max);
  }
}
