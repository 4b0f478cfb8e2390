/**
 * Rate-limits repeated log lines per key (a peer, a client, a limit): a limit that bites a
 * thousand times a second is logged once per interval, with the count of what was not logged,
 * so an attacker cannot flood the log and an operator still sees every kind of event.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 10_000) {}

  /**
   * Calls `log(suppressed)` unless `key` was logged less than an interval ago; `suppressed` is how
   * many calls for that key were skipped since its last line.
   */
  hit(key: string, log: (suppressed: number) => void, now = Date.now()): void {
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    if (this.last.size >= 1000) this.prune(now);
    this.last.set(key, { at: now, suppressed: 0 });
    log(entry?.suppressed ?? 0);
  }

  /** Forgets keys whose interval is over, so the map stays small whatever the keys. */
  private prune(now: number): void {
    for (const [key, e] of this.last) if (now - e.at >= this.intervalMs) this.last.delete(key);
    // Still full (1,000 distinct keys within one interval): start over rather than grow.
    if (this.last.size >= 1000) this.last.clear();
  }
}
