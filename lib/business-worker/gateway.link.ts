import { connect, type Socket } from 'node:net';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { GatewayPacketReader, type OversizedPacket } from '../protocol/gateway-packet.reader.js';
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
  /** Shared totals of the worker: commands handed to a gateway, and commands that could not be. */
  counters: { commandsOut: number; sendFailures: number };
  /** Told (at most every 10 s) how many packets a full send buffer dropped since the last time. */
  onDropped: (link: GatewayLink, dropped: number) => void;
  onPacket: (packet: Buffer, link: GatewayLink) => void;
  /** A packet over `maxPacketSize`, skipped without being buffered (the link carries on). */
  onOversized: (packet: OversizedPacket, link: GatewayLink) => void;
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
  private open = false;
  private receivedAny = false;
  private openedAt = 0;
  private reason = '';
  private droppedSinceReport = 0;
  private lastDropReport = 0;
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
        reader.push(chunk, (packet) => options.onPacket(packet, this), (big) => options.onOversized(big, this));
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
   * Sends a command packet, coalesced per event-loop turn, and counts it (`commandsOut`, or
   * `sendFailures` when not connected, or when the packet does not fit the send buffer's
   * `bufferLimit` — an empty buffer takes any packet, so one of the largest size always goes).
   */
  write(packet: Buffer): boolean {
    if (!this.connected) {
      this.options.counters.sendFailures++;
      return false;
    }
    const queued = this.socket.writableLength;
    if (queued > 0 && queued + packet.length > this.options.bufferLimit) {
      this.options.counters.sendFailures++;
      this.droppedSinceReport++;
      const now = Date.now();
      if (now - this.lastDropReport >= 10_000) {
        this.lastDropReport = now;
        this.options.onDropped(this, this.droppedSinceReport);
        this.droppedSinceReport = 0;
      }
      return false;
    }
    this.options.counters.commandsOut++;
    corkForThisTurn(this.socket);
    this.socket.write(packet);
    return true;
  }

  /**
   * Sends a packet of the link's own conversation (confirmations, stats, drain), never dropped
   * whatever is queued: a lost confirmation would leave its client's flow-control budget spent
   * for good. False (counted) only when not connected.
   */
  control(packet: Buffer): boolean {
    if (!this.connected) {
      this.options.counters.sendFailures++;
      return false;
    }
    corkForThisTurn(this.socket);
    this.socket.write(packet);
    return true;
  }

  /** Stops reading events from the gateway (the worker has too many queued); it keeps them meanwhile. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads events again. */
  resume(): void {
    this.socket.resume();
  }

  /** Closes after what is queued has been written. */
  end(): void {
    this.socket.end();
  }
}
