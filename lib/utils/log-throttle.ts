import type { LoggerService } from '@nestjs/common';

/** Keys remembered at most; past that, old ones are forgotten and the rest share one budget. */
const MAX_KEYS = 1024;

/**
 * Rate-limits a warning per key (e.g. a peer's address): the first one is logged, those within
 * `intervalMs` after it are only counted, and the next one logged says how many were not. So a
 * hostile or broken peer cannot flood the log, and nothing goes unmentioned.
 */
export class LogThrottle {
  private readonly keys = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 10_000) {}

  /** Logs `message` as a warning unless `key` had one logged within the interval. */
  warn(logger: Pick<LoggerService, 'warn'>, key: string, message: string): void {
    const line = this.admit(key);
    if (line !== null) logger.warn(line(message));
  }

  /** The same, at log level (a limit that is working as designed, such as flow control). */
  log(logger: Pick<LoggerService, 'log'>, key: string, message: string): void {
    const line = this.admit(key);
    if (line !== null) logger.log(line(message));
  }

  /** Null when `key` is within its interval (counted); otherwise how to word the line. */
  private admit(key: string): ((message: string) => string) | null {
    const now = Date.now();
    if (!this.keys.has(key) && this.keys.size >= MAX_KEYS) {
      for (const [k, v] of this.keys) if (now - v.at >= this.intervalMs) this.keys.delete(k);
      if (this.keys.size >= MAX_KEYS) key = '*';
    }
    const entry = this.keys.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.keys.set(key, { at: now, suppressed: 0 });
    return (message) => (suppressed > 0 ? `${message} (${suppressed} more like it since the previous one, not logged)` : message);
  }
}
