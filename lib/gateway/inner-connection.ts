import type { Socket } from 'node:net';
import type { ProcessStats } from '../protocol/process-stats.js';
import type { WebSocketConnectMode } from '../protocol/extension-command.js';
import { corkForThisTurn } from '../utils/write-batch.js';

/**
 * A connection on a gateway's internal port: a BusinessWorker's worker connection (after
 * CMD_WORKER_CONNECT) or a caller's client connection (GatewayClient, worker queries). It only
 * writes and remembers; the inner port reads it and the command handlers decide.
 */
export class InnerConnection {
  authorized: boolean;
  /** Set once CMD_WORKER_CONNECT registered it as a worker. */
  workerKey: string | null = null;
  /** The worker's last status report (WORKER_STATS), for `gateway-worker status`. */
  stats: ProcessStats | null = null;
  /** When the link started holding a half-received packet (0: none). */
  partialSince = 0;
  /** When anything last arrived on this link. */
  lastHeard = Date.now();
  /** The worker announced it is stopping (WORKER_DRAIN). */
  draining = false;
  /** Packets dropped because this link's send buffer was full. */
  dropped = 0;
  /** How this worker's websocket handshakes go, from the features in its CMD_WORKER_CONNECT. */
  webSocketConnectMode: WebSocketConnectMode = 'event';
  /** The worker asked for GATEWAY_INFO (a TypeScript worker). */
  wantsGatewayInfo = false;
  /** The worker confirms each event, naming the client: its clients get flow control, and it can be declared hung. */
  flowControl = false;
  /** The worker takes CLIENT_DISCONNECTED / CLIENT_RESUMED events (resumable clients). */
  resumeEvents = false;
  /** Events forwarded to this worker, and how many it confirmed handling. */
  eventsSent = 0;
  eventsAcked = 0;
  /** When the worker last went from no outstanding event to some (hang detection starts there). */
  outstandingSince = 0;
  readonly name: string;

  constructor(
    readonly socket: Socket,
    /** Bytes this link may queue before further droppable packets are dropped. */
    private readonly bufferLimit: number,
    secretKey: string,
  ) {
    this.authorized = secretKey === '';
    this.name = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** Events sent and not confirmed. */
  get outstanding(): number {
    return this.eventsSent - this.eventsAcked;
  }

  /** True when the next packet of `size` bytes exceeds the link's buffer limit (an empty buffer takes any packet). */
  saturated(size: number): boolean {
    const queued = this.socket.writableLength;
    return queued > 0 && queued + size > this.bufferLimit;
  }

  /**
   * Writes a packet that may be dropped when the link is saturated (PHP's behaviour, for workers
   * without flow control and for keepalives), coalesced per event-loop turn. False when dropped.
   */
  write(packet: Buffer): boolean {
    if (this.socket.destroyed) return false;
    if (this.saturated(packet.length)) {
      this.dropped++;
      return false;
    }
    this.send(packet);
    return true;
  }

  /**
   * Writes a packet that must not be dropped: a budgeted event (flow control bounds what is
   * queued) or a query reply (the caller checks the peer reads). Coalesced per event-loop turn.
   */
  send(packet: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    corkForThisTurn(socket);
    socket.write(packet);
  }

  /**
   * A query reply (docs/protocol.md §2.9): uint32 length, then the serialized bytes; corked for
   * the turn, so the length, the reply and any other replies to the same request chunk leave in
   * one write.
   */
  reply(bytes: Buffer): void {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(bytes.length, 0);
    this.send(head);
    this.send(bytes);
  }
}
