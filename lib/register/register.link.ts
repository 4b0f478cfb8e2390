import { Logger } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import { RECONNECT_DELAY, REGISTER_PING_INTERVAL } from '../gateway-worker.constants.js';
import { registerRefused, registerRefusedReason, registerUnreachable } from '../gateway-worker.messages.js';
import { LineReader } from '../protocol/line.reader.js';
import { parseRegisterMessage, PING_LINE, type RegisterMessage } from '../protocol/register-message.js';
import { splitAddress } from '../utils/ip.util.js';

/** How a gateway or a worker talks to one Register. */
export interface RegisterLinkOptions {
  /** `"host:port"` of the Register. */
  address: string;
  /** The line announcing this peer, sent on every (re)connect. */
  hello: () => Buffer;
  /** Called with each message the Register sends (workers: `broadcast_addresses`). */
  onMessage?: (message: RegisterMessage) => void;
  /** Called when the link drops or a connect fails (before the reconnect is scheduled), with why. */
  onClose?: (reason: string) => void;
  connectTimeout: number;
  maxLineSize: number;
  logger: Logger;
  tier: string;
  /**
   * Let the process exit while only this link is open (the GatewayClient's links: a script that
   * pushed and is done should end as it would without them). Gateways and workers keep the default.
   */
  unref?: boolean;
}

/**
 * How long a link must stay open after the announcement, with no message, to count as accepted: a
 * Register that refuses the secret key closes the link as soon as it reads the announcement.
 */
const ACCEPT_WINDOW = 1_000;

/** Why the link is down: no connection at all, or a Register that closes it after the announcement. */
type DownCause = 'unreachable' | 'refused';

/**
 * A persistent link to one Register (docs/protocol.md §4.3): announce on connect, ping every 25 s when
 * the Register is not on 127.0.0.1, reconnect 1 s after any close — so a restarted Register learns
 * the cluster again by itself. An outage is logged once, naming its cause — unreachable, or
 * refused (the Register closes the link right after the announcement: a wrong secret key) — and
 * once more only if the cause changes; the link counts as up again once the Register accepted it
 * (it sent a message, or kept the link open for a second).
 */
export class RegisterLink {
  private socket: Socket | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The cause of the current outage, already logged (null: the link is up, or never failed). */
  private down: DownCause | null = null;
  private acceptedOnce = false;
  /** The last non-JSON line the Register sent, so a repeated refusal is logged once. */
  private lastUnreadable = '';

  constructor(private readonly options: RegisterLinkOptions) {}

  /** True while the TCP link to the Register is up. */
  get connected(): boolean {
    return this.socket !== null && !this.socket.connecting && !this.socket.destroyed;
  }

  /** Opens the link; it then stays up (reconnecting) until `stop()`. */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Sends a line if connected (the re-announce on reconnect covers the rest). */
  send(line: Buffer): boolean {
    if (!this.connected) return false;
    this.socket!.write(line);
    return true;
  }

  /** Closes the link for good. */
  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.reconnectTimer = this.pingTimer = null;
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): void {
    const { address, connectTimeout, maxLineSize, logger, tier } = this.options;
    const target = splitAddress(address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.socket = socket;
    if (this.options.unref) socket.unref();
    socket.setTimeout(connectTimeout, () => socket.destroy(new Error(`connect timeout after ${connectTimeout} ms`)));
    const reader = new LineReader(maxLineSize);
    let lastError = '';
    let tcpUp = false;
    let accepted = false;
    let acceptTimer: NodeJS.Timeout | null = null;
    const accept = () => {
      if (accepted || socket.destroyed) return;
      accepted = true;
      if (acceptTimer) clearTimeout(acceptTimer);
      if (this.down !== null || this.acceptedOnce) logger.log(`${tier}: connected to the Register at ${address}`);
      this.down = null;
      this.acceptedOnce = true;
    };
    socket.once('connect', () => {
      tcpUp = true;
      socket.setTimeout(0);
      socket.setKeepAlive(true, 30_000);
      socket.write(this.options.hello());
      acceptTimer = setTimeout(accept, ACCEPT_WINDOW);
      if (this.options.unref) acceptTimer.unref();
      if (!address.startsWith('127.0.0.1')) {
        this.pingTimer = setInterval(() => socket.write(PING_LINE), REGISTER_PING_INTERVAL);
        this.pingTimer.unref();
      }
    });
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk, (line) => {
          const msg = parseRegisterMessage(line);
          if (!msg) {
            // A Register refusing this peer says why in plain text, on every reconnect: logged once
            // until the Register says something else.
            const text = line.toString().slice(0, 200);
            if (text !== this.lastUnreadable) logger.warn(`${tier}: unreadable message from the Register at ${address}: ${text}`);
            this.lastUnreadable = text;
            return;
          }
          this.lastUnreadable = '';
          accept();
          this.options.onMessage?.(msg);
        });
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', (err) => {
      lastError = err.message;
    });
    socket.on('close', () => {
      if (this.pingTimer) clearInterval(this.pingTimer);
      if (acceptTimer) clearTimeout(acceptTimer);
      this.pingTimer = null;
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      // Connected, announced, and closed before the Register accepted: it refused the announcement.
      const cause: DownCause = tcpUp && !accepted ? 'refused' : 'unreachable';
      const reason = cause === 'refused' ? registerRefusedReason() : lastError || 'connection closed';
      if (this.down !== cause) {
        this.down = cause;
        logger.warn(cause === 'refused' ? registerRefused(tier, address) : registerUnreachable(tier, address, reason));
      }
      this.options.onClose?.(reason);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.stopped) this.connect();
      }, RECONNECT_DELAY);
      if (this.options.unref) this.reconnectTimer.unref();
    });
  }
}
