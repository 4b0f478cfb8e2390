import type { Logger } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import { duplicateWorker, invalidVerdict, workerConnected, workerDraining, workerLeft, workerStatsUnreadable } from '../gateway-worker.messages.js';
import { ExtensionCommand, webSocketConnectMode, WorkerFeature, type WebSocketVerdict } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import type { ProcessStats } from '../protocol/process-stats.js';
import type { EventForwarder } from './event-forwarder.js';
import type { GatewayCounters } from './gateway-counters.js';
import type { InnerConnection } from './inner-connection.js';
import type { InnerCommand, WorkerHello } from './inner-port.js';
import type { PendingHandshakes } from './pending-handshakes.js';
import type { WorkerRouter } from './worker-router.js';

/**
 * The BusinessWorkers' side of the internal port: registration (CMD_WORKER_CONNECT), and the
 * TypeScript extensions a worker sends — confirmations (flow control), status reports, drain,
 * websocket verdicts — plus what happens when a worker's link closes.
 */
export class WorkerCommands {
  constructor(
    private readonly router: WorkerRouter,
    private readonly forwarder: EventForwarder,
    private readonly pending: PendingHandshakes,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    /** The server's `workerConnected`/`workerClosed` events. */
    private readonly events: EventEmitter,
    /** The GATEWAY_INFO packet of this gateway (its listeners are known once it listens). */
    private readonly gatewayInfo: () => Buffer,
  ) {}

  /** The command table entries. */
  commands(): [number, InnerCommand][] {
    return [
      [ExtensionCommand.EVENTS_HANDLED, { access: 'worker', handle: (conn, p) => this.forwarder.confirmed(conn, p.connectionId) }],
      [ExtensionCommand.WORKER_STATS, { access: 'worker', handle: (conn, p) => this.stats(conn, p.body) }],
      [ExtensionCommand.WORKER_DRAIN, { access: 'worker', handle: (conn) => this.drain(conn) }],
      [ExtensionCommand.WEBSOCKET_VERDICT, { access: 'worker', handle: (conn, p) => this.verdict(conn, p.connectionId, p.body) }],
    ];
  }

  /**
   * An authenticated CMD_WORKER_CONNECT: the worker is registered under `"<remoteIp>:<worker_key>"`
   * unless that name is connected already (refused: the running worker keeps its link).
   */
  register(conn: InnerConnection, hello: WorkerHello): boolean {
    const key = `${conn.socket.remoteAddress?.replace(/^::ffff:/, '')}:${hello.workerKey}`;
    const features = Array.isArray(hello.body.features) ? (hello.body.features as unknown[]) : [];
    conn.webSocketConnectMode = webSocketConnectMode(hello.body);
    conn.wantsGatewayInfo = features.includes(WorkerFeature.GATEWAY_INFO);
    conn.flowControl = features.includes(WorkerFeature.FLOW_CONTROL);
    conn.resumeEvents = features.includes(WorkerFeature.RESUME_EVENTS);
    if (!this.router.add(key, conn)) {
      this.counters.limits.duplicateWorker++;
      this.logger.warn(duplicateWorker(key, conn.name));
      return false;
    }
    conn.workerKey = key;
    if (conn.wantsGatewayInfo) conn.send(this.gatewayInfo());
    const notice = conn.flowControl ? this.forwarder.takeHungNotice(key) : null;
    if (notice) conn.send(notice);
    this.logger.log(workerConnected(key, this.router.size));
    this.events.emit('workerConnected', key);
    this.forwarder.workersChanged();
    return true;
  }

  /** A link closed: if it was a registered worker, its handshakes fail and its events are accounted for. */
  closed(conn: InnerConnection): void {
    const key = conn.workerKey;
    if (!key) return;
    this.pending.failWorker(key);
    // Not registered any more when it was declared hung: already accounted for.
    if (!this.router.remove(key, conn)) return;
    this.forwarder.workerGone(conn, key);
    this.logger.log(workerLeft(key, conn.draining, this.router.size));
    this.events.emit('workerClosed', key);
  }

  private stats(conn: InnerConnection, body: Buffer): void {
    try {
      conn.stats = JSON.parse(body.toString()) as ProcessStats;
    } catch {
      this.logger.warn(workerStatsUnreadable(conn.workerKey!));
    }
  }

  /**
   * WORKER_DRAIN: no new client for it, its clients' next events wait until it has gone; the
   * acknowledgement tells it that no event follows.
   */
  private drain(conn: InnerConnection): void {
    conn.draining = true;
    this.router.drain(conn.workerKey!);
    this.logger.log(workerDraining(conn.workerKey!));
    conn.send(encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_DRAIN, flag: FLAG_BODY_IS_SCALAR }));
  }

  /** A worker's verdict on a held websocket handshake. */
  private verdict(conn: InnerConnection, connectionId: number, body: Buffer): void {
    let verdict: WebSocketVerdict;
    try {
      const v = JSON.parse(body.toString()) as Partial<WebSocketVerdict> | null;
      verdict = { status: typeof v?.status === 'number' ? v.status : 500, message: typeof v?.message === 'string' ? v.message : undefined };
    } catch {
      this.logger.warn(invalidVerdict(conn.name));
      verdict = { status: 500 };
    }
    this.pending.settle(connectionId, conn.workerKey!, verdict);
  }
}
