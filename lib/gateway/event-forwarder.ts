import type { Logger } from '@nestjs/common';
import { eventsLost, eventTooLarge, flowControlPaused, noWorkerConnected, workerHung, workerLinkFull, workerWaitExceeded } from '../gateway-worker.messages.js';
import { ExtensionCommand } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand, HEAD_LEN } from '../protocol/gateway-command.js';
import { encodeGatewayPacket, writeHeader } from '../protocol/gateway-packet.js';
import type { RateMeter } from '../utils/rate-meter.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import type { ClientConnection, HeldEvent } from './client-connection.js';
import type { GatewayCounters } from './gateway-counters.js';
import type { InnerConnection } from './inner-connection.js';
import type { WorkerRouter } from './worker-router.js';

const EMPTY = Buffer.alloc(0);
/** PHP does not log "no worker" for a gateway younger than this: workers are still connecting. */
const STARTUP_GRACE = 2_000;
/** How long a hung worker's notice is kept for its reconnection. */
const HUNG_NOTICE_TTL = 10 * 60_000;

/** The settings the forwarder uses. */
export interface EventForwarderOptions {
  /** This gateway's lanIp as a number, and its internal port (known once it listens). */
  lanIpLong: number;
  lanPort: () => number;
  maxEventsInFlight: number;
  maxBytesInFlight: number;
  innerMaxPackageSize: number;
  /** 0: PHP's behaviour, a client with no worker is closed at once. */
  workerWaitWindow: number;
  workerWaitPolicy: 'close' | 'drop';
  /** 0: never declare a worker hung. */
  workerHangTimeout: number;
  /** Builds the client_id of a client, for logs. */
  clientIdOf: (client: ClientConnection) => string;
}

/** What a worker declared hung is told when it connects again. */
interface HungNotice {
  at: number;
  silentMs: number;
  outstanding: number;
}

/**
 * Client events on their way to the workers (docs/protocol.md §5.5), with end-to-end flow control.
 *
 * Each client has a budget of events in flight to its worker (`maxEventsInFlight` events,
 * `maxBytesInFlight` bytes); a TypeScript worker confirms every event it handled, naming the
 * client, which returns budget. An event that cannot go now — the budget is spent, no worker is
 * connected, or the client's worker is draining — waits in the client's own backlog, in order,
 * and the client's socket stops being read until the backlog is empty again: TCP's window pushes
 * back on that sender alone, so no client's flood can delay, drop or crowd out another's events,
 * and a worker holds at most (clients × budget). Events wait for a worker at most
 * `workerWaitWindow` (then `workerWaitPolicy`).
 *
 * A worker that sends nothing for `workerHangTimeout` while events are outstanding is declared
 * hung: its link is cut, its unconfirmed events are counted as lost and logged (never redelivered,
 * since it may still have handled some of them: a rule that cannot duplicate), and its clients go
 * to the other workers with their next events. Workers without flow control (PHP) get PHP's
 * behaviour: events are written until the link's buffer is full, then dropped (counted, logged).
 */
export class EventForwarder {
  /** Clients with a backlog, and since when (for `workerWaitWindow`). */
  private readonly waiting = new Map<ClientConnection, number>();
  /** Closed clients with events still in flight or waiting (gone from the tables, still owed confirmations). */
  private readonly closing = new Map<number, ClientConnection>();
  private readonly hungNotices = new Map<string, HungNotice>();
  private readonly startedAt = Date.now();
  /** Events that waited and were then delivered. */
  delivered = 0;

  constructor(
    private readonly router: WorkerRouter,
    /** The connected clients, by connection id. */
    private readonly clients: ReadonlyMap<number, ClientConnection>,
    private readonly counters: GatewayCounters,
    /** Every event forwarded counts as a request (the qps of `status`). */
    private readonly requests: RateMeter,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    private readonly options: EventForwarderOptions,
  ) {}

  /** Clients whose reading is paused now. */
  get pausedClients(): number {
    let n = 0;
    for (const c of this.waiting.keys()) if (c.paused) n++;
    return n;
  }

  /** Events waiting for a worker (or for budget): clients, events, bytes, delivered after waiting, dropped for the window. */
  get backlog(): { clients: number; events: number; bytes: number; delivered: number; expired: number } {
    let events = 0;
    let bytes = 0;
    for (const c of this.waiting.keys()) {
      for (const e of c.backlog ?? []) {
        events++;
        bytes += e.body.length;
      }
    }
    return { clients: this.waiting.size, events, bytes, delivered: this.delivered, expired: this.counters.limits.waitExpired };
  }

  /** The worker a new client will be bound to, binding it (the websocket handshake needs its mode). */
  workerFor(client: ClientConnection): InnerConnection | null {
    return this.router.route(client);
  }

  /** CMD_ON_CONNECT. */
  connected(client: ClientConnection): void {
    this.submit(client, GatewayCommand.ON_CONNECT, EMPTY, FLAG_BODY_IS_SCALAR);
  }

  /** CMD_ON_MESSAGE; `flag` carries FLAG_BINARY for a binary websocket frame. */
  message(client: ClientConnection, body: Buffer, flag: number): void {
    this.submit(client, GatewayCommand.ON_MESSAGE, body, flag);
  }

  /** CMD_ON_WEBSOCKET_CONNECT (its body is PHP-serialized: flag 0, plus FLAG_AWAITS_VERDICT when held). */
  webSocketConnect(client: ClientConnection, body: Buffer, flag: number): void {
    this.submit(client, GatewayCommand.ON_WEBSOCKET_CONNECT, body, flag);
  }

  /**
   * The client's connection is gone: CMD_ON_CLOSE (after its other events) when a worker was told
   * of it, and its binding is released. It stays known here while events of it are owed.
   */
  closed(client: ClientConnection): void {
    if (client.announced) this.submit(client, GatewayCommand.ON_CLOSE, EMPTY, FLAG_BODY_IS_SCALAR);
    this.router.release(client);
    if (client.inFlight > 0 || client.backlog) this.closing.set(client.id, client);
  }

  /** CLIENT_DISCONNECTED: an opted-in client's connection broke; it is kept for the resume window. */
  disconnected(client: ClientConnection, window: number): void {
    this.submit(client, ExtensionCommand.CLIENT_DISCONNECTED, Buffer.from(`{"window":${window}}`), FLAG_BODY_IS_SCALAR);
  }

  /** CLIENT_RESUMED: a kept client is connected again (or was handed over from another gateway). */
  resumed(client: ClientConnection, previousClientId: string): void {
    this.submit(client, ExtensionCommand.CLIENT_RESUMED, Buffer.from(JSON.stringify({ previousClientId })), FLAG_BODY_IS_SCALAR);
  }

  /** No worker for a client: logged unless the gateway just started. */
  noWorker(client: ClientConnection): void {
    if (Date.now() - this.startedAt > STARTUP_GRACE) {
      this.limiter.warn(this.logger, 'no-worker', noWorkerConnected(this.options.clientIdOf(client)));
    }
  }

  /** EVENTS_HANDLED from a flow-control worker: one event of client `connectionId` is done. */
  confirmed(worker: InnerConnection, connectionId: number): void {
    worker.eventsAcked++;
    const client = this.closing.get(connectionId) ?? this.clients.get(connectionId);
    if (!client || client.inFlight === 0) return;
    client.inFlight--;
    client.inFlightBytes -= client.inFlightSizes?.shift() ?? 0;
    // An idle client keeps no array (tens of thousands of idle connections are the common case).
    if (client.inFlight === 0) client.inFlightSizes = null;
    if (client.backlog) this.pump(client);
    else if (client.closed && client.inFlight === 0) this.closing.delete(client.id);
  }

  /** A worker registered (or a draining one left): waiting events go to whoever can take them. */
  workersChanged(): void {
    for (const client of [...this.waiting.keys()]) this.pump(client);
  }

  /**
   * A worker's link is gone (closed, or cut because it hung): what it had not confirmed is lost
   * (counted, logged), its clients' budgets are free again, and their waiting events move on.
   */
  workerGone(worker: InnerConnection, key: string): void {
    const lost = worker.flowControl ? worker.outstanding : 0;
    if (lost > 0) {
      // Never lost silently: counted (status, metrics) and logged.
      this.counters.eventsLost += lost;
      this.logger.warn(eventsLost(key, lost));
    }
    worker.eventsAcked = worker.eventsSent;
    for (const client of this.clients.values()) if (client.workerKey === key) this.resetInFlight(client);
    for (const client of this.closing.values()) if (client.workerKey === key) this.resetInFlight(client);
    this.workersChanged();
  }

  /** The notice for a worker declared hung that connects again (null if none). */
  takeHungNotice(key: string): Buffer | null {
    const notice = this.hungNotices.get(key);
    if (!notice) return null;
    this.hungNotices.delete(key);
    return encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_HUNG, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify({ silentMs: notice.silentMs, outstanding: notice.outstanding })) });
  }

  /**
   * The periodic sweep: events that waited past `workerWaitWindow` for a worker, and workers that
   * went silent with events outstanding.
   */
  sweep(now = Date.now()): void {
    const { workerWaitWindow, workerHangTimeout } = this.options;
    if (workerWaitWindow > 0) {
      for (const [client, since] of [...this.waiting]) {
        // Waiting for budget from a live worker is flow control, not a wait for a worker.
        if (now - since > workerWaitWindow && !this.router.canRoute(client)) {
          this.applyWaitPolicy(client, `no worker took its events within ${workerWaitWindow} ms`);
        }
      }
    }
    if (workerHangTimeout > 0) {
      for (const [key, worker] of [...this.router.workers]) {
        if (!worker.flowControl || worker.outstanding === 0) continue;
        const silent = now - Math.max(worker.lastHeard, worker.outstandingSince);
        if (silent > workerHangTimeout) this.declareHung(worker, key, silent, now);
      }
    }
    for (const [key, n] of this.hungNotices) if (now - n.at > HUNG_NOTICE_TTL) this.hungNotices.delete(key);
  }

  private declareHung(worker: InnerConnection, key: string, silentMs: number, now: number): void {
    const outstanding = worker.outstanding;
    this.counters.limits.workerHung++;
    this.logger.warn(workerHung(key, silentMs, outstanding));
    this.hungNotices.set(key, { at: now, silentMs, outstanding });
    // Out of the routing first, so its clients' next events go elsewhere; the close that follows
    // finds it gone and counts nothing twice.
    this.router.remove(key, worker);
    this.workerGone(worker, key);
    // Cut, not ended: the events queued for it must never reach it late.
    worker.socket.destroy();
  }

  private resetInFlight(client: ClientConnection): void {
    client.inFlight = 0;
    client.inFlightBytes = 0;
    client.inFlightSizes = null;
    if (client.closed && !client.backlog) this.closing.delete(client.id);
  }

  /** Hands an event on now, or queues it behind the client's backlog. */
  private submit(client: ClientConnection, cmd: number, body: Buffer, flag: number): void {
    if (client.backlog === null) {
      const worker = this.router.route(client);
      if (worker === null && this.options.workerWaitWindow === 0) {
        // PHP: no worker → the client is closed (its close has nowhere to go either).
        if (cmd !== GatewayCommand.ON_CLOSE) {
          this.noWorker(client);
          client.destroy();
        }
        return;
      }
      if (worker !== null && this.hasBudget(client, worker, body.length)) return void this.forward(worker, client, cmd, body, flag);
      // A close needs no worker to be logged about (the client is gone either way).
      if (worker === null && cmd !== GatewayCommand.ON_CLOSE) this.noWorker(client);
      client.backlog = [];
      this.waiting.set(client, Date.now());
    }
    // The body may be a slice of a reader's chunk: keep a copy of its own.
    client.backlog.push({ cmd, body: Buffer.from(body), flag });
    this.pause(client);
  }

  /** Sends the client's waiting events while a worker and budget allow; reading resumes once none is left. */
  private pump(client: ClientConnection): void {
    const backlog = client.backlog;
    if (!backlog) return;
    let i = 0;
    while (i < backlog.length) {
      const worker = this.router.route(client);
      const e = backlog[i]!;
      if (worker === null || !this.hasBudget(client, worker, e.body.length)) break;
      this.forward(worker, client, e.cmd, e.body, e.flag);
      i++;
    }
    if (i === 0) return;
    this.delivered += i;
    if (i < backlog.length) {
      backlog.splice(0, i);
      return;
    }
    this.endBacklog(client);
    client.resumeReading();
  }

  private endBacklog(client: ClientConnection): void {
    client.backlog = null;
    this.waiting.delete(client);
    if (client.closed && client.inFlight === 0) this.closing.delete(client.id);
  }

  /** Budget left for one more event of `size` bytes (workers without flow control are not budgeted). */
  private hasBudget(client: ClientConnection, worker: InnerConnection, size: number): boolean {
    if (!worker.flowControl || client.inFlight === 0) return true;
    return client.inFlight < this.options.maxEventsInFlight && client.inFlightBytes + size <= this.options.maxBytesInFlight;
  }

  private pause(client: ClientConnection): void {
    if (client.paused || client.closed) return;
    client.pauseReading();
    if (client.inFlight === 0) return; // waiting for a worker, not for budget
    this.counters.limits.flowControlPause++;
    this.limiter.log(this.logger, 'flow-control', flowControlPaused(this.options.clientIdOf(client), client.inFlight, client.inFlightBytes));
  }

  /** `workerWaitPolicy` past the window: drop the waiting events (counted), and close the client unless 'drop'. */
  private applyWaitPolicy(client: ClientConnection, reason: string): void {
    const events = client.backlog?.length ?? 0;
    this.counters.limits.waitExpired += events;
    const policy = this.options.workerWaitPolicy;
    this.logger.warn(workerWaitExceeded(this.options.clientIdOf(client), reason, events, policy));
    this.endBacklog(client);
    if (policy === 'close') {
      client.announced = false; // its close event has no worker to go to either
      client.destroy();
    } else client.resumeReading();
  }

  /** Builds the event packet (the session as it is now) and writes it to the worker. */
  private forward(worker: InnerConnection, client: ClientConnection, cmd: number, body: Buffer, flag: number): void {
    // Resume events go only to workers that asked for them (a PHP worker never sees one).
    if ((cmd === ExtensionCommand.CLIENT_DISCONNECTED || cmd === ExtensionCommand.CLIENT_RESUMED) && !worker.resumeEvents) return;
    const session = client.session;
    const len = HEAD_LEN + session.length + body.length;
    if (len > this.options.innerMaxPackageSize) return this.tooLarge(client, len);
    const packet = Buffer.allocUnsafe(len);
    writeHeader(
      packet,
      {
        cmd,
        localIp: this.options.lanIpLong,
        localPort: this.options.lanPort(),
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
    this.counters.eventsOut++;
    this.requests.total++;
    if (worker.flowControl) {
      if (worker.outstanding === 0) worker.outstandingSince = Date.now();
      worker.eventsSent++;
      client.inFlight++;
      client.inFlightBytes += body.length;
      (client.inFlightSizes ??= []).push(body.length);
      // Budgeted: what this link queues is bounded by the clients' budgets, so nothing is dropped.
      worker.send(packet);
      return;
    }
    worker.eventsSent++;
    if (worker.write(packet)) return;
    this.counters.sendFailures++;
    this.counters.limits.workerLinkDrop++;
    this.limiter.warn(this.logger, `link-full:${worker.workerKey}`, workerLinkFull(worker.workerKey ?? worker.name, worker.dropped));
  }

  /** An event that cannot fit an internal packet (a huge session): the client is closed, with the reason. */
  private tooLarge(client: ClientConnection, len: number): void {
    this.counters.limits.eventTooLarge++;
    this.logger.warn(eventTooLarge(this.options.clientIdOf(client), len, this.options.innerMaxPackageSize));
    client.destroy();
  }
}
