import type { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { RECONNECT_DELAY } from '../gateway-worker.constants.js';
import { oversizedPacketSkipped, gatewayLinkFull, noGatewayFound, unreadableGatewayInfo, workerConnectedTo, workerDeclaredHung, workerLostGateway, workerRefusedByGateway } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { ExtensionCommand, type GatewayInfo } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket } from '../protocol/gateway-packet.js';
import type { ProcessStats } from '../protocol/process-stats.js';
import type { RegisterLink } from '../register/register.link.js';
import { subscribeToRegisters } from '../register/register.subscription.js';
import type { OversizedPacket } from '../protocol/gateway-packet.reader.js';
import { LogThrottle } from '../utils/log-throttle.js';
import { GatewayLink } from './gateway.link.js';

/** Events of the worker's links, for `BusinessWorkerServer.on()`. */
export type GatewayLinksEvents = {
  /** The Register sent a new gateway list. */
  addresses: (addresses: string[]) => void;
  /** A worker connection to a gateway is up. */
  gatewayConnected: (address: string) => void;
  /** A worker connection to a gateway closed. */
  gatewayClosed: (address: string) => void;
};

/** What {@link GatewayLinks} is handed. */
export interface GatewayLinksOptions {
  options: ResolvedGatewayWorkerOptions;
  workerKey: string;
  logger: Logger;
  counters: { commandsOut: number; sendFailures: number };
  /** A client event arrived (CMD_ON_CONNECT/MESSAGE/CLOSE/WEBSOCKET_CONNECT). */
  onEvent: (raw: Buffer, link: GatewayLink) => void;
}

/** Event commands a worker handles; anything else from a gateway is the link's own conversation. */
const EVENT_COMMANDS = new Set<number>([GatewayCommand.ON_CONNECT, GatewayCommand.ON_MESSAGE, GatewayCommand.ON_CLOSE, GatewayCommand.ON_WEBSOCKET_CONNECT, ExtensionCommand.CLIENT_DISCONNECTED, ExtensionCommand.CLIENT_RESUMED]);

/**
 * The worker's side of the cluster's wiring (docs/protocol.md §6.3): subscribes to the Register(s),
 * keeps one worker connection per announced gateway and reconnects lost ones every second, carries
 * the worker's status reports, pauses and resumes reading, and runs the drain handshake when the
 * worker stops. Client events go to `onEvent`; nothing here knows about handlers.
 */
export class GatewayLinks {
  private readonly emitter = new EventEmitter();
  private readonly links = new Map<string, GatewayLink>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly warnedAuth = new Set<string>();
  private readonly throttle = new LogThrottle();
  private registerLinks: RegisterLink[] = [];
  private known: string[] = [];
  private noGatewayTimer: NodeJS.Timeout | null = null;
  /** Connecting and reconnecting; false once the worker stops. */
  private active = false;
  private paused = false;
  private features: readonly string[] = [];

  constructor(private readonly o: GatewayLinksOptions) {}

  on<K extends keyof GatewayLinksEvents>(event: K, callback: GatewayLinksEvents[K]): void {
    this.emitter.on(event, callback);
  }

  /** Gateway addresses the Register last announced. */
  get addresses(): readonly string[] {
    return this.known;
  }

  /** Addresses of the gateways this worker is connected to. */
  get connected(): string[] {
    return [...this.links.values()].filter((l) => l.connected).map((l) => l.address);
  }

  /** Bytes queued on the links. */
  get bufferedBytes(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.socket.writableLength;
    return n;
  }

  /** The links by address (what `BusinessWorkerServer.unwrap()` returns). */
  get byAddress(): ReadonlyMap<string, GatewayLink> {
    return this.links;
  }

  /**
   * Subscribes to the Register(s); links follow as addresses arrive.
   * @param features the TypeScript extensions to announce in CMD_WORKER_CONNECT
   */
  start(features: readonly string[]): void {
    const { options, workerKey, logger } = this.o;
    this.features = features;
    this.active = true;
    const w = options.businessWorker;
    this.noGatewayTimer = setInterval(() => {
      if (this.connected.length === 0) logger.warn(noGatewayFound(workerKey, Math.round(w.noGatewayWarning / 1000), this.known, options.registerAddresses));
    }, w.noGatewayWarning);
    this.noGatewayTimer.unref();
    this.registerLinks = subscribeToRegisters(options, `BusinessWorker ${workerKey}`, logger, (list) => this.setAddresses(list));
  }

  /** Sends a command to the gateway at `address`; false if this worker is not connected to it. */
  send(address: string, packet: Buffer): boolean {
    const link = this.links.get(address);
    if (link) return link.write(packet);
    this.o.counters.sendFailures++;
    return false;
  }

  /** Sends a command to every connected gateway (a packet per address, or null to skip one); returns how many took it. */
  sendAll(packet: Buffer | ((link: GatewayLink) => Buffer | null)): number {
    let n = 0;
    for (const link of this.links.values()) {
      const p = typeof packet === 'function' ? packet(link) : packet;
      if (p && link.write(p)) n++;
    }
    return n;
  }

  /** Stops reading events from every gateway (they keep them meanwhile). */
  pauseReading(): void {
    this.paused = true;
    for (const l of this.links.values()) l.pause();
  }

  /** Reads events again. */
  resumeReading(): void {
    this.paused = false;
    for (const l of this.links.values()) l.resume();
  }

  /**
   * First step of a graceful stop: no more Register updates or reconnects; every TypeScript
   * gateway is told the worker drains (WORKER_DRAIN) and this resolves once each acknowledged it —
   * no event follows an acknowledgement — or after `timeoutMs`. Reading resumes, so the
   * acknowledgements (queued behind events) are seen. The links stay open for the replies of the
   * events being finished.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.active = false;
    if (this.noGatewayTimer) clearInterval(this.noGatewayTimer);
    for (const link of this.registerLinks) link.stop();
    this.registerLinks = [];
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.resumeReading();
    const drain = encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_DRAIN, flag: FLAG_BODY_IS_SCALAR });
    const acks: Promise<void>[] = [];
    for (const link of this.links.values()) if (link.speaksExtensions && link.control(drain)) acks.push(link.drained);
    await Promise.race([Promise.all(acks), sleep(timeoutMs)]);
  }

  /** Last step of a stop: closes every link after what is queued on it has been written. */
  close(): void {
    this.active = false;
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) l.end();
  }

  /** Sends the worker's status to every TypeScript gateway (WORKER_STATS, for `gateway-worker status`). */
  report(stats: ProcessStats): void {
    const packet = encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_STATS, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(stats)) });
    for (const link of this.links.values()) if (link.speaksExtensions) link.control(packet);
  }

  private setAddresses(addresses: string[]): void {
    this.known = addresses;
    this.emitter.emit('addresses', this.known);
    for (const address of this.known) if (!this.retryTimers.has(address)) this.connect(address);
  }

  private connect(address: string): void {
    if (!this.active || this.links.has(address) || !this.known.includes(address)) return;
    const { options, workerKey, logger } = this.o;
    const link = new GatewayLink({
      address,
      workerKey,
      secretKey: options.secretKey,
      features: this.features,
      localAddress: options.businessWorker.lanIp ?? undefined,
      connectTimeout: options.connectTimeout,
      maxPacketSize: options.innerMaxPackageSize,
      bufferLimit: options.businessWorker.sendToGatewayBufferSize,
      counters: this.o.counters,
      onDropped: (l, dropped) => logger.warn(gatewayLinkFull(workerKey, l.address, dropped, options.businessWorker.sendToGatewayBufferSize)),
      onPacket: (raw, l) => this.onPacket(raw, l),
      onOversized: (big, l) => this.oversized(big, l),
      onOpen: (l) => {
        logger.log(workerConnectedTo(workerKey, l.address));
        this.emitter.emit('gatewayConnected', l.address);
      },
      onClose: (l, reason, refused) => this.onClose(l, reason, refused),
    });
    if (this.paused) link.pause();
    this.links.set(address, link);
  }

  /**
   * A packet over innerMaxPackageSize from a gateway (one whose limit is larger than ours): skipped
   * without being buffered, logged; an event is confirmed anyway, so its client's budget at the
   * gateway is not spent for good (the event itself is lost, and said so).
   */
  private oversized(big: OversizedPacket, link: GatewayLink): void {
    const { workerKey, options } = this.o;
    this.throttle.warn(this.o.logger, `oversized ${link.address}`, oversizedPacketSkipped(`BusinessWorker ${workerKey}`, `gateway ${link.address}`, big.cmd, big.connectionId, big.length, options.innerMaxPackageSize));
    if (EVENT_COMMANDS.has(big.cmd) && link.speaksExtensions) {
      link.control(encodeGatewayPacket({ cmd: ExtensionCommand.EVENTS_HANDLED, connectionId: big.connectionId, flag: FLAG_BODY_IS_SCALAR }));
    }
  }

  private onClose(link: GatewayLink, reason: string, refused: boolean): void {
    const { workerKey, logger } = this.o;
    const current = this.links.get(link.address) === link;
    if (current) this.links.delete(link.address);
    this.emitter.emit('gatewayClosed', link.address);
    if (!this.active || !current) return;
    if (link.wasOpen && !refused) logger.log(workerLostGateway(workerKey, link.address, reason));
    if (refused && !this.warnedAuth.has(link.address)) {
      this.warnedAuth.add(link.address);
      logger.warn(workerRefusedByGateway(workerKey, link.address));
    }
    if (!this.known.includes(link.address)) return;
    this.retryTimers.set(
      link.address,
      setTimeout(() => {
        this.retryTimers.delete(link.address);
        this.connect(link.address);
      }, RECONNECT_DELAY),
    );
  }

  private onPacket(raw: Buffer, link: GatewayLink): void {
    const cmd = raw[4]!;
    if (EVENT_COMMANDS.has(cmd)) return this.o.onEvent(raw, link);
    if (cmd === ExtensionCommand.GATEWAY_INFO) return this.onGatewayInfo(raw, link);
    if (cmd === ExtensionCommand.WORKER_DRAIN) return link.markDrained();
    if (cmd === ExtensionCommand.WORKER_HUNG) return this.onHung(raw, link);
  }

  private onGatewayInfo(raw: Buffer, link: GatewayLink): void {
    try {
      const info = JSON.parse(decodeGatewayPacket(raw).body.toString()) as GatewayInfo;
      if (Array.isArray(info?.listeners)) link.setInfo(info);
    } catch {
      this.o.logger.warn(unreadableGatewayInfo(this.o.workerKey, link.address));
    }
  }

  /** The gateway declared this worker hung and is about to close the link: say so; the reconnect follows the close. */
  private onHung(raw: Buffer, link: GatewayLink): void {
    let silentMs: number | null = null;
    let outstanding: number | null = null;
    try {
      const body = JSON.parse(decodeGatewayPacket(raw).body.toString()) as { silentMs?: unknown; outstanding?: unknown };
      if (typeof body?.silentMs === 'number') silentMs = body.silentMs;
      if (typeof body?.outstanding === 'number') outstanding = body.outstanding;
    } catch {
      // The warning matters more than the figures.
    }
    this.o.logger.warn(workerDeclaredHung(this.o.workerKey, link.address, silentMs, outstanding));
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
