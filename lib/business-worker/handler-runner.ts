import { ForbiddenException, HttpException, type Logger } from '@nestjs/common';
import { eventNotFinished, eventQueueFull, eventTimedOut, guardDenied, handlerFailed, webSocketConnectKicked, webSocketConnectRejected } from '../gateway-worker.messages.js';
import { encodeClientId } from '../protocol/client-id.js';
import { ExtensionCommand, FLAG_AWAITS_VERDICT, FLAG_BINARY, type WebSocketVerdict } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { EventDeadlines, type PendingEvent } from './event-deadlines.js';
import { GatewayEventContext } from './gateway-event-context.js';
import { gatewayEventStorage } from './gateway-event.storage.js';
import type { GatewayHandlerRegistry, GatewayEventHandler } from './gateway-handler.registry.js';
import type { GatewayListenerInfo } from '../protocol/extension-command.js';
import type { RateMeter } from '../utils/rate-meter.js';
import { SerialQueues } from './serial-queues.js';
import type { SessionWriteBack } from './session-write-back.js';

/** The link an event came on: its replies, session write-back and confirmation go back on it. */
export interface EventLink {
  /** Sends a command (counted). */
  write(packet: Buffer): boolean;
  /** Sends a packet of the link's own conversation (the confirmation). */
  control(packet: Buffer): boolean;
  /** A TypeScript gateway: it reads EVENTS_HANDLED and WEBSOCKET_VERDICT, and sets FLAG_BINARY. */
  readonly speaksExtensions: boolean;
  /** The gateway's public listener on `port`, when the gateway described its listeners. */
  listener(port: number): GatewayListenerInfo | undefined;
}

/** Where the runner's events come from: it stops reading there while too many are queued. */
export interface EventSource {
  pauseReading(): void;
  resumeReading(): void;
}

/** What {@link HandlerRunner} is handed. */
export interface HandlerRunnerOptions {
  registry: GatewayHandlerRegistry;
  sessions: SessionWriteBack;
  source: EventSource;
  logger: Logger;
  /** `businessWorker.eventTimeout`, ms; 0 = no limit. */
  eventTimeout: number;
  /** `businessWorker.maxQueuedEvents`: past it, reading stops until the queue is down to half. */
  maxQueuedEvents: number;
  /** The worker's name, for the logs. */
  workerKey: string;
  counters: { eventsIn: number; eventsHandled: number; eventTimeouts: number; readPauses: number };
  /** Counts handled events for the QPS of `status`. */
  requests: RateMeter;
}

interface QueuedEvent {
  link: EventLink;
  raw: Buffer;
  /** Computed once, when the event arrives (it is also the queue's key). */
  clientId: string;
}

/** How often (ms) at most the queue cap is logged. */
const CAP_LOG_INTERVAL = 10_000;

/**
 * Runs the handlers of client events: one client's events strictly in order, different clients
 * concurrently (one serial queue per client), each under `eventTimeout`; builds each event's
 * context; after the handlers, writes the session back (or answers the websocket handshake) and
 * confirms the event to its gateway with EVENTS_HANDLED naming the client — on the event's own
 * link, after its commands, so a gateway that has the confirmation has the replies too.
 *
 * It bounds the worker's memory: past `maxQueuedEvents` events received and not yet finished, it
 * stops reading the gateway links (the gateways keep the events, each within its per-client
 * budget) and reads again once the backlog is down to half.
 */
export class HandlerRunner {
  private readonly queues = new SerialQueues<QueuedEvent>((e, done) => this.run(e, done));
  /** Watches `eventTimeout` (null when it is 0, no limit). */
  private readonly deadlines: EventDeadlines | null;
  private queued = 0;
  private paused = false;
  /** False while the worker drains: every event still in the links must be read. */
  private capped = true;
  private lastCapLog = 0;
  private capHitsSinceLog = 0;
  /** Set by the metrics module: observes each handler's duration. */
  observeEventDuration: ((event: string, seconds: number) => void) | null = null;

  constructor(private readonly o: HandlerRunnerOptions) {
    this.deadlines = o.eventTimeout > 0 ? new EventDeadlines(o.eventTimeout) : null;
  }

  /** Events received and not finished yet. */
  get queuedEvents(): number {
    return this.queued;
  }

  /** Whether reading is stopped because of `maxQueuedEvents`. */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** Queues a client event (a raw GatewayProtocol packet) behind the client's earlier ones. */
  push(raw: Buffer, link: EventLink): void {
    // Without handlers there is nothing to run, and no gateway waits for this worker (a PHP gateway sends it anyway).
    if (raw[4] === GatewayCommand.ON_WEBSOCKET_CONNECT && this.o.registry.get('websocketConnect').length === 0) return;
    // Key by client_id: ordering is per client, across the whole cluster.
    const clientId = encodeClientId(raw.readUInt32BE(5), raw.readUInt16BE(9), raw.readUInt32BE(17));
    this.o.counters.eventsIn++;
    if (++this.queued >= this.o.maxQueuedEvents && this.capped && !this.paused) this.pause();
    this.queues.push(clientId, { link, raw, clientId });
  }

  /**
   * The worker drains: the events still in the links must all be read (the gateways stop sending
   * once they acknowledged the drain, so this is bounded), so the cap no longer pauses reading.
   */
  uncap(): void {
    this.capped = false;
    if (this.paused) this.resume();
  }

  /** Resolves once every queued event has finished. */
  idle(): Promise<void> {
    return this.queues.idle();
  }

  private pause(): void {
    this.paused = true;
    this.o.counters.readPauses++;
    this.capHitsSinceLog++;
    const now = Date.now();
    if (now - this.lastCapLog >= CAP_LOG_INTERVAL) {
      this.o.logger.warn(eventQueueFull(this.o.workerKey, this.o.maxQueuedEvents, this.capHitsSinceLog));
      this.lastCapLog = now;
      this.capHitsSinceLog = 0;
    }
    this.o.source.pauseReading();
  }

  private resume(): void {
    this.paused = false;
    this.o.source.resumeReading();
  }

  /** An event is over (handlers settled or timed out): one less queued. */
  private released(): void {
    if (--this.queued <= this.o.maxQueuedEvents >> 1 && this.paused) this.resume();
  }

  /** Starts an event's handlers; `done` lets the client's next event run. */
  private run(item: QueuedEvent, done: () => void): void {
    const packet = decodeGatewayPacket(item.raw);
    const { link, clientId } = item;
    const isClose = packet.cmd === GatewayCommand.ON_CLOSE;
    const session = this.o.sessions.open(clientId, packet.extData, isClose);
    // Only a TypeScript gateway sets FLAG_BINARY; PHP never does, but the bit means nothing from it.
    const binary = packet.cmd === GatewayCommand.ON_MESSAGE && (packet.flag & FLAG_BINARY) !== 0 && link.speaksExtensions;
    const ctx = new GatewayEventContext(packet, clientId, session, link.listener(packet.gatewayPort), binary);
    this.o.counters.eventsHandled++;
    this.o.requests.total++;
    this.step(new EventRun(link, ctx, this.o.registry.get(ctx.event), this.observeEventDuration ? performance.now() : 0, done));
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
      this.o.logger.warn(guardDenied(`on${ctx.event[0]!.toUpperCase()}${ctx.event.slice(1)}`, ctx.clientId));
      if (ctx.event === 'connect') run.link.write(kickPacket(ctx.packet.connectionId));
      return true;
    }
    this.o.logger.error(handlerFailed(run.current, ctx.clientId, err));
    return false;
  }

  /** `eventTimeout` passed: the handler cannot be cancelled, but the client's queue moves on. */
  private expire(run: EventRun): void {
    if (run.finished) return;
    this.o.counters.eventTimeouts++;
    this.o.logger.warn(eventTimedOut(run.current, run.ctx.clientId, this.o.eventTimeout));
    // What the handler did so far is written back.
    this.finish(run);
  }

  /** After the handlers: session write-back or handshake verdict, the confirmation, the next event. */
  private finish(run: EventRun): void {
    if (run.finished) return;
    run.finished = true;
    const { ctx, link } = run;
    try {
      if (run.pending) this.deadlines!.settle(run.pending);
      if (this.observeEventDuration) this.observeEventDuration(ctx.event, (performance.now() - run.started) / 1000);
      if (ctx.event === 'websocketConnect') this.answerHandshake(run);
      else if (ctx.event !== 'close') this.o.sessions.writeBack(ctx.clientSession, ctx.packet.connectionId, link);
      // Confirmed after the event's commands and write-back, on the same link: a gateway that got
      // the confirmation got them too.
      if (link.speaksExtensions) link.control(encodeGatewayPacket({ cmd: ExtensionCommand.EVENTS_HANDLED, connectionId: ctx.packet.connectionId, flag: FLAG_BODY_IS_SCALAR }));
    } catch (err) {
      // Reached from a promise callback too: a throw here would be an unhandled rejection.
      this.o.logger.error(eventNotFinished(ctx.clientId, err));
    } finally {
      this.released();
      run.done();
    }
  }

  /** What an exception from an `@OnWebSocketConnect` handler means for the handshake. */
  private refusal(handler: string, clientId: string, err: unknown): WebSocketVerdict {
    if (err instanceof HttpException) {
      const status = err.getStatus();
      this.o.logger.log(webSocketConnectRejected(`@OnWebSocketConnect ${handler}`, clientId, status, err.message));
      return { status, message: err.message };
    }
    this.o.logger.error(handlerFailed(handler, clientId, err));
    return { status: 500 };
  }

  /**
   * After the `@OnWebSocketConnect` handlers: the session goes back first (the gateway holds the
   * client in its tables, so it applies it before the client's ON_CONNECT), then the verdict —
   * to a gateway that holds the handshake for it. A PHP gateway has already accepted: a refused
   * client is closed instead.
   */
  private answerHandshake(run: EventRun): void {
    const { ctx, link, refusal } = run;
    const { connectionId, flag } = ctx.packet;
    if (!refusal) this.o.sessions.writeBack(ctx.clientSession, connectionId, link);
    // A refused client never comes back: forget any session write made before the refusal.
    else this.o.sessions.forget(ctx.clientId);
    if (flag & FLAG_AWAITS_VERDICT) {
      const verdict: WebSocketVerdict = refusal ?? { status: 101 };
      link.write(encodeGatewayPacket({ cmd: ExtensionCommand.WEBSOCKET_VERDICT, connectionId, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(verdict)) }));
    } else if (refusal) {
      this.o.logger.warn(webSocketConnectKicked('@OnWebSocketConnect', ctx.clientId, refusal.status));
      link.write(kickPacket(connectionId));
    }
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
    readonly link: EventLink,
    readonly ctx: GatewayEventContext,
    readonly handlers: readonly GatewayEventHandler[],
    readonly started: number,
    readonly done: () => void,
  ) {
    this.payload = ctx.event === 'message' ? ctx.message : ctx.event === 'websocketConnect' ? ctx.request : (ctx.resumeEvent ?? undefined);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

function kickPacket(connectionId: number): Buffer {
  return encodeGatewayPacket({ cmd: GatewayCommand.KICK, connectionId, body: Buffer.from('N;') });
}
