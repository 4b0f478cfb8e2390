import { Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ENV_GENERATION } from '../gateway-worker.constants.js';
import { GatewayQueryPool } from '../client/gateway-query.pool.js';
import { GatewayTransportSwitch } from '../client/gateway-transport.switch.js';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { workerStarted } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { RateMeter } from '../utils/rate-meter.js';
import { WorkerFeature } from '../protocol/extension-command.js';
import type { ProcessStats } from '../protocol/process-stats.js';
import { GatewayHandlerRegistry } from './gateway-handler.registry.js';
import { GatewayLinks, type GatewayLinksEvents } from './gateway-links.js';
import { HandlerRunner } from './handler-runner.js';
import { SessionWriteBack } from './session-write-back.js';
import { WorkerTransport } from './worker.transport.js';

/**
 * Events of the BusinessWorkerServer, for `server.on()`.
 *
 * @publicApi
 */
export type BusinessWorkerServerEvents = GatewayLinksEvents;

/** How long a stopping worker waits for the gateways to acknowledge its drain, ms. */
const DRAIN_ACK_TIMEOUT = 2_000;
/**
 * How long a whole drain may take, ms: acknowledgements, then the events received before them.
 * Within the process manager's default `stopTimeout` (10 s), so a drain is never cut by a kill.
 */
const DRAIN_TIMEOUT = 8_000;

/**
 * The BusinessWorker tier (docs/protocol.md §6): learns the gateways from the Register, keeps a
 * worker connection to each, and runs your `@OnConnect` / `@OnMessage` / `@OnClose` handlers for
 * their clients — one client's events strictly in order, different clients concurrently — writing
 * the session back to the gateway when each handler settles.
 *
 * It wires three parts that depend one way: {@link GatewayLinks} (Register, links, drain)
 * delivers events to the {@link HandlerRunner} (queues, deadlines, handlers, confirmations), which
 * uses {@link SessionWriteBack}. While it runs, `GatewayService` sends on its links.
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
export class BusinessWorkerServer extends Server<BusinessWorkerServerEvents> implements CustomTransportStrategy {
  override readonly logger: Logger;
  /** Running totals, read by `status` and the Prometheus metrics. `readPauses`: times `maxQueuedEvents` stopped reading. */
  readonly counters = { eventsIn: 0, eventsHandled: 0, commandsOut: 0, sendFailures: 0, eventTimeouts: 0, readPauses: 0 };
  private readonly links: GatewayLinks;
  private readonly runner: HandlerRunner;
  private readonly transport: WorkerTransport;
  private readonly requests = new RateMeter();
  private statsTimer: NodeJS.Timeout | null = null;
  private running = false;
  private draining = false;
  private startedAt = 0;

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    private readonly registry: GatewayHandlerRegistry,
    private readonly transports: GatewayTransportSwitch,
  ) {
    super();
    this.logger = new Logger(options.businessWorker.name);
    const workerKey = this.workerKey;
    const counters = this.counters;
    this.links = new GatewayLinks({
      options,
      workerKey,
      logger: this.logger,
      counters,
      onEvent: (raw, link) => this.runner.push(raw, link),
    });
    this.runner = new HandlerRunner({
      registry,
      sessions: new SessionWriteBack(this.logger),
      source: this.links,
      logger: this.logger,
      eventTimeout: options.businessWorker.eventTimeout,
      maxQueuedEvents: options.businessWorker.maxQueuedEvents,
      workerKey,
      counters,
      requests: this.requests,
    });
    this.transport = new WorkerTransport(this.links, new GatewayQueryPool(options));
  }

  /** Set by the metrics module: observes each handler's duration. */
  get observeEventDuration(): ((event: string, seconds: number) => void) | null {
    return this.runner.observeEventDuration;
  }

  set observeEventDuration(observe: ((event: string, seconds: number) => void) | null) {
    this.runner.observeEventDuration = observe;
  }

  /** Events handled so far. */
  get handledEvents(): number {
    return this.counters.eventsHandled;
  }

  /** Events received and not finished yet (at most about `maxQueuedEvents`). */
  get queuedEvents(): number {
    return this.runner.queuedEvents;
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
    return this.links.bufferedBytes;
  }

  /** Gateway addresses the Register last announced. */
  get gatewayAddresses(): readonly string[] {
    return this.links.addresses;
  }

  /** Addresses of the gateways this worker is connected to. */
  get connectedGateways(): string[] {
    return this.links.connected;
  }

  /** This process as `gateway-worker status` shows it. */
  stats(): ProcessStats {
    return {
      tier: 'business-worker',
      name: this.workerKey,
      host: this.options.businessWorker.lanIp ?? '',
      pid: process.pid,
      memory: process.memoryUsage.rss(),
      listening: '-',
      connections: this.connectedGateways.length,
      sendFailures: this.counters.sendFailures,
      totalRequests: this.requests.total,
      qps: this.requests.perSecond,
      state: this.draining ? 'draining' : this.running ? 'running' : 'stopping',
      startedAt: this.startedAt,
    };
  }

  /** Connects to the Register(s); gateway links follow as addresses arrive. From now on GatewayService sends on them. */
  listen(callback: (err?: unknown, info?: unknown) => void): void {
    this.running = true;
    this.startedAt = Date.now();
    this.transports.use(this.transport);
    this.links.start(this.features());
    // Every second, TypeScript gateways get this worker's status (for `gateway-worker status`).
    this.statsTimer = setInterval(() => this.links.report(this.stats()), 1000);
    this.statsTimer.unref();
    this.logger.log(workerStarted(this.workerKey, this.options.registerAddresses));
    callback();
  }

  /**
   * Stops gracefully: every TypeScript gateway is told the worker is draining (it sends no more
   * events and holds this worker's clients' next events), the events already received are handled
   * (the whole drain takes at most 8 s) — their replies, session write-backs and confirmations leave on this worker's own
   * links, which GatewayService keeps using until the end — then the links close and the gateways
   * hand the held events, in order, to the other workers. A PHP gateway gets no drain message (it
   * would not understand it): it simply rebinds the clients after the close.
   */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.draining = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    const deadline = Date.now() + DRAIN_TIMEOUT;
    this.runner.uncap();
    await this.links.drain(DRAIN_ACK_TIMEOUT);
    // After the acknowledgements no event can arrive: then the queues only shrink.
    await Promise.race([this.runner.idle(), sleep(deadline - Date.now())]);
    // Sends made in the handlers' last turn are written before the links end.
    await new Promise((r) => setImmediate(r));
    this.links.close();
    this.transports.release(this.transport);
    this.transport.close();
    this.requests.stop();
    this.draining = false;
  }

  on<K extends keyof BusinessWorkerServerEvents>(event: K, callback: BusinessWorkerServerEvents[K]): void {
    this.links.on(event, callback);
  }

  /** The gateway links by address. */
  unwrap<T>(): T {
    return this.links.byAddress as T;
  }

  /**
   * What this worker announces to gateways: it reads GATEWAY_INFO, confirms each event (flow
   * control), and — only when it has `@OnWebSocketConnect` handlers — gives verdicts on websocket
   * handshakes (a gateway then holds each handshake for them; without handlers nobody should wait).
   */
  private features(): string[] {
    const features: string[] = [WorkerFeature.GATEWAY_INFO, WorkerFeature.FLOW_CONTROL];
    if (this.registry.get('websocketConnect').length) features.push(WorkerFeature.WEBSOCKET_VERDICT);
    if (this.registry.get('disconnect').length || this.registry.get('resume').length) features.push(WorkerFeature.RESUME_EVENTS);
    return features;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
