/**
 * A request counter with its rate over the last whole second — the QPS column of `status` —
 * sampled by one unref'd timer per meter, not per request.
 */
export class RateMeter {
  total = 0;
  private lastTotal = 0;
  private rate = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      this.rate = this.total - this.lastTotal;
      this.lastTotal = this.total;
    }, 1000);
    this.timer.unref();
  }

  /** Requests counted during the last second. */
  get perSecond(): number {
    return this.rate;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
