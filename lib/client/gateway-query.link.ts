import { connect, type Socket } from 'node:net';
import { GatewayUnreachableError } from '../errors/gateway-unreachable.error.js';
import { QueryTimeoutError } from '../errors/query-timeout.error.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooLarge } from '../gateway-worker.messages.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { splitAddress } from '../utils/ip.util.js';
import { corkForThisTurn } from '../utils/write-batch.js';

interface PendingReply {
  resolve: (reply: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Options of a caller's link to one gateway. */
export interface GatewayQueryLinkOptions {
  address: string;
  secretKey: string;
  connectTimeout: number;
  maxPacketSize: number;
}

/**
 * A persistent "client connection" to a gateway's internal port (PROTOCOL.md §2.9): authorized
 * once with CMD_GATEWAY_CLIENT_CONNECT, then reused for commands and queries. Replies carry no
 * request id and are matched by order, so a timed-out query resets the link (a late reply would
 * otherwise answer the next query); the next call reconnects.
 */
export class GatewayQueryLink {
  private socket: Socket | null = null;
  private readonly pending: PendingReply[] = [];
  private buffered: Buffer | null = null;

  constructor(private readonly options: GatewayQueryLinkOptions) {}

  get address(): string {
    return this.options.address;
  }

  /** Sends a command that gets no reply. */
  send(packet: Buffer): void {
    const socket = this.ensureSocket();
    corkForThisTurn(socket);
    socket.write(packet);
  }

  /** Sends a query and resolves with the serialized reply bytes (without the length prefix). */
  request(packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = this.ensureSocket();
      const entry: PendingReply = {
        resolve,
        reject,
        timer: setTimeout(() => this.reset(new QueryTimeoutError(this.options.address, timeoutMs), entry), timeoutMs),
      };
      this.pending.push(entry);
      corkForThisTurn(socket);
      socket.write(packet);
    });
  }

  /** Closes the link; pending queries fail. */
  close(): void {
    this.reset(new GatewayUnreachableError(this.options.address, 'link closed'));
  }

  private ensureSocket(): Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const { address, connectTimeout, secretKey } = this.options;
    const target = splitAddress(address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.socket = socket;
    this.buffered = null;
    if (secretKey !== '') {
      socket.write(
        encodeGatewayPacket({
          cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT,
          flag: FLAG_BODY_IS_SCALAR,
          body: Buffer.from(JSON.stringify({ secret_key: secretKey })),
        }),
      );
    }
    socket.setTimeout(connectTimeout, () => socket.destroy(new Error(`connect timeout after ${connectTimeout} ms`)));
    socket.once('connect', () => socket.setTimeout(0));
    socket.on('data', (chunk) => this.onData(socket, chunk));
    let reason = '';
    socket.on('error', (err) => (reason = err.message));
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        this.reset(new GatewayUnreachableError(address, reason || 'connection closed by the gateway (wrong secret key?)'));
      }
    });
    return socket;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    let buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = null;
    let offset = 0;
    while (buf.length - offset >= 4) {
      const len = buf.readUInt32BE(offset);
      if (len > this.options.maxPacketSize) {
        socket.destroy(new GatewayProtocolError(packetTooLarge(len, this.options.maxPacketSize)));
        return;
      }
      if (buf.length - offset - 4 < len) break;
      const reply = buf.subarray(offset + 4, offset + 4 + len);
      offset += 4 + len;
      const entry = this.pending.shift();
      if (!entry) {
        // A reply nobody asked for: the stream cannot be trusted any more.
        socket.destroy(new GatewayProtocolError(`unexpected reply from gateway ${this.options.address}`));
        return;
      }
      clearTimeout(entry.timer);
      entry.resolve(reply);
    }
    if (offset < buf.length) this.buffered = Buffer.from(buf.subarray(offset));
  }

  /** Fails every pending query (`culprit` with `err`, the others as unreachable) and drops the socket. */
  private reset(err: Error, culprit?: PendingReply): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    const others = culprit ? new GatewayUnreachableError(this.options.address, 'link reset after a query timeout') : err;
    for (const entry of this.pending.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(entry === culprit ? err : others);
    }
  }
}
