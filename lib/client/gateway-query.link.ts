import type { Logger } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import { GatewayUnreachableError } from '../errors/gateway-unreachable.error.js';
import { QueryTimeoutError } from '../errors/query-timeout.error.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { RECONNECT_DELAY } from '../gateway-worker.constants.js';
import { gatewayReachableAgain, gatewaySendFailed } from '../gateway-worker.messages.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { QueryReplyReader } from '../protocol/query-reply.reader.js';
import { splitAddress } from '../utils/ip.util.js';
import { corkForThisTurn } from '../utils/write-batch.js';

interface PendingQuery {
  packet: Buffer;
  resolve: (reply: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** Written on a link that had been up: if that link breaks, the query is sent again once. */
  onEstablished: boolean;
  retried: boolean;
}

/** Options of a caller's link to one gateway. */
export interface GatewayQueryLinkOptions {
  address: string;
  secretKey: string;
  connectTimeout: number;
  maxPacketSize: number;
  /** Where failed sends are reported (once per outage); silent without one. */
  logger?: Logger;
}

/**
 * A persistent "client connection" to a gateway's internal port (docs/protocol.md §2.9): authorized
 * once with CMD_GATEWAY_CLIENT_CONNECT (the gateway authorizes the connection, so PHP's auth
 * packet in front of every request is not needed), then reused for commands and queries.
 *
 * Failure handling, so that a caller never hangs and never sees an unhandled rejection:
 * - a connect is bounded by `connectTimeout`; a query by its own timeout;
 * - replies carry no request id and are matched by order, so a timed-out query resets the link
 *   (a late reply would otherwise answer the next query) and rejects with `QueryTimeoutError`;
 * - a command or query written on a link that had been up and then breaks (the gateway
 *   restarted, the connection was reset) is sent again once on a fresh connection, since a
 *   persistent link can be stale without knowing it; a connect that fails is not retried at once:
 *   for `RECONNECT_DELAY` after it, calls fail immediately instead of piling up connects;
 * - `send()` resolves to false when the command could not be handed over, `request()` rejects
 *   with `GatewayUnreachableError`.
 *
 * The socket only keeps the process alive while a command is being handed over (pending queries
 * hold their own timers), so a script that pushed and is done can exit.
 */
export class GatewayQueryLink {
  private socket: Socket | null = null;
  /** The current socket has connected. */
  private established = false;
  private readonly pending: PendingQuery[] = [];
  /** Reads the replies of the current socket (a new one per socket). */
  private replies: QueryReplyReader | null = null;
  /** Sends whose write has not completed yet. */
  private sending = 0;
  /** After a failed connect, calls fail fast until then. */
  private retryAt = 0;
  private lastError = '';
  /** A failed send was reported and the gateway has not been reached since. */
  private reportedDown = false;

  constructor(private readonly options: GatewayQueryLinkOptions) {}

  /** `"host:port"` of the gateway's internal port. */
  get address(): string {
    return this.options.address;
  }

  /** True while the connection is up. */
  get connected(): boolean {
    return this.established && this.socket !== null && !this.socket.destroyed;
  }

  /**
   * Sends a command that gets no reply. Resolves to true once it is handed to the connection,
   * false when the gateway cannot be reached (logged once per outage). Never rejects.
   */
  send(packet: Buffer): Promise<boolean> {
    return new Promise((resolve) => this.trySend(packet, false, resolve));
  }

  /**
   * Sends a query and resolves with the serialized reply bytes (without the length prefix).
   * @throws QueryTimeoutError when no reply comes within `timeoutMs`
   * @throws GatewayUnreachableError when the gateway cannot be reached or the link breaks twice
   */
  request(packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const query: PendingQuery = {
        packet,
        resolve,
        reject,
        timer: setTimeout(() => this.onTimeout(query, timeoutMs), timeoutMs),
        onEstablished: false,
        retried: false,
      };
      this.dispatch(query);
    });
  }

  /** Closes the link; pending queries fail with `GatewayUnreachableError` (`reason`). */
  close(reason = 'link closed'): void {
    this.reset(new GatewayUnreachableError(this.options.address, reason), undefined, false);
  }

  private trySend(packet: Buffer, retried: boolean, done: (ok: boolean) => void): void {
    if (this.backingOff()) {
      this.reportFailure();
      done(false);
      return;
    }
    const socket = this.ensureSocket();
    const onEstablished = this.established;
    this.hold(1);
    corkForThisTurn(socket);
    socket.write(packet, (err) => {
      this.hold(-1);
      // Node reports a write still pending when the socket is destroyed as a success: a callback
      // that finds the socket destroyed means the bytes may not all have left.
      if (!err && !socket.destroyed) return done(true);
      // A stale persistent link: reconnect once. A connect that failed is not retried at once.
      if (onEstablished && !retried) return this.trySend(packet, true, done);
      this.reportFailure();
      done(false);
    });
  }

  private dispatch(query: PendingQuery): void {
    if (this.backingOff()) {
      this.settle(query, new GatewayUnreachableError(this.options.address, this.lastError));
      return;
    }
    const socket = this.ensureSocket();
    query.onEstablished = this.established;
    this.pending.push(query);
    corkForThisTurn(socket);
    socket.write(query.packet);
  }

  private onTimeout(query: PendingQuery, timeoutMs: number): void {
    if (this.pending.includes(query)) this.reset(new QueryTimeoutError(this.options.address, timeoutMs), query);
  }

  private settle(query: PendingQuery, result: Buffer | Error): void {
    clearTimeout(query.timer);
    if (result instanceof Error) query.reject(result);
    else query.resolve(result);
  }

  private backingOff(): boolean {
    return (this.socket === null || this.socket.destroyed) && Date.now() < this.retryAt;
  }

  /** Keeps the process alive while commands are being handed over, and only then. */
  private hold(delta: number): void {
    this.sending += delta;
    if (!this.socket) return;
    if (this.sending > 0) this.socket.ref();
    else this.socket.unref();
  }

  private reportFailure(): void {
    if (this.reportedDown) return;
    this.reportedDown = true;
    this.options.logger?.warn(gatewaySendFailed(this.options.address, this.lastError || 'connection failed'));
  }

  private ensureSocket(): Socket {
    // Destroyed, its 'close' not delivered yet: settle what was pending on it first, so replies on
    // the new connection are never matched with queries sent on the old one.
    if (this.socket?.destroyed) this.dropped(this.socket, '');
    // (The queries dropped() sent again may have opened the new connection already.)
    if (this.socket) return this.socket;
    const { address, connectTimeout, secretKey } = this.options;
    const target = splitAddress(address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.socket = socket;
    this.established = false;
    this.replies = new QueryReplyReader(this.options.maxPacketSize);
    if (this.sending === 0) socket.unref();
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
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 30_000);
      if (this.socket !== socket) return;
      this.established = true;
      this.retryAt = 0;
      if (this.reportedDown) {
        this.reportedDown = false;
        this.options.logger?.log(gatewayReachableAgain(address));
      }
    });
    socket.on('data', (chunk) => this.onData(socket, chunk));
    let reason = '';
    socket.on('error', (err) => (reason = err.message));
    socket.on('close', () => this.dropped(socket, reason));
    return socket;
  }

  /** The current socket closed (`reason`: its error, if any): fail or retry what was pending on it. */
  private dropped(socket: Socket, reason: string): void {
    if (this.socket !== socket) return;
    if (this.established) {
      // The gateway closes a link with a wrong secret key right after the auth packet, silently.
      this.lastError = reason || 'connection closed by the gateway (it stopped, or the secret key is wrong)';
    } else {
      this.lastError = reason || 'connection closed before it was established';
      this.retryAt = Date.now() + RECONNECT_DELAY;
    }
    this.reset(new GatewayUnreachableError(this.options.address, this.lastError));
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (this.socket !== socket) return;
    try {
      this.replies!.push(chunk, (reply) => {
        if (socket.destroyed) return;
        const query = this.pending.shift();
        // A reply nobody asked for: the stream cannot be trusted any more.
        if (!query) throw new GatewayProtocolError(`unexpected reply from gateway ${this.options.address}`);
        this.settle(query, reply);
      });
    } catch (err) {
      socket.destroy(err as Error);
    }
  }

  /**
   * Drops the socket and settles the pending queries: `culprit` (a timed-out query) fails with
   * `err`; the others are sent again once on a fresh connection when `retry` allows it and the
   * link had been up when they were written (they did nothing wrong), else fail.
   */
  private reset(err: Error, culprit?: PendingQuery, retry = true): void {
    const socket = this.socket;
    this.socket = null;
    this.established = false;
    this.replies = null;
    socket?.destroy();
    const others = culprit ? new GatewayUnreachableError(this.options.address, 'link reset after another query timed out') : err;
    for (const query of this.pending.splice(0)) {
      if (query === culprit) this.settle(query, err);
      else if (retry && !query.retried && (query.onEstablished || culprit)) {
        query.retried = true;
        this.dispatch(query);
      } else this.settle(query, others);
    }
  }
}
