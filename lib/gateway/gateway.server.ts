import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { listenFailed, noWorkerConnected, serverNotListening } from '../gateway-worker.messages.js';
import type { ListenAddress, ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { encodeClientId } from '../protocol/client-id.js';
import { FrameProtocol, RawTcpProtocol, TextProtocol, type StreamClientProtocol } from '../protocol/client-protocol.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand, HEAD_LEN } from '../protocol/gateway-command.js';
import { encodeGatewayPacket, writeHeader } from '../protocol/gateway-packet.js';
import { gatewayConnectLine } from '../protocol/register-message.js';
import { RegisterLink } from '../register/register.link.js';
import { ip2long } from '../utils/ip.util.js';
import { ClientConnection } from './client-connection.js';
import { GatewayCommandHandler, type GatewayCommandHost } from './gateway-command.handler.js';
import { GatewayTables } from './gateway-tables.js';
import { InnerConnection } from './inner-connection.js';
import { OutgoingMessage } from './outgoing-message.js';
import { WorkerRouter } from './worker-router.js';

const EMPTY = Buffer.alloc(0);
/** PHP does not log "no worker" for a gateway younger than this: workers are still connecting. */
const STARTUP_GRACE = 2_000;
/** Gateway → worker keepalive when lanIp is not 127.0.0.1 (PHP: 25 s). */
const WORKER_PING_INTERVAL = 25_000;
/** How long close() lets clients and workers see a clean close before cutting the rest. */
const CLOSE_GRACE = 2_000;

/** Events of the GatewayServer, for `server.on()`. */
export type GatewayServerEvents = {
  /** A client connected: its client_id. */
  connect: (clientId: string) => void;
  /** A client's connection closed: its client_id. */
  close: (clientId: string) => void;
  /** A BusinessWorker connected and authenticated: its worker key. */
  workerConnected: (workerKey: string) => void;
  /** A BusinessWorker's connection closed: its worker key. */
  workerClosed: (workerKey: string) => void;
};

/**
 * The Gateway tier: holds the client connections (text, frame, tcp, websocket), forwards their
 * events to BusinessWorkers, and applies the commands workers and GatewayClients send to its
 * internal port (PROTOCOL.md §5).
 *
 * Boot it as a Nest microservice:
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [GatewayServer], useFactory: (strategy: GatewayServer) => ({ strategy }),
 * });
 * await app.listen();
 * ```
 */
@Injectable()
export class GatewayServer extends Server<GatewayServerEvents> implements CustomTransportStrategy, GatewayCommandHost {
  override readonly logger: Logger;
  readonly tables = new GatewayTables();
  readonly secretKey: string;
  private readonly router: WorkerRouter;
  private readonly commands: GatewayCommandHandler;
  private readonly emitter = new EventEmitter();
  private readonly innerConnections = new Set<InnerConnection>();
  private readonly registerLinks: RegisterLink[] = [];
  private innerServer: NetServer | null = null;
  private readonly publicServers: (NetServer | HttpServer)[] = [];
  private wss: WebSocketServer | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private lanIpLong = 0;
  private lanPortValue = 0;
  private closing = false;

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    super();
    this.secretKey = options.secretKey;
    this.logger = new Logger(options.gateway?.name ?? 'Gateway');
    this.router = new WorkerRouter(options.gateway?.router ?? 'least-connections');
    this.commands = new GatewayCommandHandler(this);
  }

  /** `"<lanIp>:<lanPort>"`: this process's identity in the cluster and in its client_ids. */
  get address(): string {
    return `${this.options.gateway?.lanIp}:${this.lanPortValue}`;
  }

  /** The internal port (startPort + processIndex, or the OS-chosen one when startPort is 0). */
  get lanPort(): number {
    return this.lanPortValue;
  }

  /** The public ports actually listened on, in the order of `gateway.listen`. */
  get publicPorts(): number[] {
    return this.publicServers.map((s) => {
      const a = s.address();
      return a && typeof a === 'object' ? a.port : 0;
    });
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.tables.clients.size;
  }

  /** Keys of the connected BusinessWorkers. */
  get workerKeys(): string[] {
    return [...this.router.workers.keys()];
  }

  /** Starts the internal port, the public listeners and the Register links, then calls back. */
  listen(callback: (err?: unknown, info?: unknown) => void): void {
    const g = this.options.gateway;
    if (!g) {
      callback(new Error('GatewayServer needs the `gateway` options (listen, lanIp, startPort…) in GatewayWorkerModule.forRoot().'));
      return;
    }
    this.startedAt = Date.now();
    this.lanIpLong = ip2long(g.lanIp);
    this.start(g)
      .then(() => callback())
      .catch(async (err) => {
        await this.close();
        callback(err);
      });
  }

  private async start(g: NonNullable<ResolvedGatewayWorkerOptions['gateway']>): Promise<void> {
    const inner = createServer((socket) => this.acceptInner(socket));
    this.innerServer = inner;
    await listenOn(inner, g.innerBindHost, g.lanPort, `${g.name} internal port`);
    this.lanPortValue = (inner.address() as { port: number }).port;
    for (const l of g.listen) {
      const server = l.protocol === 'websocket' ? this.createWebSocketListener(l) : this.createStreamListener(l);
      this.publicServers.push(server);
      await listenOn(server, l.host, l.port, `${g.name} ${l.uri}`);
    }
    for (const address of this.options.registerAddresses) {
      const link = new RegisterLink({
        address,
        hello: () => gatewayConnectLine(this.address, this.secretKey),
        connectTimeout: this.options.connectTimeout,
        maxLineSize: this.options.innerMaxPackageSize,
        logger: this.logger,
        tier: g.name,
      });
      this.registerLinks.push(link);
      link.start();
    }
    if (g.lanIp !== '127.0.0.1') {
      const ping = encodeGatewayPacket({ cmd: GatewayCommand.PING, flag: FLAG_BODY_IS_SCALAR });
      this.pingTimer = setInterval(() => {
        for (const w of this.router.workers.values()) w.write(ping);
      }, WORKER_PING_INTERVAL);
      this.pingTimer.unref();
    }
    const ports = this.publicPorts;
    this.logger.log(
      `${g.name} ${this.address} listening on ${g.listen.map((l, i) => `${l.protocol}://${l.host}:${ports[i]}`).join(', ')}; ` +
        `registering with ${this.options.registerAddresses.join(', ')}`,
    );
  }

  /**
   * Stops accepting, closes every client cleanly (websocket clients get a close frame, and the
   * workers get their ON_CLOSE events), then the internal links and the Register links.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const s of this.publicServers) s.close();
    const clients = [...this.tables.clients.values()];
    for (const c of clients) this.kick(c, null, 1001);
    await waitUntil(() => this.tables.clients.size === 0, CLOSE_GRACE);
    for (const c of this.tables.clients.values()) c.socket.destroy();
    for (const link of this.registerLinks) link.stop();
    this.registerLinks.length = 0;
    // Let the last ON_CLOSE packets leave before the worker links go.
    await new Promise((r) => setImmediate(r));
    for (const conn of this.innerConnections) conn.socket.end();
    await waitUntil(() => this.innerConnections.size === 0, 500);
    for (const conn of this.innerConnections) conn.socket.destroy();
    this.innerServer?.close();
    this.wss?.close();
    this.innerServer = null;
    this.publicServers.length = 0;
  }

  on<K extends keyof GatewayServerEvents>(event: K, callback: GatewayServerEvents[K]): void {
    this.emitter.on(event, callback);
  }

  /** The underlying servers: `{ inner, public }`. */
  unwrap<T>(): T {
    if (!this.innerServer) throw new Error(serverNotListening('GatewayServer.unwrap()'));
    return { inner: this.innerServer, public: [...this.publicServers] } as T;
  }

  /** client_id of one of this gateway's connections. */
  clientIdOf(client: ClientConnection): string {
    return encodeClientId(this.lanIpLong, this.lanPortValue, client.id);
  }

  // ---- client side -------------------------------------------------------------------------

  private createStreamListener(l: ListenAddress): NetServer {
    const protocol: StreamClientProtocol = l.protocol === 'text' ? TextProtocol : l.protocol === 'frame' ? FrameProtocol : RawTcpProtocol;
    return createServer((socket) => {
      if (this.closing) return void socket.destroy();
      const client = this.newClient(socket, protocol.name, null);
      const decode = protocol.createDecoder(this.options.maxPackageSize);
      const onMessage = (message: Buffer) => this.onClientMessage(client, message);
      socket.on('data', (chunk) => {
        try {
          decode(chunk, onMessage);
        } catch (err) {
          this.logger.warn(`${this.clientIdOf(client)} (${socket.remoteAddress}): ${(err as Error).message}`);
          // Text framing closes gracefully on oversize (workerman); others cut at once.
          if (protocol.name === 'text') socket.end();
          else socket.destroy();
        }
      });
      socket.on('error', noop);
      socket.on('close', () => this.onClientClose(client));
      this.onClientOpen(client);
    });
  }

  private createWebSocketListener(l: ListenAddress): HttpServer {
    const wss = (this.wss ??= new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: this.options.maxPackageSize,
      skipUTF8Validation: true,
    }));
    const server = createHttpServer((req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
      res.end(`This is the websocket endpoint of a GatewayWorker gateway (${l.uri}): connect with a websocket client.\n`);
    });
    server.on('upgrade', (req, socket: Socket, head) => {
      if (this.closing) return void socket.destroy();
      socket.on('error', noop);
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const client = this.newClient(socket, 'websocket', ws);
        ws.on('message', (data: Buffer) => this.onClientMessage(client, data));
        ws.on('error', noop);
        ws.on('close', () => this.onClientClose(client));
        this.onClientOpen(client);
      });
    });
    return server;
  }

  private newClient(socket: Socket, protocol: ClientConnection['protocol'], ws: WebSocket | null): ClientConnection {
    socket.setNoDelay(true);
    return new ClientConnection(
      this.tables.allocateId(),
      socket,
      protocol,
      ip2long(socket.remoteAddress),
      socket.remotePort ?? 0,
      socket.localPort ?? 0,
      this.options.gateway!.sendToClientBufferSize,
      ws,
    );
  }

  private onClientOpen(client: ClientConnection): void {
    this.tables.add(client);
    this.emitter.emit('connect', this.clientIdOf(client));
    this.sendEvent(GatewayCommand.ON_CONNECT, client, EMPTY);
  }

  private onClientMessage(client: ClientConnection, message: Buffer): void {
    if (client.closed) return;
    this.sendEvent(GatewayCommand.ON_MESSAGE, client, message);
  }

  private onClientClose(client: ClientConnection): void {
    if (client.closed) return;
    client.closed = true;
    // ON_CLOSE carries the session as it is at close time; by the time the worker handles it,
    // the client is gone from the tables (isOnline 0), as in PHP.
    this.sendEvent(GatewayCommand.ON_CLOSE, client, EMPTY);
    this.router.release(client);
    this.tables.remove(client);
    this.emitter.emit('close', this.clientIdOf(client));
  }

  /** Forwards one client event to the client's worker (PROTOCOL.md §5.5). */
  private sendEvent(cmd: number, client: ClientConnection, body: Buffer): void {
    const worker = this.router.route(client);
    if (!worker) {
      if (cmd === GatewayCommand.ON_CLOSE) return;
      if (Date.now() - this.startedAt > STARTUP_GRACE) this.logger.warn(noWorkerConnected(this.clientIdOf(client)));
      this.destroy(client);
      return;
    }
    const session = client.session;
    const len = HEAD_LEN + session.length + body.length;
    const packet = Buffer.allocUnsafe(len);
    writeHeader(
      packet,
      {
        cmd,
        localIp: this.lanIpLong,
        localPort: this.lanPortValue,
        clientIp: client.clientIp,
        clientPort: client.clientPort,
        connectionId: client.id,
        flag: FLAG_BODY_IS_SCALAR,
        gatewayPort: client.gatewayPort,
      },
      len,
      session.length,
    );
    session.copy(packet, HEAD_LEN);
    body.copy(packet, HEAD_LEN + session.length);
    if (!worker.write(packet) && worker.dropped % 1000 === 1) {
      this.logger.warn(`Send buffer to worker ${worker.workerKey} is full: events are being dropped (${worker.dropped} so far).`);
    }
  }

  /** Graceful close after an optional last message; websocket clients get a close frame. */
  kick(client: ClientConnection, message: Buffer | null, code = 1000): void {
    if (client.closed || client.socket.destroyed) return;
    if (message) client.write(new OutgoingMessage(message).framedFor(client.protocol));
    if (client.ws) client.ws.close(code);
    else client.socket.end();
  }

  /** Immediate close; pending output is discarded. */
  destroy(client: ClientConnection): void {
    if (client.ws) client.ws.terminate();
    else client.socket.destroy();
  }

  // ---- internal port -----------------------------------------------------------------------

  private acceptInner(socket: Socket): void {
    const g = this.options.gateway!;
    const conn = new InnerConnection(socket, this.options.innerMaxPackageSize, g.sendToWorkerBufferSize, this.secretKey);
    this.innerConnections.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      try {
        conn.reader.push(chunk, (packet) => {
          if (socket.destroyed) return;
          if (!this.commands.handle(conn, packet)) socket.destroy();
        });
      } catch (err) {
        this.logger.warn(`Internal link ${conn.name}: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', noop);
    socket.on('close', () => {
      this.innerConnections.delete(conn);
      if (conn.workerKey && this.router.remove(conn.workerKey, conn)) {
        this.logger.log(`BusinessWorker ${conn.workerKey} disconnected (${this.router.size} left)`);
        this.emitter.emit('workerClosed', conn.workerKey);
      }
    });
  }

  registerWorker(conn: InnerConnection, workerKey: string): void {
    const key = `${conn.socket.remoteAddress?.replace(/^::ffff:/, '')}:${workerKey}`;
    conn.workerKey = key;
    const old = this.router.add(key, conn);
    if (old && old !== conn) {
      this.logger.warn(`BusinessWorker name conflict: ${key} connected again; the older connection is closed. Give each worker process a unique name per host.`);
      old.workerKey = null;
      old.socket.destroy();
    }
    this.logger.log(`BusinessWorker ${key} connected (${this.router.size} in all)`);
    this.emitter.emit('workerConnected', key);
  }
}

const noop = () => undefined;

function listenOn(server: NetServer | HttpServer, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(listenFailed(what, `${host}:${port}`, err.message)));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
