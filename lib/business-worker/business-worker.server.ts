import { ForbiddenException, HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { GATEWAY_WORKER_OPTIONS, RECONNECT_DELAY } from '../gateway-worker.constants.js';
import { guardDenied, handlerFailed, sessionNotWritable, webSocketConnectKicked, webSocketConnectRejected, wrongSecretKey } from '../gateway-worker.messages.js';
import { ExtensionCommand, FLAG_AWAITS_VERDICT, WorkerFeature, type GatewayInfo, type GatewayListenerInfo, type WebSocketVerdict } from '../gateway/extension-protocol.js';
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
import { GatewayHandlerRegistry } from './gateway-handler.registry.js';
import { SerialQueues } from './serial-queues.js';
import { SessionTracker } from './session-tracker.js';

/** Events of the BusinessWorkerServer, for `server.on()`. */
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
}

/**
 * The BusinessWorker tier (PROTOCOL.md §6): learns the gateways from the Register, keeps a worker
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
  private readonly queues = new SerialQueues<QueuedEvent>((e) => this.runEvent(e));
  private readonly sessions = new SessionTracker();
  private running = false;
  /** Events handled so far. */
  handledEvents = 0;

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    private readonly registry: GatewayHandlerRegistry,
  ) {
    super();
    this.logger = new Logger(options.businessWorker.name);
  }

  /** True between `listen()` and `close()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /** `"<name>:<processIndex>"`, this worker's identity at the gateways. */
  get workerKey(): string {
    const w = this.options.businessWorker;
    return `${w.name}:${w.processIndex}`;
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
    this.registerLinks.push(...subscribeToRegisters(this.options, `BusinessWorker ${this.workerKey}`, this.logger, (list) => this.setAddresses(list)));
    this.logger.log(`BusinessWorker ${this.workerKey} started; asking ${this.options.registerAddresses.join(', ')} for gateways`);
    callback();
  }

  /**
   * Stops taking events: Register links close, handlers in flight finish (up to 10 s) and their
   * session write-backs leave, then the gateway links close. Gateways re-bind the clients to other
   * workers.
   */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const link of this.registerLinks) link.stop();
    this.registerLinks.length = 0;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    await Promise.race([this.queues.idle(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await new Promise((r) => setImmediate(r));
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) l.end();
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
    return this.links.get(address)?.write(packet) ?? false;
  }

  /** Sends a command packet to every connected gateway; returns how many took it. */
  sendToAllGateways(packet: Buffer | ((address: string) => Buffer | null)): number {
    let n = 0;
    for (const link of this.links.values()) {
      const p = typeof packet === 'function' ? packet(link.address) : packet;
      if (p && link.write(p)) n++;
    }
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
    const features: string[] = [WorkerFeature.GATEWAY_INFO];
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
    if (cmd === GatewayCommand.ON_WEBSOCKET_CONNECT) {
      // Without handlers there is nothing to run, and no gateway waits for this worker.
      if (this.registry.get('websocketConnect').length === 0) return;
    } else if (cmd !== GatewayCommand.ON_CONNECT && cmd !== GatewayCommand.ON_MESSAGE && cmd !== GatewayCommand.ON_CLOSE) return;
    // Key by client_id: ordering is per client, across the whole cluster.
    const clientId = encodeClientId(raw.readUInt32BE(5), raw.readUInt16BE(9), raw.readUInt32BE(17));
    this.queues.push(clientId, { link, raw });
  }

  private onGatewayInfo(link: GatewayLink, raw: Buffer): void {
    try {
      const info = JSON.parse(decodeGatewayPacket(raw).body.toString()) as GatewayInfo;
      if (Array.isArray(info?.listeners)) link.setInfo(info);
    } catch {
      this.logger.warn(`BusinessWorker ${this.workerKey}: unreadable GATEWAY_INFO from gateway ${link.address}; client protocols stay unknown.`);
    }
  }

  private async runEvent({ raw }: QueuedEvent): Promise<void> {
    const packet = decodeGatewayPacket(raw);
    const clientId = encodeClientId(packet.localIp, packet.localPort, packet.connectionId);
    const isClose = packet.cmd === GatewayCommand.ON_CLOSE;
    const sessionBytes = isClose ? packet.extData : this.sessions.resolve(clientId, packet.extData);
    if (isClose) this.sessions.forget(clientId);
    const ctx = new GatewayEventContext(this, packet, clientId, sessionBytes);
    const payload = ctx.event === 'message' ? ctx.message : ctx.event === 'websocketConnect' ? ctx.request : undefined;
    this.handledEvents++;
    let refusal: WebSocketVerdict | null = null;
    await gatewayEventStorage.run(ctx, async () => {
      for (const handler of this.registry.get(ctx.event)) {
        try {
          await handler.call(payload, ctx);
        } catch (err) {
          if (ctx.event === 'websocketConnect') {
            refusal = this.refusal(handler.name, clientId, err);
            return;
          }
          if (err instanceof ForbiddenException) {
            this.logger.warn(guardDenied(`on${ctx.event[0]!.toUpperCase()}${ctx.event.slice(1)}`, clientId));
            if (ctx.event === 'connect') this.sendToGateway(ctx.gatewayAddress, kickPacket(packet.connectionId));
            return;
          }
          this.logger.error(handlerFailed(handler.name, clientId, err));
        }
      }
    });
    if (ctx.event === 'websocketConnect') return this.answerHandshake(ctx, refusal);
    if (!isClose) this.writeBack(ctx);
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

  /** Sends CMD_SET_SESSION when the handler changed the session (PROTOCOL.md §6.5). */
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

function kickPacket(connectionId: number): Buffer {
  return encodeGatewayPacket({ cmd: GatewayCommand.KICK, connectionId, body: Buffer.from('N;') });
}
