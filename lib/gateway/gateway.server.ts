import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { WebSocketServer } from 'ws';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { invalidVerdict, listenFailed, noWorkerConnected, serverNotListening, eventsLost, slowClientClosed, stalledFrame, tooManyConnections, webSocketConnectTimedOut, workerWaitExceeded } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { encodeClientId } from '../protocol/client-id.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand, HEAD_LEN } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket, writeHeader } from '../protocol/gateway-packet.js';
import { gatewayConnectLine } from '../protocol/register-message.js';
import { RegisterLink } from '../register/register.link.js';
import { ip2long } from '../utils/ip.util.js';
import { ClientConnection, type ClientOwner } from './client-connection.js';
import type { ClientEdgeHost } from './client-edge.host.js';
import { ExtensionCommand, webSocketConnectMode, WorkerFeature, type GatewayInfo, type GatewayStatusReply, type WebSocketVerdict } from './extension-protocol.js';
import { GatewayCounters } from './gateway-counters.js';
import { WorkerWaitRoom } from './worker-wait-room.js';
import { RateMeter } from '../metrics/rate-meter.js';
import type { ProcessStats } from '../metrics/process-stats.interface.js';
import { phpWorkerStats } from '../metrics/php-peer.stats.js';
import { phpSerialize } from '../protocol/php-serialize.js';
import { GatewayCommandHandler, type GatewayCommandHost } from './gateway-command.handler.js';
import { GatewayTables } from './gateway-tables.js';
import { Heartbeat } from './heartbeat.js';
import { InnerConnection } from './inner-connection.js';
import { OutgoingMessage } from './outgoing-message.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { createStreamListener } from './stream.listener.js';
import { loadTlsOptions } from './tls.options.js';
import { TrustedProxies } from './trusted-proxies.js';
import { createWebSocketListener, refuseUpgrade } from './websocket.listener.js';
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
export class GatewayServer extends Server<GatewayServerEvents> implements CustomTransportStrategy, GatewayCommandHost, ClientEdgeHost, ClientOwner {
  override readonly logger: Logger;
  readonly tables = new GatewayTables();
  readonly secretKey: string;
  /** Running totals (messages in and out, send failures, events forwarded). */
  readonly counters = new GatewayCounters();
  /** Events waiting for a worker (none connected, or the client's worker draining). */
  private waitRoom: WorkerWaitRoom | null = null;
  private waitTimer: NodeJS.Timeout | null = null;
  private readonly requests = new RateMeter();
  /** Connections per remote address, when `maxConnectionsPerIp` is set. */
  private readonly perIp = new Map<string, number>();
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly router: WorkerRouter;
  private readonly commands: GatewayCommandHandler;
  private readonly emitter = new EventEmitter();
  private readonly innerConnections = new Set<InnerConnection>();
  private readonly registerLinks: RegisterLink[] = [];
  private innerServer: NetServer | null = null;
  private readonly publicServers: (NetServer | HttpServer)[] = [];
  private wss: WebSocketServer | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private heartbeat: Heartbeat | null = null;
  private pending: PendingHandshakes | null = null;
  private startedAt = 0;
  private lanIpLong = 0;
  private lanPortValue = 0;
  private closingValue = false;

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    super();
    this.secretKey = options.secretKey;
    this.logger = new Logger(options.gateway?.name ?? 'Gateway');
    this.router = new WorkerRouter(options.gateway?.router ?? 'least-connections');
    this.commands = new GatewayCommandHandler(this);
  }

  /** True between a successful `listen()` and `close()`. */
  get isListening(): boolean {
    return this.innerServer !== null && !this.closingValue;
  }

  /** Bytes queued in the send buffers of the clients and the internal links. */
  get bufferedBytes(): number {
    let n = 0;
    for (const c of this.tables.clients.values()) n += c.socket.writableLength;
    for (const conn of this.innerConnections) n += conn.socket.writableLength;
    return n;
  }

  /** Events waiting for a worker: clients, events, bytes. */
  get waiting(): { clients: number; delivered: number; expired: number; bytes: number } {
    const r = this.waitRoom;
    return { clients: r?.size ?? 0, delivered: r?.delivered ?? 0, expired: r?.expired ?? 0, bytes: r?.bytes ?? 0 };
  }

  /** This process as `gateway-worker status` shows it. */
  stats(): ProcessStats {
    const g = this.options.gateway!;
    const ports = this.publicPorts;
    return {
      tier: 'gateway',
      name: g.name,
      host: g.lanIp,
      pid: process.pid,
      memory: process.memoryUsage.rss(),
      listening: [...g.listen.map((l, i) => `${l.protocol}${l.tls ? '+tls' : ''}://${l.host}:${ports[i]}`), `inner ${this.address}`].join(' '),
      connections: this.tables.clients.size,
      sendFailures: this.counters.sendFailures,
      lostEvents: this.counters.eventsLost,
      totalRequests: this.requests.total,
      qps: this.requests.perSecond,
      state: this.closingValue ? 'stopping' : 'running',
      startedAt: this.startedAt,
    };
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

  /** True once `close()` began: new connections are refused. */
  get closing(): boolean {
    return this.closingValue;
  }

  /** Websocket handshakes waiting for an `@OnWebSocketConnect` verdict. */
  get pendingHandshakes(): number {
    return this.pending?.size ?? 0;
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
    // Certificates are read before anything listens: a missing file stops startup, naming it.
    const tls: TlsOptions | null = g.tls ? loadTlsOptions(g.tls) : null;
    const inner = createServer((socket) => this.acceptInner(socket));
    this.innerServer = inner;
    await listenOn(inner, g.innerBindHost, g.lanPort, `${g.name} internal port`);
    this.lanPortValue = (inner.address() as { port: number }).port;
    this.pending = new PendingHandshakes(g.webSocketConnectTimeout, (client, workerKey) =>
      this.logger.warn(webSocketConnectTimedOut(this.clientIdOf(client), workerKey, g.webSocketConnectTimeout)),
    );
    const trustedProxies = new TrustedProxies(g.trustedProxies);
    for (const l of g.listen) {
      const server =
        l.protocol === 'websocket'
          ? createWebSocketListener(this, l, {
              wss: this.webSocketServer(),
              tls: l.tls ? tls : null,
              trustedProxies,
              pending: this.pending,
              pingIsActivity: g.webSocketPingIsActivity,
            })
          : createStreamListener(this, l, this.options.maxPackageSize, l.tls ? tls : null);
      this.publicServers.push(server);
      await listenOn(server, l.host, l.port, `${g.name} ${l.uri}`);
    }
    this.heartbeat = new Heartbeat(g, this.tables.clients, (client) => this.destroy(client));
    this.heartbeat.start();
    if (g.stalledFrameTimeout > 0) {
      // One sweep per process for half-sent frames of clients and internal links.
      this.stallTimer = setInterval(() => this.closeStalled(g.stalledFrameTimeout), Math.min(1000, g.stalledFrameTimeout));
      this.stallTimer.unref();
    }
    if (g.workerWaitWindow > 0) {
      this.waitRoom = new WorkerWaitRoom(g.workerWaitWindow, g.workerWaitBufferSize);
      // One sweep per process, not a timer per waiting client.
      this.waitTimer = setInterval(() => this.expireWaiting(), Math.min(1000, g.workerWaitWindow));
      this.waitTimer.unref();
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
      `${g.name} ${this.address} listening on ${g.listen.map((l, i) => `${l.protocol}${l.tls ? '+tls' : ''}://${l.host}:${ports[i]}`).join(', ')}; ` +
        `registering with ${this.options.registerAddresses.join(', ')}`,
    );
  }

  /**
   * Stops accepting, closes every client cleanly (websocket clients get a close frame, and the
   * workers get their ON_CLOSE events), then the internal links and the Register links.
   */
  async close(): Promise<void> {
    if (this.closingValue) return;
    this.closingValue = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.waitTimer) clearInterval(this.waitTimer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.requests.stop();
    this.heartbeat?.stop();
    this.pending?.clear();
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

  /** The one `ws` server of this gateway: it only frames and parses, the listeners own the sockets. */
  private webSocketServer(): WebSocketServer {
    return (this.wss ??= new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: this.options.maxPackageSize,
      skipUTF8Validation: true,
    }));
  }

  /** @internal `maxConnectionsPerIp`: false refuses the socket; an admitted one is counted until it closes. */
  admit(socket: Socket): boolean {
    const limit = this.options.gateway!.maxConnectionsPerIp;
    if (limit === 0) return true;
    const ip = socket.remoteAddress ?? '';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= limit) {
      if (n === limit) this.logger.warn(tooManyConnections(ip, limit));
      this.perIp.set(ip, limit + 1); // log once per burst
      return false;
    }
    this.perIp.set(ip, n + 1);
    socket.once('close', () => {
      const left = Math.min(this.perIp.get(ip) ?? 1, limit) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    return true;
  }

  /** @internal a client's send buffer is full: `slowClientPolicy`. */
  slowClient(client: ClientConnection): void {
    if (this.options.gateway!.slowClientPolicy !== 'close' || client.closed) return;
    this.logger.warn(slowClientClosed(this.clientIdOf(client), this.options.gateway!.sendToClientBufferSize));
    if (client.ws) {
      client.ws.close(1008, 'send buffer full: the client reads too slowly');
      // A client too slow to read is too slow to finish the close handshake.
      setTimeout(() => client.socket.destroy(), 1000).unref();
    } else client.socket.destroy();
  }

  /** Closes clients and internal links that left a frame half-sent longer than `timeout`. */
  private closeStalled(timeout: number): void {
    const deadline = Date.now() - timeout;
    for (const c of this.tables.clients.values()) {
      // ws parses websocket frames itself: ask its receiver whether it holds part of one (an
      // internal of ws 8, read defensively), and time it from the first sweep that sees it.
      if (c.ws) {
        const r = (c.ws as unknown as { _receiver?: { _bufferedBytes?: number; _state?: number; _fragments?: unknown[] } })._receiver;
        // Mid-frame: bytes held, a header read but not its payload (state ≠ GET_INFO), or a fragmented message begun.
        const partial = !!r && ((r._bufferedBytes ?? 0) > 0 || (r._state ?? 0) !== 0 || (r._fragments?.length ?? 0) > 0);
        c.partialSince = partial ? c.partialSince || Date.now() : 0;
      }
      if (c.partialSince !== 0 && c.partialSince < deadline) {
        this.logger.warn(stalledFrame(`client ${this.clientIdOf(c)} (${c.socket.remoteAddress})`, timeout));
        this.destroy(c);
      }
    }
    for (const conn of this.innerConnections) {
      if (conn.partialSince !== 0 && conn.partialSince < deadline) {
        this.logger.warn(stalledFrame(`internal link ${conn.name}`, timeout));
        conn.socket.destroy();
      }
    }
  }

  /** @internal a new client for an accepted socket (listeners). */
  newClient(socket: Socket, protocol: ClientProtocolName, clientIp: number, clientPort: number): ClientConnection {
    socket.setNoDelay(true);
    return new ClientConnection(
      this.tables.allocateId(),
      socket,
      protocol,
      clientIp,
      clientPort,
      socket.localPort ?? 0,
      this.options.gateway!.sendToClientBufferSize,
      null,
      this,
    );
  }

  /** @internal the worker of a client, binding it first; null when none is connected. */
  route(client: ClientConnection): InnerConnection | null {
    return this.router.route(client);
  }

  /** @internal puts a client in the tables without announcing it (handshake held). */
  addClient(client: ClientConnection): void {
    this.tables.add(client);
  }

  /** @internal the client is connected: tables, then CMD_ON_CONNECT. */
  openClient(client: ClientConnection): void {
    if (client.closed) return;
    this.tables.add(client);
    client.announced = true;
    this.emitter.emit('connect', this.clientIdOf(client));
    this.sendEvent(GatewayCommand.ON_CONNECT, client, EMPTY);
  }

  /** @internal a message from the client. */
  clientMessage(client: ClientConnection, message: Buffer): void {
    if (client.closed) return;
    client.pingCount = -1;
    this.counters.messagesIn++;
    this.sendEvent(GatewayCommand.ON_MESSAGE, client, message);
  }

  /** @internal the client's connection is gone (or its handshake was refused). */
  clientClosed(client: ClientConnection): void {
    if (client.closed) return;
    client.closed = true;
    this.pending?.drop(client.id);
    // ON_CLOSE carries the session as it is at close time; by the time the worker handles it,
    // the client is gone from the tables (isOnline 0), as in PHP. A client refused at its
    // handshake was never announced: no ON_CLOSE.
    if (client.announced) this.sendEvent(GatewayCommand.ON_CLOSE, client, EMPTY);
    this.router.release(client);
    this.tables.remove(client);
    if (client.announced) this.emitter.emit('close', this.clientIdOf(client));
  }

  /** @internal no worker for a client: logged unless the gateway just started. */
  noWorker(client: ClientConnection): void {
    if (Date.now() - this.startedAt > STARTUP_GRACE) this.logger.warn(noWorkerConnected(this.clientIdOf(client)));
  }

  /**
   * Forwards one client event to the client's worker (PROTOCOL.md §5.5). When no worker can take it
   * — none is connected, or the client's worker is draining — it waits in the wait room (bounded,
   * in order) and leaves as soon as one can; with `workerWaitWindow: 0` the client is destroyed at
   * once, as in PHP.
   * @param flag FLAG_BODY_IS_SCALAR for byte bodies; 0 for CMD_ON_WEBSOCKET_CONNECT's serialized one
   */
  sendEvent(cmd: number, client: ClientConnection, body: Buffer, flag: number = FLAG_BODY_IS_SCALAR): void {
    const room = this.waitRoom;
    // Behind events that already wait, to keep the client's order.
    const worker = room?.has(client) ? null : this.router.route(client);
    if (worker) return void this.forward(worker, cmd, client, body, flag);
    if (!room) {
      if (cmd === GatewayCommand.ON_CLOSE) return;
      this.noWorker(client);
      this.destroy(client);
      return;
    }
    if (!room.hold(client, { cmd, body: Buffer.from(body), flag })) this.waitExceeded(client, 'its buffer of waiting events is full');
  }

  /** Builds the event packet (the session as it is now) and writes it to the worker. */
  private forward(worker: InnerConnection, cmd: number, client: ClientConnection, body: Buffer, flag: number): boolean {
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
        flag,
        gatewayPort: client.gatewayPort,
      },
      len,
      session.length,
    );
    session.copy(packet, HEAD_LEN);
    body.copy(packet, HEAD_LEN + session.length);
    this.requests.total++;
    this.counters.eventsOut++;
    worker.eventsSent++;
    if (worker.write(packet)) return true;
    this.counters.sendFailures++;
    if (worker.dropped % 1000 === 1) {
      this.logger.warn(`Send buffer to worker ${worker.workerKey} is full: events are being dropped (${worker.dropped} so far).`);
    }
    return true;
  }

  /** Hands waiting events to workers that can take them now (a worker connected, or a draining one left). */
  private flushWaiting(): void {
    this.waitRoom?.flush((client, e) => {
      const worker = this.router.route(client);
      if (!worker) return false;
      this.forward(worker, e.cmd, client, e.body, e.flag);
      // A client that closed while waiting was bound just for its last events.
      if (e.cmd === GatewayCommand.ON_CLOSE) this.router.release(client);
      return true;
    });
  }

  private expireWaiting(): void {
    for (const { client, events } of this.waitRoom?.expire() ?? []) {
      this.applyWaitPolicy(client, events, `no worker took its events within ${this.options.gateway!.workerWaitWindow} ms`);
    }
  }

  private waitExceeded(client: ClientConnection, reason: string): void {
    this.applyWaitPolicy(client, this.waitRoom!.drop(client), reason);
  }

  /** `workerWaitPolicy`: close the client (GatewayWorker's way), or drop its events and count them. */
  private applyWaitPolicy(client: ClientConnection, events: number, reason: string): void {
    const policy = this.options.gateway!.workerWaitPolicy;
    this.logger.warn(workerWaitExceeded(this.clientIdOf(client), reason, events, policy));
    if (policy === 'close' && !client.closed) {
      // Closed now, not when the socket reports it: the rest of its current chunk is ignored, and
      // its close event has no worker to go to either.
      this.clientClosed(client);
      this.waitRoom?.drop(client);
      this.destroy(client);
    }
  }

  /** Graceful close after an optional last message; websocket clients get a close frame. */
  kick(client: ClientConnection, message: Buffer | null, code = 1000): void {
    if (client.closed || client.socket.destroyed) return;
    // A handshake still held for a verdict is refused rather than upgraded and closed.
    if (client.holding) return void this.refuseHeld(client, 403);
    if (message) client.write(new OutgoingMessage(message).framedFor(client.protocol));
    if (client.ws) client.ws.close(code);
    else client.socket.end();
  }

  /** Immediate close; pending output is discarded. */
  destroy(client: ClientConnection): void {
    if (client.ws) client.ws.terminate();
    else client.socket.destroy();
  }

  private refuseHeld(client: ClientConnection, status: number): void {
    this.clientClosed(client);
    refuseUpgrade(client.socket, status);
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
          const cmd = packet[4];
          // The TypeScript extensions (extension-protocol.ts) are handled here; the rest is PHP's.
          if (cmd === ExtensionCommand.WEBSOCKET_VERDICT) return void (this.onVerdict(conn, packet) || socket.destroy());
          if (cmd === ExtensionCommand.EVENTS_HANDLED) {
            if (conn.workerKey) conn.eventsAcked = packet.readUInt32BE(17);
            return;
          }
          if (cmd === ExtensionCommand.STATUS || cmd === ExtensionCommand.WORKER_STATS || cmd === ExtensionCommand.WORKER_DRAIN) {
            return void (this.onOperations(conn, cmd, packet) || socket.destroy());
          }
          if (cmd === GatewayCommand.WORKER_CONNECT) this.readWorkerFeatures(conn, packet);
          if (!this.commands.handle(conn, packet)) socket.destroy();
        });
        conn.partialSince = conn.reader.bufferedBytes === 0 ? 0 : conn.partialSince || Date.now();
      } catch (err) {
        this.logger.warn(`Internal link ${conn.name}: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', noop);
    socket.on('close', () => {
      this.innerConnections.delete(conn);
      if (conn.workerKey && this.router.remove(conn.workerKey, conn)) {
        this.pending?.failWorker(conn.workerKey);
        const lost = conn.acksEvents ? conn.eventsSent - conn.eventsAcked : 0;
        if (lost > 0) {
          // Never lost silently: counted (status, metrics) and logged.
          this.counters.eventsLost += lost;
          this.logger.warn(eventsLost(conn.workerKey, lost));
        }
        this.logger.log(`BusinessWorker ${conn.workerKey} ${conn.draining ? 'finished draining and left' : 'disconnected'} (${this.router.size} left)`);
        this.emitter.emit('workerClosed', conn.workerKey);
        // Its clients' waiting events go, in order, to the workers that remain.
        this.flushWaiting();
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
    if (conn.wantsGatewayInfo) conn.write(this.gatewayInfoPacket());
    this.logger.log(`BusinessWorker ${key} connected (${this.router.size} in all)`);
    this.emitter.emit('workerConnected', key);
    this.flushWaiting();
  }

  /** A TypeScript worker lists its features in CMD_WORKER_CONNECT; a PHP worker lists none. */
  private readWorkerFeatures(conn: InnerConnection, raw: Buffer): void {
    let hello: unknown = null;
    try {
      hello = JSON.parse(decodeGatewayPacket(raw).body.toString());
    } catch {
      // The command handler refuses it.
    }
    conn.webSocketConnectMode = webSocketConnectMode(hello);
    const features = (hello as { features?: unknown } | null)?.features;
    conn.wantsGatewayInfo = Array.isArray(features) && features.includes(WorkerFeature.GATEWAY_INFO);
    conn.acksEvents = Array.isArray(features) && features.includes(WorkerFeature.EVENT_ACKS);
  }

  /** GATEWAY_INFO: the public listeners, so workers can tell handlers each client's protocol. */
  private gatewayInfoPacket(): Buffer {
    const g = this.options.gateway!;
    const ports = this.publicPorts;
    const info: GatewayInfo = {
      name: g.name,
      listeners: g.listen.map((l, i) => ({ port: ports[i] || l.port, protocol: l.protocol, tls: l.tls === true })),
    };
    return encodeGatewayPacket({ cmd: ExtensionCommand.GATEWAY_INFO, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(info)) });
  }

  /**
   * The operations extensions: STATUS (a query, answered like PHP's queries), WORKER_STATS (a
   * worker's report) and WORKER_DRAIN (a worker stopping). False when the link must be closed.
   */
  private onOperations(conn: InnerConnection, cmd: number, raw: Buffer): boolean {
    if (!conn.authorized) {
      this.logger.warn(`Gateway: unauthorized packet (cmd ${cmd}) from ${conn.name}; connection closed. Send the secret key first.`);
      return false;
    }
    if (cmd === ExtensionCommand.STATUS) {
      const reply: GatewayStatusReply = { gateway: this.stats(), workers: [] };
      for (const w of this.router.workers.values()) {
        if (w.stats) reply.workers.push({ ...w.stats, host: w.stats.host || (w.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), state: w.draining ? 'draining' : w.stats.state });
        // A PHP worker (it announced no features) never reports stats: list what the gateway knows of it.
        else if (!w.wantsGatewayInfo && w.workerKey) reply.workers.push(phpWorkerStats(w.workerKey, w.socket.remoteAddress ?? ''));
      }
      conn.reply(phpSerialize(JSON.stringify(reply)));
      return true;
    }
    if (!conn.workerKey) {
      this.logger.warn(`Gateway: cmd ${cmd} from ${conn.name}, which is not a registered worker; connection closed.`);
      return false;
    }
    if (cmd === ExtensionCommand.WORKER_STATS) {
      try {
        conn.stats = JSON.parse(decodeGatewayPacket(raw).body.toString()) as ProcessStats;
      } catch {
        this.logger.warn(`Gateway: unreadable WORKER_STATS from ${conn.workerKey}; ignored.`);
      }
      return true;
    }
    // WORKER_DRAIN: no new client for it, its clients' next events wait for it to leave; the
    // acknowledgement tells it that no event follows.
    conn.draining = true;
    this.router.drain(conn.workerKey);
    this.logger.log(`BusinessWorker ${conn.workerKey} is draining: its clients' new events wait until it has finished`);
    conn.write(encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_DRAIN, flag: FLAG_BODY_IS_SCALAR }));
    return true;
  }

  /** A worker's verdict on a held websocket handshake. False when the link must be closed. */
  private onVerdict(conn: InnerConnection, raw: Buffer): boolean {
    if (!conn.authorized || !conn.workerKey) {
      this.logger.warn(`Gateway: websocket verdict from ${conn.name}, which is not a registered worker; connection closed.`);
      return false;
    }
    const packet = decodeGatewayPacket(raw);
    let verdict: WebSocketVerdict;
    try {
      const v = JSON.parse(packet.body.toString()) as Partial<WebSocketVerdict> | null;
      verdict = { status: typeof v?.status === 'number' ? v.status : 500, message: typeof v?.message === 'string' ? v.message : undefined };
    } catch {
      this.logger.warn(invalidVerdict(conn.name));
      verdict = { status: 500 };
    }
    this.pending?.settle(packet.connectionId, conn.workerKey, verdict);
    return true;
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
