import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { GATEWAY_WORKER_OPTIONS, REGISTER_AUTH_TIMEOUT } from '../gateway-worker.constants.js';
import { listenFailed, registerAuthTimeout, registerBadRequest, wrongSecretKey } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { LineReader } from '../protocol/line.reader.js';
import { broadcastAddressesLine, parseRegisterMessage } from '../protocol/register-message.js';

/**
 * Events of the RegisterServer, for `server.on()`.
 *
 * @publicApi
 */
export type RegisterServerEvents = {
  /** The gateway list changed: the new list. */
  addresses: (addresses: string[]) => void;
};

interface RegisterPeer {
  socket: Socket;
  name: string;
  gatewayAddress: string | null;
  isWorker: boolean;
}

/**
 * The Register tier (PROTOCOL.md §4): gateways announce their internal address, workers (and
 * GatewayClients) get the list of gateway addresses, and every change is broadcast to all workers.
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

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    super();
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
      callback();
    });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const p of this.peers) p.socket.destroy();
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
    const peer: RegisterPeer = {
      socket,
      name: `${socket.remoteAddress}:${socket.remotePort}`,
      gatewayAddress: null,
      isWorker: false,
    };
    this.peers.add(peer);
    socket.setNoDelay(true);
    // One-shot auth timer, cancelled by any message (even a ping, as in PHP).
    let authTimer: NodeJS.Timeout | null = setTimeout(() => {
      this.logger.warn(registerAuthTimeout(peer.name));
      socket.destroy();
    }, REGISTER_AUTH_TIMEOUT);
    const reader = new LineReader(this.options.innerMaxPackageSize);
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk, (line) => {
          if (authTimer) clearTimeout(authTimer);
          authTimer = null;
          this.handleLine(peer, line);
        });
      } catch (err) {
        this.logger.warn(`Register: ${peer.name}: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (authTimer) clearTimeout(authTimer);
      this.peers.delete(peer);
      if (peer.gatewayAddress) {
        this.logger.log(`Register: gateway ${peer.gatewayAddress} left`);
        this.broadcast();
      }
    });
  }

  private handleLine(peer: RegisterPeer, line: Buffer): void {
    if (peer.socket.destroyed) return;
    const msg = parseRegisterMessage(line);
    if (!msg) {
      const text = line.toString().slice(0, 512);
      this.logger.warn(registerBadRequest(peer.socket.remoteAddress ?? '?', text));
      peer.socket.end(registerBadRequest(peer.socket.remoteAddress ?? '?', text) + '\n');
      return;
    }
    const secret = msg.secret_key ?? '';
    switch (msg.event) {
      case 'gateway_connect': {
        if (typeof msg.address !== 'string' || msg.address === '') {
          this.logger.warn(`Register: gateway_connect without an address from ${peer.name}; closed.`);
          peer.socket.destroy();
          return;
        }
        if (secret !== this.options.secretKey) {
          this.logger.warn(wrongSecretKey('Register', peer.name, `gateway_connect of ${msg.address}`));
          peer.socket.destroy();
          return;
        }
        peer.gatewayAddress = msg.address;
        this.logger.log(`Register: gateway ${msg.address} joined (from ${peer.name})`);
        this.broadcast();
        return;
      }
      case 'worker_connect': {
        if (secret !== this.options.secretKey) {
          this.logger.warn(wrongSecretKey('Register', peer.name, 'worker_connect'));
          peer.socket.destroy();
          return;
        }
        peer.isWorker = true;
        peer.socket.write(broadcastAddressesLine(this.addresses));
        return;
      }
      case 'ping':
        return;
      default:
        this.logger.warn(`Register: unknown event "${msg.event}" from ${peer.name}; closed.`);
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
