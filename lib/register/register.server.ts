import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { GATEWAY_WORKER_OPTIONS, REGISTER_AUTH_TIMEOUT, REGISTER_MAX_LINE_SIZE } from '../gateway-worker.constants.js';
import {
  listenFailed,
  registerAuthTimeout,
  registerBadRequest,
  registerLineTooLong,
  registerNotAuthenticated,
  registerNotLocal,
  registerNotLocalReply,
  registerStalledLine,
  registerTooManyConnections,
  wrongSecretKey,
} from '../gateway-worker.messages.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { LineReader } from '../protocol/line.reader.js';
import { broadcastAddressesLine, parseRegisterMessage } from '../protocol/register-message.js';
import { PeerAdmission } from '../utils/peer-admission.js';
import { canonicalAddress, isLocalPeer } from '../utils/local-peer.js';
import { LogThrottle } from '../utils/log-throttle.js';

/**
 * Events of the RegisterServer, for `server.on()`.
 *
 * @publicApi
 */
export type RegisterServerEvents = {
  /** The gateway list changed: the new list. */
  addresses: (addresses: string[]) => void;
};

/**
 * What the Register refused or closed, since it started (`RegisterServer.counters`). Each of these
 * is also logged, rate-limited per peer address.
 */
export interface RegisterCounters {
  /** Connections refused at accept by protected mode (no `secretKey`, peer not on this host). */
  refusedPeers: number;
  /** Connections refused or closed because a limit bit, by limit. */
  closedForLimit: {
    /** Refused at accept: `register.maxConnectionsPerIp` connections from that address already. */
    maxConnectionsPerIp: number;
    /** A line of 64 KiB or more (REGISTER_MAX_LINE_SIZE). */
    lineSize: number;
    /** A line left unfinished longer than `register.stalledLineTimeout`. */
    stalledLine: number;
    /** No gateway_connect/worker_connect within 10 s of connecting. */
    authTimeout: number;
  };
}

interface RegisterPeer {
  socket: Socket;
  name: string;
  /** Canonical remote address: the key of the per-address count. */
  ip: string;
  /** A gateway_connect or worker_connect with the right key was received. */
  authenticated: boolean;
  gatewayAddress: string | null;
  isWorker: boolean;
  /** Since when the peer has held an unfinished line (0: none). */
  partialSince: number;
}

/** How long a refused peer gets to read why before its connection is destroyed. */
const REFUSAL_LINGER = 1_000;

/**
 * The Register tier (docs/protocol.md §4): gateways announce their internal address, workers (and
 * GatewayClients) get the list of gateway addresses, and every change is broadcast to all workers.
 *
 * Hardened where PHP's Register is not (docs/protocol.md §10), each limit logged (rate-limited,
 * naming the peer) and counted in `counters`:
 * - protected mode: with no `secretKey`, only peers on this host are accepted (`protectedMode`);
 * - every line, `ping` included, needs an authenticated link (gateway_connect/worker_connect with
 *   the right key) — PHP lets a first `ping` cancel the auth timeout and linger unauthenticated;
 * - lines are at most 64 KiB; a line left unfinished longer than `register.stalledLineTimeout`
 *   closes the connection; at most `register.maxConnectionsPerIp` connections per address.
 *
 * Boot it as a Nest microservice:
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [RegisterServer], useFactory: (strategy: RegisterServer) => ({ strategy }),
 * });
 * await app.listen();
 * ```
 *
 * @publicApi
 */
@Injectable()
export class RegisterServer extends Server<RegisterServerEvents> implements CustomTransportStrategy {
  protected override readonly logger = new Logger('Register');
  private server: NetServer | null = null;
  private readonly peers = new Set<RegisterPeer>();
  private readonly emitter = new EventEmitter();
  /** Connections per canonical remote address, when `register.maxConnectionsPerIp` is set. */
  private readonly admission: PeerAdmission;
  private readonly throttle = new LogThrottle();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** What was refused or closed since start (see RegisterCounters). */
  readonly counters: RegisterCounters = {
    refusedPeers: 0,
    closedForLimit: { maxConnectionsPerIp: 0, lineSize: 0, stalledLine: 0, authTimeout: 0 },
  };

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    super();
    this.admission = new PeerAdmission(options.register.maxConnectionsPerIp);
  }

  /** Gateway addresses in registration order, duplicates removed. */
  get addresses(): string[] {
    const list: string[] = [];
    for (const p of this.peers) if (p.gatewayAddress && !list.includes(p.gatewayAddress)) list.push(p.gatewayAddress);
    return list;
  }

  /** The port actually listened on (useful with port 0 in tests). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Starts listening; the callback gets an error if the port cannot be bound. */
  listen(callback: (err?: unknown, info?: unknown) => void): void {
    const { host, port } = this.options.register;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    server.once('error', (err) => callback(new Error(listenFailed('Register', `${host}:${port}`, err.message))));
    server.listen({ host, port }, () => {
      this.logger.log(`Register listening on ${host}:${this.port}`);
      const { stalledLineTimeout } = this.options.register;
      if (stalledLineTimeout > 0) {
        // One sweep for every connection, no timer per connection.
        this.sweepTimer = setInterval(() => this.closeStalled(stalledLineTimeout), Math.min(1000, stalledLineTimeout));
        this.sweepTimer.unref();
      }
      callback();
    });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    // Each peer's close is seen through (a gateway leaving is logged) before close() resolves.
    const closed = [...this.peers].map((p) => new Promise<void>((resolve) => (p.socket.destroyed && p.socket.closed ? resolve() : p.socket.once('close', () => resolve()))));
    for (const p of this.peers) p.socket.destroy();
    await Promise.all(closed);
    this.peers.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  on<K extends keyof RegisterServerEvents>(event: K, callback: RegisterServerEvents[K]): void {
    this.emitter.on(event, callback);
  }

  unwrap<T>(): T {
    if (!this.server) throw new Error('RegisterServer is not listening yet.');
    return this.server as T;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined);
    const name = `${socket.remoteAddress}:${socket.remotePort}`;
    const ip = canonicalAddress(socket.remoteAddress ?? '?');
    if (this.options.protectedMode && this.options.secretKey === '' && !isLocalPeer(socket.remoteAddress)) {
      this.counters.refusedPeers++;
      this.throttle.warn(this.logger, `local ${ip}`, registerNotLocal(name));
      // Told why, as Redis does: the operator of that peer sees it in its logs.
      socket.end(registerNotLocalReply() + '\n');
      setTimeout(() => socket.destroy(), REFUSAL_LINGER).unref();
      return;
    }
    if (!this.admission.admit(socket)) {
      this.counters.closedForLimit.maxConnectionsPerIp++;
      this.throttle.warn(this.logger, `perIp ${ip}`, registerTooManyConnections(ip, this.options.register.maxConnectionsPerIp));
      socket.destroy();
      return;
    }
    const peer: RegisterPeer = { socket, name, ip, authenticated: false, gatewayAddress: null, isWorker: false, partialSince: 0 };
    this.peers.add(peer);
    socket.setNoDelay(true);
    // One-shot auth timer, cancelled once the peer authenticates (any other first line closes it).
    let authTimer: NodeJS.Timeout | null = setTimeout(() => {
      this.counters.closedForLimit.authTimeout++;
      this.throttle.warn(this.logger, `auth ${ip}`, registerAuthTimeout(peer.name));
      socket.destroy();
    }, REGISTER_AUTH_TIMEOUT);
    const reader = new LineReader(REGISTER_MAX_LINE_SIZE);
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk, (line) => {
          this.handleLine(peer, line);
          if (peer.authenticated && authTimer) {
            clearTimeout(authTimer);
            authTimer = null;
          }
        });
        // Noted for the stalled-line sweep.
        peer.partialSince = reader.bufferedBytes === 0 ? 0 : peer.partialSince || Date.now();
      } catch (err) {
        // What a LineReader throws: a line of REGISTER_MAX_LINE_SIZE or more.
        if (err instanceof GatewayProtocolError) {
          this.counters.closedForLimit.lineSize++;
          this.throttle.warn(this.logger, `line ${ip}`, registerLineTooLong(peer.name, REGISTER_MAX_LINE_SIZE));
        } else {
          this.logger.error(`Register: ${peer.name}: ${(err as Error).stack ?? String(err)}; connection closed.`);
        }
        socket.destroy();
      }
    });
    socket.on('close', () => {
      if (authTimer) clearTimeout(authTimer);
      this.peers.delete(peer);
      if (peer.gatewayAddress) {
        this.logger.log(`Register: gateway ${peer.gatewayAddress} left`);
        this.broadcast();
      }
    });
  }

  /** Closes the connections that have held an unfinished line for longer than `timeout` ms. */
  private closeStalled(timeout: number): void {
    const deadline = Date.now() - timeout;
    for (const peer of this.peers) {
      if (peer.partialSince !== 0 && peer.partialSince < deadline && !peer.socket.destroyed) {
        this.counters.closedForLimit.stalledLine++;
        this.throttle.warn(this.logger, `stalled ${peer.ip}`, registerStalledLine(peer.name, timeout));
        peer.socket.destroy();
      }
    }
  }

  private handleLine(peer: RegisterPeer, line: Buffer): void {
    // Closed or closing (told it was a bad request): what it sent after that is not read.
    if (peer.socket.destroyed || peer.socket.writableEnded) return;
    const msg = parseRegisterMessage(line);
    if (!msg) {
      const text = line.toString().slice(0, 512);
      const reply = registerBadRequest(peer.socket.remoteAddress ?? '?', text);
      this.throttle.warn(this.logger, `bad ${peer.ip}`, reply);
      const socket = peer.socket;
      socket.end(reply + '\n');
      setTimeout(() => socket.destroy(), REFUSAL_LINGER).unref();
      return;
    }
    const secret = msg.secret_key ?? '';
    switch (msg.event) {
      case 'gateway_connect': {
        if (typeof msg.address !== 'string' || msg.address === '') {
          this.throttle.warn(this.logger, `bad ${peer.ip}`, `Register: gateway_connect without an address from ${peer.name}; closed.`);
          peer.socket.destroy();
          return;
        }
        if (secret !== this.options.secretKey) {
          this.throttle.warn(this.logger, `key ${peer.ip}`, wrongSecretKey('Register', peer.name, `gateway_connect of ${msg.address}`));
          peer.socket.destroy();
          return;
        }
        peer.authenticated = true;
        peer.gatewayAddress = msg.address;
        this.logger.log(`Register: gateway ${msg.address} joined (from ${peer.name})`);
        this.broadcast();
        return;
      }
      case 'worker_connect': {
        if (secret !== this.options.secretKey) {
          this.throttle.warn(this.logger, `key ${peer.ip}`, wrongSecretKey('Register', peer.name, 'worker_connect'));
          peer.socket.destroy();
          return;
        }
        peer.authenticated = true;
        peer.isWorker = true;
        peer.socket.write(broadcastAddressesLine(this.addresses));
        return;
      }
      case 'ping':
        // A keepalive of an authenticated link only: gateways and workers (ours and PHP's) send
        // it after their gateway_connect/worker_connect.
        if (peer.authenticated) return;
        this.throttle.warn(this.logger, `bad ${peer.ip}`, registerNotAuthenticated(peer.name, 'ping'));
        peer.socket.destroy();
        return;
      default:
        this.throttle.warn(this.logger, `bad ${peer.ip}`, `Register: unknown event "${msg.event}" from ${peer.name}; closed.`);
        peer.socket.destroy();
    }
  }

  private broadcast(): void {
    const addresses = this.addresses;
    const line = broadcastAddressesLine(addresses);
    for (const p of this.peers) if (p.isWorker) p.socket.write(line);
    this.emitter.emit('addresses', addresses);
  }
}
