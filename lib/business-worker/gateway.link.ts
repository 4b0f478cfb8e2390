import { Logger } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import { oversizedPacketSkipped } from '../gateway-worker.messages.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { GatewayPacketReader } from '../protocol/gateway-packet.reader.js';
import { splitAddress } from '../utils/ip.util.js';
import { corkForThisTurn } from '../utils/write-batch.js';
import type { GatewayInfo, GatewayListenerInfo } from '../protocol/extension-command.js';

/** Options of a worker connection. */
export interface GatewayLinkOptions {
  address: string;
  workerKey: string;
  secretKey: string;
  /** TypeScript extensions this worker supports, announced in CMD_WORKER_CONNECT (a PHP gateway ignores them). */
  features: readonly string[];
  /** Local address to connect from (the worker's lanIp), if set. */
  localAddress?: string;
  connectTimeout: number;
  maxPacketSize: number;
  bufferLimit: number;
  onPacket: (packet: Buffer, link: GatewayLink) => void;
  onOpen: (link: GatewayLink) => void;
  /** `refused`: closed by the gateway right after connecting, with nothing received (wrong secret key). */
  onClose: (link: GatewayLink, reason: string, refused: boolean) => void;
}

/**
 * A BusinessWorker's "worker connection" to one gateway process (docs/protocol.md §6.3): it starts
 * with CMD_WORKER_CONNECT (queued before the TCP connect completes, as PHP does), then carries
 * events from the gateway and commands to it, in order.
 */
export class GatewayLink {
  readonly socket: Socket;
  /** Packets dropped because the link's send buffer was full. */
  dropped = 0;
  /** Events from this gateway handled so far (confirmed with EVENTS_HANDLED). */
  handled = 0;
  private open = false;
  private receivedAny = false;
  private openedAt = 0;
  private reason = '';
  private listeners: Map<number, GatewayListenerInfo> | null = null;

  constructor(private readonly options: GatewayLinkOptions) {
    const { address, connectTimeout, maxPacketSize } = options;
    const target = splitAddress(address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true, ...(options.localAddress && { localAddress: options.localAddress }) });
    this.socket = socket;
    socket.write(
      encodeGatewayPacket({
        cmd: GatewayCommand.WORKER_CONNECT,
        flag: FLAG_BODY_IS_SCALAR,
        // worker_key and secret_key first, as PHP's json_encode writes them; PHP gateways ignore the rest.
        body: Buffer.from(JSON.stringify({ worker_key: options.workerKey, secret_key: options.secretKey, features: options.features })),
      }),
    );
    socket.setTimeout(connectTimeout, () => socket.destroy(new Error(`connect timeout after ${connectTimeout} ms`)));
    const reader = new GatewayPacketReader(maxPacketSize);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 30_000);
      this.open = true;
      this.openedAt = Date.now();
      options.onOpen(this);
    });
    socket.on('data', (chunk) => {
      this.receivedAny = true;
      try {
        reader.push(chunk, (packet) => options.onPacket(packet, this), (big) => Logger.warn(oversizedPacketSkipped('BusinessWorker', `gateway ${address}`, big.cmd, big.connectionId, big.length, maxPacketSize), 'BusinessWorker'));
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', (err) => {
      this.reason = err.message;
    });
    socket.on('close', () => {
      this.markDrained();
      this.open = false;
      // A gateway refuses CMD_WORKER_CONNECT by closing at once, before sending anything.
      const refused = this.openedAt > 0 && !this.receivedAny && !this.reason && Date.now() - this.openedAt < 500;
      options.onClose(this, this.reason || 'closed by the gateway', refused);
    });
  }

  get address(): string {
    return this.options.address;
  }

  /** True if the TCP connection was ever established. */
  get wasOpen(): boolean {
    return this.openedAt > 0;
  }

  /** Records what the gateway said about itself (TypeScript gateways send it before any event). */
  setInfo(info: GatewayInfo): void {
    this.listeners = new Map(info.listeners.map((l) => [l.port, l]));
  }

  /** A TypeScript gateway (it sent GATEWAY_INFO): it understands the extension commands. */
  get speaksExtensions(): boolean {
    return this.listeners !== null;
  }

  private resolveDrained!: () => void;
  /** Resolved once the gateway acknowledged WORKER_DRAIN (no event follows), or the link closed. */
  readonly drained = new Promise<void>((resolve) => (this.resolveDrained = resolve));

  /** The gateway acknowledged WORKER_DRAIN. */
  markDrained(): void {
    this.resolveDrained();
  }

  /** The gateway's public listener on `port`, if the gateway described its listeners. */
  listener(port: number): GatewayListenerInfo | undefined {
    return this.listeners?.get(port);
  }

  /** True once connected, until closed. */
  get connected(): boolean {
    return this.open && !this.socket.destroyed;
  }

  /**
   * Sends a command packet, coalesced per event-loop turn. False when not connected, or when the
   * packet does not fit the link's buffer limit (an empty buffer takes any packet).
   */
  write(packet: Buffer): boolean {
    if (!this.connected) return false;
    const queued = this.socket.writableLength;
    if (queued > 0 && queued + packet.length > this.options.bufferLimit) {
      this.dropped++;
      return false;
    }
    return this.send(packet);
  }

  /**
   * Sends a packet that must not be dropped whatever is queued (an event's confirmation: a lost
   * one would leave the client's flow-control budget spent for ever). False when not connected.
   */
  send(packet: Buffer): boolean {
    if (!this.connected) return false;
    corkForThisTurn(this.socket);
    this.socket.write(packet);
    return true;
  }

  /** Closes after what is queued has been written. */
  end(): void {
    this.socket.end();
  }
}
