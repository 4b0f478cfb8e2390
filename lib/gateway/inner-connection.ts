import type { Socket } from 'node:net';
import type { ProcessStats } from '../protocol/process-stats.js';
import { GatewayPacketReader } from '../protocol/gateway-packet.reader.js';
import { corkForThisTurn } from '../utils/write-batch.js';
import type { WebSocketConnectMode } from '../protocol/extension-command.js';

/**
 * A connection on a gateway's internal port: a BusinessWorker's worker connection (after
 * CMD_WORKER_CONNECT) or a caller's client connection (GatewayClient, worker queries).
 */
export class InnerConnection {
  authorized: boolean;
  /** Set once CMD_WORKER_CONNECT registered it as a worker. */
  workerKey: string | null = null;
  /** The worker's last status report (WORKER_STATS), for `gateway-worker status`. */
  stats: ProcessStats | null = null;
  /** When the link started holding a half-received packet (0: none). */
  partialSince = 0;
  /** The worker announced it is stopping (WORKER_DRAIN). */
  draining = false;
  /** Packets dropped because this link's send buffer was full. */
  dropped = 0;
  /** How this worker's websocket handshakes go, from the features in its CMD_WORKER_CONNECT. */
  webSocketConnectMode: WebSocketConnectMode = 'event';
  /** The worker asked for GATEWAY_INFO (a TypeScript worker). */
  wantsGatewayInfo = false;
  /** The worker confirms handled events (EVENTS_HANDLED). */
  acksEvents = false;
  /** Events forwarded to this worker, and how many it confirmed handling. */
  eventsSent = 0;
  eventsAcked = 0;
  readonly reader: GatewayPacketReader;
  readonly name: string;

  constructor(
    readonly socket: Socket,
    maxPacketSize: number,
    private readonly bufferLimit: number,
    secretKey: string,
  ) {
    this.authorized = secretKey === '';
    this.reader = new GatewayPacketReader(maxPacketSize);
    this.name = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** Writes a packet, coalesced per event-loop turn; false (dropped) when the link is saturated. */
  write(packet: Buffer): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    if (socket.writableLength >= this.bufferLimit) {
      this.dropped++;
      return false;
    }
    corkForThisTurn(socket);
    socket.write(packet);
    return true;
  }

  /**
   * A §2.9 query reply: uint32 length, then the serialized bytes, on this link. Never dropped for
   * a full buffer (the caller would wait for it forever); corked for the turn, so the length, the
   * reply and any other replies to the same request chunk leave in one write.
   */
  reply(bytes: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(bytes.length, 0);
    corkForThisTurn(socket);
    socket.write(head);
    socket.write(bytes);
  }
}
