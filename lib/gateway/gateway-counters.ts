import type { ResumeCounts } from '../protocol/process-stats.js';

/**
 * The limits of a gateway process, by the name `status` and the metrics give them. Each count is
 * the number of times that limit bit (a message dropped, a client paused or closed, a peer refused).
 */
export interface GatewayLimitCounts {
  /** A message to a client dropped: its send buffer was full (`slowClientPolicy: 'drop'`). */
  slowClientDrop: number;
  /** A client closed because its send buffer was full (`slowClientPolicy: 'close'`). */
  slowClientClose: number;
  /** A client closed for a message over `maxPackageSize` (or a malformed frame). */
  clientMessageTooLarge: number;
  /** A client or internal link closed for a frame left half-sent (`stalledFrameTimeout`). */
  stalledFrame: number;
  /** A client connection refused (`maxConnectionsPerIp`). */
  clientConnectionsPerIp: number;
  /** An internal-port connection refused (`innerMaxConnectionsPerIp`). */
  innerConnectionsPerIp: number;
  /** An internal-port connection refused: not local, and no secretKey set (`protectedMode`). */
  protectedMode: number;
  /** An internal packet over `innerMaxPackageSize`, skipped. */
  innerPacketTooLarge: number;
  /** A client's event that could not fit an internal packet (message + session); the client was closed. */
  eventTooLarge: number;
  /** An event to a worker without flow control (PHP) dropped: the link's buffer was full. */
  workerLinkDrop: number;
  /** Events dropped because they waited for a worker longer than `workerWaitWindow`. */
  waitExpired: number;
  /** A client's reading paused because its events in flight reached the budget (flow control). */
  flowControlPause: number;
  /** A worker declared hung (`workerHangTimeout`). */
  workerHung: number;
  /** A worker connection refused: its name is already connected. */
  duplicateWorker: number;
  /** An internal connection closed because it did not read its query replies. */
  unreadReplies: number;
}

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
  /** Events a worker received but never confirmed handling before it disconnected or hung (lost with it). */
  eventsLost = 0;
  /** Resumable clients: parked, resumed, handed over, expired, overflowed, refused. */
  readonly resume: ResumeCounts = { parked: 0, resumes: 0, handovers: 0, handedOff: 0, expiries: 0, overflows: 0, refused: 0 };
  /** How often each limit bit. */
  readonly limits: GatewayLimitCounts = {
    slowClientDrop: 0,
    slowClientClose: 0,
    clientMessageTooLarge: 0,
    stalledFrame: 0,
    clientConnectionsPerIp: 0,
    innerConnectionsPerIp: 0,
    protectedMode: 0,
    innerPacketTooLarge: 0,
    eventTooLarge: 0,
    workerLinkDrop: 0,
    waitExpired: 0,
    flowControlPause: 0,
    workerHung: 0,
    duplicateWorker: 0,
    unreadReplies: 0,
  };
}
