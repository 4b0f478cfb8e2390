/**
 * Running totals of one gateway process, read by `status` and the Prometheus metrics. Plain
 * numbers: the hot paths only add to them.
 */
export class GatewayCounters {
  /** Messages received from clients. */
  messagesIn = 0;
  /** Messages written (or queued) to clients. */
  messagesOut = 0;
  /** Messages to clients, and events to workers, dropped because a buffer was full. */
  sendFailures = 0;
  /** Events forwarded to workers. */
  eventsOut = 0;
  /** Events a worker received but had not confirmed handling when it disconnected (lost with it). */
  eventsLost = 0;
}
