import { connect, type Socket } from 'node:net';
import { handoverLinkFailed, handoverTimedOut } from '../gateway-worker.messages.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { QueryReplyReader } from '../protocol/query-reply.reader.js';
import { splitAddress } from '../utils/ip.util.js';

/** Where and how a hand-over link connects. */
export interface HandoverLinkOptions {
  /** `"<lanIp>:<lanPort>"` of the other gateway's internal port. */
  address: string;
  secretKey: string;
  connectTimeout: number;
  maxReplySize: number;
}

/**
 * One short-lived connection from this gateway to another one's internal port, for a hand-over
 * (RESUME_HANDOVER, docs/protocol.md §8.4): authorized with CMD_GATEWAY_CLIENT_CONNECT and the
 * secret key, then one query at a time, each reply (§2.9 framing) answering the oldest. Any
 * failure — refused, timed out, closed, an unreadable reply — rejects the query and ends the link.
 */
export class HandoverLink {
  private readonly socket: Socket;
  private readonly replies: QueryReplyReader;
  private readonly waiting: { resolve: (reply: Buffer) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }[] = [];
  private failure: Error | null = null;

  constructor(private readonly options: HandoverLinkOptions) {
    const target = splitAddress(options.address);
    this.replies = new QueryReplyReader(options.maxReplySize);
    this.socket = connect({ host: target?.host ?? '', port: target?.port ?? 0, noDelay: true });
    this.socket.setTimeout(options.connectTimeout, () => this.fail(handoverTimedOut(options.address, options.connectTimeout)));
    this.socket.once('connect', () => this.socket.setTimeout(0));
    this.socket.on('data', (chunk) => {
      try {
        this.replies.push(chunk, (reply) => {
          const w = this.waiting.shift();
          if (!w) return;
          clearTimeout(w.timer);
          w.resolve(reply);
        });
      } catch (err) {
        this.fail((err as Error).message);
      }
    });
    this.socket.on('error', (err) => this.fail(err.message));
    this.socket.on('close', () => this.fail('connection closed'));
    if (options.secretKey !== '') {
      this.socket.write(encodeGatewayPacket({ cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify({ secret_key: options.secretKey })) }));
    }
  }

  /** Sends a query packet; resolves with its reply's bytes. */
  request(packet: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(handoverTimedOut(this.options.address, timeoutMs)), timeoutMs);
      this.waiting.push({ resolve, reject, timer });
      this.socket.write(packet);
    });
  }

  /** Ends the link. */
  close(): void {
    this.socket.destroy();
  }

  private fail(why: string): void {
    if (!this.failure) this.failure = new Error(handoverLinkFailed(this.options.address, why));
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
    this.socket.destroy();
  }
}
