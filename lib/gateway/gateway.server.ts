import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { gatewayListening, gatewayOptionsMissing, serverNotListening, webSocketConnectTimedOut } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { phpWorkerStats } from '../protocol/php-peer.stats.js';
import { RateMeter } from '../utils/rate-meter.js';
import { encodeClientId } from '../protocol/client-id.js';
import { ExtensionCommand, type GatewayInfo, type GatewayStatusReply } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { phpSerialize } from '../protocol/php-serialize.js';
import type { ProcessStats, ResumeStats } from '../protocol/process-stats.js';
import { gatewayConnectLine } from '../protocol/register-message.js';
import { RegisterLink } from '../register/register.link.js';
import { ip2long } from '../utils/ip.util.js';
import { LogThrottle } from '../utils/log-throttle.js';
import { ClientCommands } from './client-commands.js';
import type { ClientConnection } from './client-connection.js';
import { ClientEdge } from './client-edge.js';
import { ClientLifecycle } from './client-lifecycle.js';
import { EventForwarder } from './event-forwarder.js';
import { GatewayCounters } from './gateway-counters.js';
import { GatewayTables } from './gateway-tables.js';
import { InnerPort } from './inner-port.js';
import { PeerAdmission } from '../utils/peer-admission.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { QueryCommands } from './query-commands.js';
import { ResumeHandover } from './resume-handover.js';
import { ResumeRoom } from './resume-room.js';
import { SlowClients } from './slow-clients.js';
import { loadTlsOptions } from './tls.options.js';
import { WorkerCommands } from './worker-commands.js';
import { WorkerRouter } from './worker-router.js';

/** Gateway → worker keepalive when lanIp is not 127.0.0.1 (PHP: 25 s). */
const WORKER_PING_INTERVAL = 25_000;
/** How long close() lets workers see their last events before cutting the links. */
const INNER_CLOSE_GRACE = 500;

/**
 * Events of the GatewayServer, for `server.on()`.
 *
 * @publicApi
 */
export type GatewayServerEvents = {
  /** A client connected: its client_id. */
  connect: (clientId: string) => void;
  /** A client's connection closed: its client_id. */
  close: (clientId: string) => void;
  /** An opted-in client's connection broke; it is kept for `resumeWindow` (its client_id). */
  disconnect: (clientId: string) => void;
  /** A kept client is connected again: its client_id here, and the one it had (equal when it resumed on this gateway). */
  resume: (clientId: string, previousClientId: string) => void;
  /** A BusinessWorker connected and authenticated: its worker key. */
  workerConnected: (workerKey: string) => void;
  /** A BusinessWorker's connection closed: its worker key. */
  workerClosed: (workerKey: string) => void;
};

/** The parts of a running gateway, wired once `listen()` has the options. */
interface GatewayParts {
  edge: ClientEdge;
  forwarder: EventForwarder;
  inner: InnerPort;
  pending: PendingHandshakes;
  router: WorkerRouter;
  room: ResumeRoom;
}

/**
 * The Gateway tier: holds the client connections (text, frame, tcp, websocket), forwards their
 * events to BusinessWorkers with per-client flow control, and applies the commands workers and
 * GatewayClients send to its internal port (docs/protocol.md §5).
 *
 * This class is the Nest strategy: lifecycle, wiring and status. The work is done by its parts,
 * each handed only what it uses, in one direction: the client edge (listeners, admission,
 * heartbeat, stalled frames) reports to the client lifecycle (tables, connect/close), which hands
 * events to the event forwarder (routing, flow control, waiting, hung workers); the inner port
 * reads the internal links and dispatches each packet through one command table to the client
 * commands, the queries and the worker commands (docs/architecture.md).
 *
 * Boot it as a Nest microservice:
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [GatewayServer], useFactory: (strategy: GatewayServer) => ({ strategy }),
 * });
 * await app.listen();
 * ```
 *
 * @publicApi
 */
@Injectable()
export class GatewayServer extends Server<GatewayServerEvents> implements CustomTransportStrategy {
  override readonly logger: Logger;
  /** @internal The clients, their uids and groups. */
  readonly tables = new GatewayTables();
  /** Running totals (messages in and out, send failures, events forwarded, limits that bit). */
  readonly counters = new GatewayCounters();
  private readonly requests = new RateMeter();
  private readonly emitter = new EventEmitter();
  private readonly limiter = new LogThrottle();
  private readonly registerLinks: RegisterLink[] = [];
  private parts: GatewayParts | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private lanIpLong = 0;
  private closingValue = false;

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    super();
    this.logger = new Logger(options.gateway?.name ?? 'Gateway');
  }

  /** True between a successful `listen()` and `close()`. */
  get isListening(): boolean {
    return this.parts !== null && this.parts.inner.netServer !== null && !this.closingValue;
  }

  /** True while at least one Register link is up (this gateway is announced to workers). */
  get isRegistered(): boolean {
    return this.registerLinks.some((l) => l.connected);
  }

  /** Bytes queued in the send buffers of the clients and the internal links. */
  get bufferedBytes(): number {
    let n = this.parts?.inner.bufferedBytes ?? 0;
    for (const c of this.tables.clients.values()) n += c.socket.writableLength;
    return n;
  }

  /**
   * Client events not yet handed to a worker (flow control, no worker, or the client's worker
   * draining): clients, events and bytes waiting now; events delivered after waiting; events
   * dropped past `workerWaitWindow`.
   */
  get waiting(): { clients: number; events: number; bytes: number; delivered: number; expired: number } {
    return this.parts?.forwarder.backlog ?? { clients: 0, events: 0, bytes: 0, delivered: 0, expired: 0 };
  }

  /**
   * Resumable clients (`gateway.resumeWindow`): clients waiting now to be resumed, bytes of
   * unacknowledged messages held, and the running counts (parked, resumes, hand-overs in and out,
   * expiries, overflows, refused resumes).
   */
  get resumeStats(): ResumeStats {
    const room = this.parts?.room;
    return { waiting: room?.waiting ?? 0, bytes: room?.bytes ?? 0, ...this.counters.resume };
  }

  /** Clients whose socket is not being read now (flow control or waiting for a worker). */
  get pausedClients(): number {
    return this.parts?.forwarder.pausedClients ?? 0;
  }

  /** This process as `gateway-worker status` shows it. */
  stats(): ProcessStats {
    const g = this.options.gateway!;
    return {
      tier: 'gateway',
      name: g.name,
      host: g.lanIp,
      pid: process.pid,
      memory: process.memoryUsage.rss(),
      listening: [...(this.parts?.edge.describe() ?? []), `inner ${this.address}`].join(' '),
      connections: this.tables.clients.size,
      sendFailures: this.counters.sendFailures,
      lostEvents: this.counters.eventsLost,
      totalRequests: this.requests.total,
      qps: this.requests.perSecond,
      state: this.closingValue ? 'stopping' : 'running',
      startedAt: this.startedAt,
      pausedClients: this.pausedClients,
      limits: { ...this.counters.limits },
      resume: this.resumeStats,
    };
  }

  /** `"<lanIp>:<lanPort>"`: this process's identity in the cluster and in its client_ids. */
  get address(): string {
    return `${this.options.gateway?.lanIp}:${this.lanPort}`;
  }

  /** The internal port (startPort + processIndex, or the OS-chosen one when startPort is 0). */
  get lanPort(): number {
    return this.parts?.inner.port ?? 0;
  }

  /** The public ports actually listened on, in the order of `gateway.listen`. */
  get publicPorts(): number[] {
    return this.parts?.edge.publicPorts ?? [];
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.tables.clients.size;
  }

  /** Keys of the connected BusinessWorkers. */
  get workerKeys(): string[] {
    return [...(this.parts?.router.workers.keys() ?? [])];
  }

  /** True once `close()` began: new connections are refused. */
  get closing(): boolean {
    return this.closingValue;
  }

  /** Websocket handshakes waiting for an `@OnWebSocketConnect` verdict. */
  get pendingHandshakes(): number {
    return this.parts?.pending.size ?? 0;
  }

  /** client_id of one of this gateway's connections. */
  clientIdOf(client: ClientConnection): string {
    return encodeClientId(this.lanIpLong, this.lanPort, client.id);
  }

  /** Starts the internal port, the public listeners and the Register links, then calls back. */
  listen(callback: (err?: unknown, info?: unknown) => void): void {
    const g = this.options.gateway;
    if (!g) {
      callback(new Error(gatewayOptionsMissing()));
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
    const tls = g.tls ? loadTlsOptions(g.tls) : null;
    const parts = this.wire(g, tls);
    this.parts = parts;
    await parts.inner.listen(g.innerBindHost, g.lanPort);
    await parts.edge.listen();
    // One sweep per process for every timed rule: no timer per connection.
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    for (const address of this.options.registerAddresses) {
      const link = new RegisterLink({
        address,
        hello: () => gatewayConnectLine(this.address, this.options.secretKey),
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
        for (const w of parts.router.workers.values()) w.write(ping);
      }, WORKER_PING_INTERVAL);
      this.pingTimer.unref();
    }
    this.logger.log(gatewayListening(g.name, this.address, parts.edge.describe(), this.options.registerAddresses));
  }

  /** Builds the parts, each handed only what it uses. */
  private wire(g: NonNullable<ResolvedGatewayWorkerOptions['gateway']>, tls: ReturnType<typeof loadTlsOptions> | null): GatewayParts {
    const { logger, limiter, counters, tables, emitter } = this;
    const clientIdOf = (client: ClientConnection) => this.clientIdOf(client);
    const router = new WorkerRouter(g.router);
    const forwarder = new EventForwarder(router, tables.clients, counters, this.requests, logger, limiter, {
      lanIpLong: this.lanIpLong,
      lanPort: () => this.lanPort,
      maxEventsInFlight: g.maxEventsInFlight,
      maxBytesInFlight: g.maxBytesInFlight,
      innerMaxPackageSize: this.options.innerMaxPackageSize,
      workerWaitWindow: g.workerWaitWindow,
      workerWaitPolicy: g.workerWaitPolicy,
      workerHangTimeout: g.workerHangTimeout,
      clientIdOf,
    });
    const pending = new PendingHandshakes(g.webSocketConnectTimeout, (client, workerKey) =>
      logger.warn(webSocketConnectTimedOut(clientIdOf(client), workerKey, g.webSocketConnectTimeout)),
    );
    const slow = new SlowClients(g.sendToClientBufferSize, g.slowClientPolicy, counters, logger, limiter, clientIdOf);
    let lifecycle: ClientLifecycle | null = null;
    const room = new ResumeRoom({ window: g.resumeWindow, clientBufferSize: g.resumeBufferSize, totalBufferSize: g.resumeTotalBufferSize }, counters, logger, limiter, clientIdOf, (client) => {
      client.final = true;
      lifecycle!.closed(client);
    });
    lifecycle = new ClientLifecycle(tables, forwarder, new PeerAdmission(g.maxConnectionsPerIp), slow, counters, logger, limiter, emitter, g.maxConnectionsPerIp, clientIdOf, room);
    const queries = new QueryCommands(tables, counters, logger, g.sendToWorkerBufferSize);
    const handover = new ResumeHandover(
      lifecycle,
      { secretKey: this.options.secretKey, connectTimeout: this.options.connectTimeout, timeout: this.options.queryTimeout, innerMaxPackageSize: this.options.innerMaxPackageSize },
      () => ({ lanIpLong: this.lanIpLong, lanPort: this.lanPort }),
      (conn, bytes) => void queries.reply(conn, bytes),
    );
    const edge = new ClientEdge(lifecycle, tables.clients, pending, counters, logger, limiter, {
      name: g.name,
      listen: g.listen,
      tls,
      trustedProxies: g.trustedProxies,
      maxPackageSize: this.options.maxPackageSize,
      webSocketPingIsActivity: g.webSocketPingIsActivity,
      stalledFrameTimeout: g.stalledFrameTimeout,
      pingInterval: g.pingInterval,
      pingNotResponseLimit: g.pingNotResponseLimit,
      pingData: g.pingData,
      address: () => this.address,
      handover: (ask, address, socket, ip, port) => handover.take(ask, address, socket, ip, port),
    });
    const workers = new WorkerCommands(router, forwarder, pending, counters, logger, emitter, () => this.gatewayInfoPacket());
    const inner = new InnerPort(
      {
        name: g.name,
        secretKey: this.options.secretKey,
        innerMaxPackageSize: this.options.innerMaxPackageSize,
        sendBufferSize: g.sendToWorkerBufferSize,
        maxConnectionsPerIp: g.innerMaxConnectionsPerIp,
        stalledFrameTimeout: g.stalledFrameTimeout,
        localPeersOnly: this.options.protectedMode && this.options.secretKey === '',
      },
      new PeerAdmission(g.innerMaxConnectionsPerIp),
      counters,
      logger,
      limiter,
      (conn, hello) => workers.register(conn, hello),
      (conn) => workers.closed(conn),
    );
    inner.register(new ClientCommands(tables, logger).commands());
    inner.register(queries.commands());
    inner.register(workers.commands());
    inner.register(handover.commands());
    // STATUS: a query for `gateway-worker status`, answered like PHP's queries.
    inner.register([[ExtensionCommand.STATUS, { access: 'authorized', handle: (conn) => queries.reply(conn, phpSerialize(JSON.stringify(this.statusReply()))) }]]);
    return { edge, forwarder, inner, pending, router, room };
  }

  /** The timed rules, once a second: stalled frames, events waiting too long, hung workers. */
  private sweep(): void {
    const parts = this.parts;
    if (!parts) return;
    const now = Date.now();
    parts.edge.sweep(now);
    parts.inner.sweep(now);
    parts.forwarder.sweep(now);
    parts.room.sweep(now);
  }

  /** STATUS: this gateway and the workers connected to it (a PHP worker, which reports nothing, as far as known). */
  private statusReply(): GatewayStatusReply {
    const reply: GatewayStatusReply = { gateway: this.stats(), workers: [] };
    for (const [key, w] of this.parts?.router.workers ?? []) {
      const host = (w.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      if (w.stats) reply.workers.push({ ...w.stats, host: w.stats.host || host, state: w.draining ? 'draining' : w.stats.state });
      else if (!w.wantsGatewayInfo) reply.workers.push(phpWorkerStats(key, host));
    }
    return reply;
  }

  /**
   * Stops accepting, closes every client cleanly (websocket clients get a close frame, and the
   * workers get their ON_CLOSE events), then the internal links and the Register links.
   */
  async close(): Promise<void> {
    if (this.closingValue) return;
    this.closingValue = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.requests.stop();
    const parts = this.parts;
    if (parts) await parts.edge.close();
    for (const link of this.registerLinks) link.stop();
    this.registerLinks.length = 0;
    // Let the last ON_CLOSE packets leave before the worker links go.
    await new Promise((r) => setImmediate(r));
    if (parts) await parts.inner.close(INNER_CLOSE_GRACE);
  }

  on<K extends keyof GatewayServerEvents>(event: K, callback: GatewayServerEvents[K]): void {
    this.emitter.on(event, callback);
  }

  /** The underlying servers: `{ inner, public }`. */
  unwrap<T>(): T {
    const parts = this.parts;
    if (!parts?.inner.netServer) throw new Error(serverNotListening('GatewayServer.unwrap()'));
    return { inner: parts.inner.netServer, public: parts.edge.publicServers } as T;
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
}
