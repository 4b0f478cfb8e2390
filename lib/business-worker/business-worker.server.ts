import { ForbiddenException, HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { ENV_GENERATION } from '../cli/cli.constants.js';
import { GATEWAY_WORKER_OPTIONS, RECONNECT_DELAY } from '../gateway-worker.constants.js';
import type { ProcessStats } from '../protocol/process-stats.js';
import { RateMeter } from '../metrics/rate-meter.js';
import { eventNotFinished, eventTimedOut, guardDenied, handlerFailed, noGatewayFound, sessionNotWritable, webSocketConnectKicked, webSocketConnectRejected, wrongSecretKey } from '../gateway-worker.messages.js';
import { ExtensionCommand, FLAG_AWAITS_VERDICT, WorkerFeature, type GatewayInfo, type GatewayListenerInfo, type WebSocketVerdict } from '../protocol/extension-command.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { encodeClientId } from '../protocol/client-id.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { phpSerialize } from '../protocol/php-serialize.js';
import type { RegisterLink } from '../register/register.link.js';
import { subscribeToRegisters } from '../register/register.subscription.js';
import { GatewayLink } from './gateway.link.js';
import { decodeSession, GatewayEventContext, type GatewayEventHost } from './gateway-event-context.js';
import { gatewayEventStorage } from './gateway-event.storage.js';
import { EventDeadlines, type PendingEvent } from './event-deadlines.js';
import { GatewayHandlerRegistry, type GatewayEventHandler } from './gateway-handler.registry.js';
import { SerialQueues } from './serial-queues.js';
import { SessionTracker } from './session-tracker.js';

/**
 * Events of the BusinessWorkerServer, for `server.on()`.
 *
 * @publicApi
 */
export type BusinessWorkerServerEvents = {
  /** The Register sent a new gateway list. */
  addresses: (addresses: string[]) => void;
  /** A worker connection to a gateway is up. */
  gatewayConnected: (address: string) => void;
  /** A worker connection to a gateway closed. */
  gatewayClosed: (address: string) => void;
};

interface QueuedEvent {
  link: GatewayLink;
  raw: Buffer;
  /** Computed once, when the event arrives (it is also the queue's key). */
  clientId: string;
}

/**
 * The BusinessWorker tier (docs/protocol.md §6): learns the gateways from the Register, keeps a worker
 * connection to each, and runs your `@OnConnect` / `@OnMessage` / `@OnClose` handlers for their
 * clients — one client's events strictly in order, different clients concurrently — writing the
 * session back to the gateway when each handler settles.
 *
 * Boot it as a Nest microservice:
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [BusinessWorkerServer], useFactory: (strategy: BusinessWorkerServer) => ({ strategy }),
 * });
 * await app.listen();
 * ```
 *
 * @publicApi
 */
@Injectable()
export class BusinessWorkerServer extends Server<BusinessWorkerServerEvents> implements CustomTransportStrategy, GatewayEventHost {
  override readonly logger: Logger;
  private readonly emitter = new EventEmitter();
  private readonly registerLinks: RegisterLink[] = [];
  private readonly links = new Map<string, GatewayLink>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly warnedAuth = new Set<string>();
  private known: string[] = [];
  private readonly queues = new SerialQueues<QueuedEvent>((e, done) => this.runEvent(e, done));
  /** Watches `eventTimeout` (null when it is 0, no limit). */
  private readonly deadlines: EventDeadlines | null;
  private readonly sessions = new SessionTracker();
  private running = false;
  private draining = false;
  private statsTimer: NodeJS.Timeout | null = null;
  private noGatewayTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private readonly requests = new RateMeter();
  /** Running totals, read by `status` and the Prometheus metrics. */
  readonly counters = { eventsIn: 0, eventsHandled: 0, commandsOut: 0, sendFailures: 0, eventTimeouts: 0 };
  /** Set by the metrics module: observes each handler's duration. */
  observeEventDuration: ((event: string, seconds: number) => void) | null = null;

  /** Events handled so far. */
  get handledEvents(): number {
    return this.counters.eventsHandled;
  }

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    private readonly registry: GatewayHandlerRegistry,
  ) {
    super();
    this.logger = new Logger(options.businessWorker.name);
    const timeout = options.businessWorker.eventTimeout;
    this.deadlines = timeout > 0 ? new EventDeadlines(timeout) : null;
  }

  /** True between `listen()` and `close()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /**
   * `"<name>:<processIndex>"`, this worker's identity at the gateways; after a reload the process
   * manager's generation is appended (`"<name>:<index>#<generation>"`), so the new worker and the
   * draining old one never take each other's place at a gateway.
   */
  get workerKey(): string {
    const w = this.options.businessWorker;
    const generation = Number(process.env[ENV_GENERATION] ?? 0);
    return `${w.name}:${w.processIndex}${generation > 0 ? `#${generation}` : ''}`;
  }

  /** Bytes queued on the gateway links. */
  get bufferedBytes(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.socket.writableLength;
    return n;
  }

  /** This process as `gateway-worker status` shows it. */
  stats(): ProcessStats {
    let failures = this.counters.sendFailures;
    for (const l of this.links.values()) failures += l.dropped;
    return {
      tier: 'business-worker',
      name: this.workerKey,
      host: this.options.businessWorker.lanIp ?? '',
      pid: process.pid,
      memory: process.memoryUsage.rss(),
      listening: '-',
      connections: this.connectedGateways.length,
      sendFailures: failures,
      totalRequests: this.requests.total,
      qps: this.requests.perSecond,
      state: this.draining ? 'draining' : this.running ? 'running' : 'stopping',
      startedAt: this.startedAt,
    };
  }

  /** Gateway addresses the Register last announced. */
  get gatewayAddresses(): readonly string[] {
    return this.known;
  }

  /** Addresses of the gateways this worker is connected to. */
  get connectedGateways(): string[] {
    return [...this.links.values()].filter((l) => l.connected).map((l) => l.address);
  }

  /** Connects to the Register(s); gateway links follow as addresses arrive. */
  listen(callback: (err?: unknown, info?: unknown) => void): void {
    this.running = true;
    this.startedAt = Date.now();
    // Every second, TypeScript gateways get this worker's status (for `gateway-worker status`).
    this.statsTimer = setInterval(() => this.reportStats(), 1000);
    this.statsTimer.unref();
    this.noGatewayTimer = setInterval(() => {
      if (this.connectedGateways.length === 0) {
        const w = this.options.businessWorker;
        this.logger.warn(noGatewayFound(this.workerKey, Math.round(w.noGatewayWarning / 1000), this.known, this.options.registerAddresses));
      }
    }, this.options.businessWorker.noGatewayWarning);
    this.noGatewayTimer.unref();
    this.registerLinks.push(...subscribeToRegisters(this.options, `BusinessWorker ${this.workerKey}`, this.logger, (list) => this.setAddresses(list)));
    this.logger.log(`BusinessWorker ${this.workerKey} started; asking ${this.options.registerAddresses.join(', ')} for gateways`);
    callback();
  }

  /**
   * Stops gracefully: every TypeScript gateway is told the worker is draining (it sends no more
   * events and holds this worker's clients' next events), the events already received are handled
   * (up to 10 s) and their replies and session write-backs leave, then the links close and the
   * gateways hand the held events, in order, to the other workers. A PHP gateway gets no drain
   * message (it would not understand it): it simply rebinds the clients after the close.
   */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.draining = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.noGatewayTimer) clearInterval(this.noGatewayTimer);
    for (const link of this.registerLinks) link.stop();
    this.registerLinks.length = 0;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    const drain = encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_DRAIN, flag: FLAG_BODY_IS_SCALAR });
    const acks: Promise<void>[] = [];
    for (const link of this.links.values()) {
      if (link.speaksExtensions && link.write(drain)) acks.push(link.drained);
    }
    // After the acknowledgements no event can arrive: then the queues only shrink.
    await Promise.race([Promise.all(acks), sleep(2_000)]);
    await Promise.race([this.queues.idle(), sleep(10_000)]);
    await new Promise((r) => setImmediate(r));
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) l.end();
    this.requests.stop();
    this.draining = false;
  }

  private reportStats(): void {
    const packet = encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_STATS, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(this.stats())) });
    for (const link of this.links.values()) if (link.speaksExtensions) link.write(packet);
  }

  on<K extends keyof BusinessWorkerServerEvents>(event: K, callback: BusinessWorkerServerEvents[K]): void {
    this.emitter.on(event, callback);
  }

  /** The gateway links by address. */
  unwrap<T>(): T {
    return this.links as T;
  }

  /** Sends a command packet to the gateway at `address`; false if this worker is not connected to it. */
  sendToGateway(address: string, packet: Buffer): boolean {
    const sent = this.links.get(address)?.write(packet) ?? false;
    if (sent) this.counters.commandsOut++;
    else this.counters.sendFailures++;
    return sent;
  }

  /** Sends a command packet to every connected gateway; returns how many took it. */
  sendToAllGateways(packet: Buffer | ((address: string) => Buffer | null)): number {
    let n = 0;
    for (const link of this.links.values()) {
      const p = typeof packet === 'function' ? packet(link.address) : packet;
      if (p && link.write(p)) n++;
    }
    this.counters.commandsOut += n;
    return n;
  }

  /** Records a session write made through GatewayService for the current client. */
  sessionWritten(clientId: string, previous: Buffer, next: Buffer): void {
    this.sessions.written(clientId, previous, next);
  }

  /** The public listener `port` of the gateway at `address` (TypeScript gateways describe theirs). */
  listenerOf(address: string, port: number): GatewayListenerInfo | undefined {
    return this.links.get(address)?.listener(port);
  }

  // ---- discovery and links -------------------------------------------------------------------

  /**
   * What this worker announces to gateways: it reads GATEWAY_INFO, and — only when it has
   * `@OnWebSocketConnect` handlers — it gives verdicts on websocket handshakes (a gateway then holds
   * each handshake for them; without handlers nobody should wait).
   */
  private features(): string[] {
    const features: string[] = [WorkerFeature.GATEWAY_INFO, WorkerFeature.FLOW_CONTROL];
    if (this.registry.get('websocketConnect').length) features.push(WorkerFeature.WEBSOCKET_VERDICT);
    return features;
  }

  private setAddresses(addresses: string[]): void {
    this.known = addresses;
    this.emitter.emit('addresses', this.known);
    for (const address of this.known) if (!this.retryTimers.has(address)) this.connectGateway(address);
  }

  private connectGateway(address: string): void {
    if (!this.running || this.links.has(address) || !this.known.includes(address)) return;
    const link = new GatewayLink({
      address,
      workerKey: this.workerKey,
      secretKey: this.options.secretKey,
      features: this.features(),
      localAddress: this.options.businessWorker.lanIp ?? undefined,
      connectTimeout: this.options.connectTimeout,
      maxPacketSize: this.options.innerMaxPackageSize,
      bufferLimit: this.options.businessWorker.sendToGatewayBufferSize,
      onPacket: (raw, l) => this.onPacket(l, raw),
      onOpen: (l) => {
        this.logger.log(`BusinessWorker ${this.workerKey} connected to gateway ${l.address}`);
        this.emitter.emit('gatewayConnected', l.address);
      },
      onClose: (l, reason, refused) => this.onLinkClose(l, reason, refused),
    });
    this.links.set(address, link);
  }

  private onLinkClose(link: GatewayLink, reason: string, refused: boolean): void {
    const wasOpen = this.links.get(link.address) === link;
    if (wasOpen) this.links.delete(link.address);
    this.emitter.emit('gatewayClosed', link.address);
    if (!this.running || !wasOpen) return;
    if (link.wasOpen && !refused) this.logger.log(`BusinessWorker ${this.workerKey} lost gateway ${link.address} (${reason})`);
    if (refused && !this.warnedAuth.has(link.address)) {
      this.warnedAuth.add(link.address);
      this.logger.warn(wrongSecretKey(`BusinessWorker ${this.workerKey}`, `gateway ${link.address}`, 'our worker connection') + ' (the gateway closed it before sending anything; retrying every second)');
    }
    if (!this.known.includes(link.address)) return;
    this.retryTimers.set(
      link.address,
      setTimeout(() => {
        this.retryTimers.delete(link.address);
        this.connectGateway(link.address);
      }, RECONNECT_DELAY),
    );
  }

  // ---- events --------------------------------------------------------------------------------

  private onPacket(link: GatewayLink, raw: Buffer): void {
    const cmd = raw[4];
    if (cmd === ExtensionCommand.GATEWAY_INFO) return this.onGatewayInfo(link, raw);
    if (cmd === ExtensionCommand.WORKER_DRAIN) return link.markDrained();
    if (cmd === GatewayCommand.ON_WEBSOCKET_CONNECT) {
      // Without handlers there is nothing to run, and no gateway waits for this worker.
      if (this.registry.get('websocketConnect').length === 0) return;
    } else if (cmd !== GatewayCommand.ON_CONNECT && cmd !== GatewayCommand.ON_MESSAGE && cmd !== GatewayCommand.ON_CLOSE) return;
    // Key by client_id: ordering is per client, across the whole cluster.
    const clientId = encodeClientId(raw.readUInt32BE(5), raw.readUInt16BE(9), raw.readUInt32BE(17));
    this.counters.eventsIn++;
    this.queues.push(clientId, { link, raw, clientId });
  }

  private onGatewayInfo(link: GatewayLink, raw: Buffer): void {
    try {
      const info = JSON.parse(decodeGatewayPacket(raw).body.toString()) as GatewayInfo;
      if (Array.isArray(info?.listeners)) link.setInfo(info);
    } catch {
      this.logger.warn(`BusinessWorker ${this.workerKey}: unreadable GATEWAY_INFO from gateway ${link.address}; client protocols stay unknown.`);
    }
  }

  /** Starts an event's handlers; `done` lets the client's next event run. */
  private runEvent(item: QueuedEvent, done: () => void): void {
    const packet = decodeGatewayPacket(item.raw);
    const clientId = item.clientId;
    const isClose = packet.cmd === GatewayCommand.ON_CLOSE;
    const sessionBytes = isClose ? packet.extData : this.sessions.resolve(clientId, packet.extData);
    if (isClose) this.sessions.forget(clientId);
    const ctx = new GatewayEventContext(this, packet, clientId, sessionBytes);
    this.counters.eventsHandled++;
    this.requests.total++;
    this.step(new EventRun(item.link, ctx, this.registry.get(ctx.event), this.observeEventDuration ? performance.now() : 0, done));
  }

  /**
   * Runs the event's handlers from `run.index` on, synchronously as long as they return no
   * promise; at the first promise it returns and goes on when that settles. A handler that
   * completes synchronously therefore costs no promise, no timer and no extra turn.
   */
  private step(run: EventRun): void {
    if (run.finished) return; // timed out meanwhile: the queue has moved on
    const { ctx, handlers } = run;
    while (run.index < handlers.length) {
      const handler = handlers[run.index++]!;
      run.current = handler.name;
      let result: unknown;
      try {
        result = gatewayEventStorage.run(ctx, handler.call, run.payload, ctx);
      } catch (err) {
        if (this.handlerThrew(run, err)) break;
        continue;
      }
      if (isThenable(result)) {
        if (this.deadlines && !run.pending) run.pending = this.deadlines.track(() => this.expire(run));
        result.then(
          () => this.step(run),
          (err: unknown) => (this.handlerThrew(run, err) ? this.finish(run) : this.step(run)),
        );
        return;
      }
    }
    this.finish(run);
  }

  /** Reports a handler's exception; true when the event's remaining handlers must not run. */
  private handlerThrew(run: EventRun, err: unknown): boolean {
    const { ctx } = run;
    if (run.finished) return true;
    if (ctx.event === 'websocketConnect') {
      run.refusal = this.refusal(run.current, ctx.clientId, err);
      return true;
    }
    if (err instanceof ForbiddenException) {
      this.logger.warn(guardDenied(`on${ctx.event[0]!.toUpperCase()}${ctx.event.slice(1)}`, ctx.clientId));
      if (ctx.event === 'connect') this.sendToGateway(ctx.gatewayAddress, kickPacket(ctx.packet.connectionId));
      return true;
    }
    this.logger.error(handlerFailed(run.current, ctx.clientId, err));
    return false;
  }

  /** `eventTimeout` passed: the handler cannot be cancelled, but the client's queue moves on. */
  private expire(run: EventRun): void {
    if (run.finished) return;
    this.counters.eventTimeouts++;
    this.logger.warn(eventTimedOut(run.current, run.ctx.clientId, this.options.businessWorker.eventTimeout));
    // What the handler did so far is written back.
    this.finish(run);
  }

  /** After the handlers: session write-back or handshake verdict, the confirmation, the next event. */
  private finish(run: EventRun): void {
    if (run.finished) return;
    run.finished = true;
    const { ctx } = run;
    try {
      if (run.pending) this.deadlines!.settle(run.pending);
      if (this.observeEventDuration) this.observeEventDuration(ctx.event, (performance.now() - run.started) / 1000);
      if (ctx.event === 'websocketConnect') this.answerHandshake(ctx, run.refusal);
      else if (ctx.event !== 'close') this.writeBack(ctx);
      // Confirmed after the event's commands and write-back, on the same link: a gateway that got
      // the confirmation got them too.
      const link = run.link;
      if (link.speaksExtensions) link.send(encodeGatewayPacket({ cmd: ExtensionCommand.EVENTS_HANDLED, connectionId: ctx.packet.connectionId, flag: FLAG_BODY_IS_SCALAR }));
    } catch (err) {
      // Reached from a promise callback too: a throw here would be an unhandled rejection.
      this.logger.error(eventNotFinished(ctx.clientId, err));
    } finally {
      run.done();
    }
  }

  /** What an exception from an `@OnWebSocketConnect` handler means for the handshake. */
  private refusal(handler: string, clientId: string, err: unknown): WebSocketVerdict {
    if (err instanceof HttpException) {
      const status = err.getStatus();
      this.logger.log(webSocketConnectRejected(`@OnWebSocketConnect ${handler}`, clientId, status, err.message));
      return { status, message: err.message };
    }
    this.logger.error(handlerFailed(handler, clientId, err));
    return { status: 500 };
  }

  /**
   * After the `@OnWebSocketConnect` handlers: the session goes back first (the gateway holds the
   * client in its tables, so it applies it before the client's ON_CONNECT), then the verdict —
   * to a gateway that holds the handshake for it. A PHP gateway has already accepted: a refused
   * client is closed instead.
   */
  private answerHandshake(ctx: GatewayEventContext, refusal: WebSocketVerdict | null): void {
    const { connectionId, flag } = ctx.packet;
    if (!refusal) this.writeBack(ctx);
    // A refused client never comes back: forget any session write made before the refusal.
    else this.sessions.forget(ctx.clientId);
    if (flag & FLAG_AWAITS_VERDICT) {
      const verdict: WebSocketVerdict = refusal ?? { status: 101 };
      this.sendToGateway(
        ctx.gatewayAddress,
        encodeGatewayPacket({ cmd: ExtensionCommand.WEBSOCKET_VERDICT, connectionId, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(verdict)) }),
      );
    } else if (refusal) {
      this.logger.warn(webSocketConnectKicked('@OnWebSocketConnect', ctx.clientId, refusal.status));
      this.sendToGateway(ctx.gatewayAddress, kickPacket(connectionId));
    }
  }

  /** Sends CMD_SET_SESSION when the handler changed the session (docs/protocol.md §6.5). */
  private writeBack(ctx: GatewayEventContext): void {
    if (!ctx.sessionTouched) return;
    let bytes: Buffer;
    try {
      bytes = phpSerialize(ctx.session);
    } catch (err) {
      this.logger.error(sessionNotWritable(ctx.clientId, (err as Error).message));
      return;
    }
    const base = ctx.sessionWritten ?? ctx.sessionBytes;
    if (bytes.equals(base)) return;
    // The gateway's bytes may be PHP-written (floats like 2.0, int keys after string keys) and
    // differ from ours for the same content: compare with their canonical form before writing.
    if (ctx.sessionWritten === null && bytes.equals(phpSerialize(decodeSession(base)))) return;
    this.sendToGateway(
      ctx.gatewayAddress,
      encodeGatewayPacket({ cmd: GatewayCommand.SET_SESSION, connectionId: ctx.packet.connectionId, flag: FLAG_BODY_IS_SCALAR, extData: bytes }),
    );
    this.sessions.written(ctx.clientId, base, bytes);
  }
}

/** One event on its way through its handlers. */
class EventRun {
  /** The next handler to run. */
  index = 0;
  /** The handler running (for the timeout warning). */
  current = '';
  refusal: WebSocketVerdict | null = null;
  pending: PendingEvent | null = null;
  finished = false;
  readonly payload: unknown;

  constructor(
    readonly link: GatewayLink,
    readonly ctx: GatewayEventContext,
    readonly handlers: readonly GatewayEventHandler[],
    readonly started: number,
    readonly done: () => void,
  ) {
    this.payload = ctx.event === 'message' ? ctx.message : ctx.event === 'websocketConnect' ? ctx.request : undefined;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function kickPacket(connectionId: number): Buffer {
  return encodeGatewayPacket({ cmd: GatewayCommand.KICK, connectionId, body: Buffer.from('N;') });
}
