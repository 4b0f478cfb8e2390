import { Inject, Injectable, Logger, type WebSocketAdapter, type WsMessageHandler } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import type { Observable } from 'rxjs';
import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';
import { GatewayHandlerRegistry } from '../business-worker/gateway-handler.registry.js';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { unroutedMessage, wsAdapterInstalled, wsHookFailed, wsRouteFailed } from '../gateway-worker.messages.js';
import { GatewayService } from '../gateway.service.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { applicationConfigOf } from '../utils/application-config.util.js';
import { GatewayClientSocket, GatewayClientState } from './gateway-client.socket.js';
import { GatewayCluster } from './gateway-cluster.js';
import { markRouted } from './routed-messages.js';
import { encodeWsReply, encodeWsReplyEnd, encodeWsResponse, parseWsMessage, type WsMessage } from './ws-message.js';

type Transform = (data: unknown) => Observable<unknown>;

/** One `@SubscribeMessage` handler of one gateway class, bound to one client by Nest. */
interface BoundHandler {
  message: unknown;
  callback: (...args: unknown[]) => unknown;
  transform: Transform;
}

/** What Nest bound to one client: its handlers (of every gateway class) and disconnect hooks. */
interface ClientBinding {
  socket: GatewayClientSocket;
  /** Per gateway class, in the order Nest bound them. */
  handlerSets: BoundHandler[][];
  disconnects: ((reason?: unknown) => void)[];
}

/**
 * The `WebSocketAdapter` that serves `@nestjs/websockets` gateway classes on the GatewayWorker
 * cluster: the "server" is the cluster (`GatewayCluster`), the "clients" are handles on the
 * gateways' clients (`GatewayClientSocket`), and the events are the BusinessWorker's — connect,
 * message, close — so Nest's own `WebSocketsController` and `WsContextCreator` apply guards,
 * pipes, interceptors and exception filters exactly as for a `@nestjs/platform-ws` gateway, and
 * speak its wire format: `{"event": "...", "data": ...}` in, a handler's return value out.
 *
 * `GatewayWorkerModule` installs it in every app that imports the module and has no adapter yet
 * (it is set while the module's providers are built, before `listen()`/`init()` connect the
 * gateway classes), so `startGatewayWorkerTier(...)` and the `createMicroservice` form both work.
 * It opens no socket in any tier: in the register and gateway tiers nothing happens; in the
 * BusinessWorker tier it handles the events. `app.useWebSocketAdapter(other)` before `listen()`
 * replaces it.
 *
 * It differs from platform-ws where the cluster demands it:
 * - one client's messages are handled strictly in order, async handlers included (the worker's
 *   per-client queue waits for each reply stream to complete);
 * - a message that is not `{event, data}` JSON or names no handled event goes to the `@OnMessage`
 *   handlers if there are any, otherwise it is ignored (counted, logged at debug level);
 * - the port, `path` and `namespace` options are ignored: every gateway class sees every client;
 * - a client this worker did not see connect (it was handled by a worker that has since stopped)
 *   is introduced to the gateway classes (`handleConnection`) at its first message here.
 *
 * @publicApi
 */
@Injectable()
export class GatewayWsAdapter implements WebSocketAdapter<GatewayCluster, GatewayClientSocket> {
  private readonly logger: Logger;
  private readonly clients = new Map<string, ClientBinding>();
  private readonly connectCallbacks: ((client: GatewayClientSocket) => void)[] = [];
  private registered = false;
  private announced = false;
  /** Messages no handler took (not routed, and no `@OnMessage` handler). */
  ignoredMessages = 0;

  constructor(
    private readonly gateway: GatewayService,
    private readonly registry: GatewayHandlerRegistry,
    contextCreator: ExternalContextCreator,
    @Inject(GATEWAY_WORKER_OPTIONS) options: ResolvedGatewayWorkerOptions,
  ) {
    this.logger = new Logger(options.businessWorker.name);
    // Now, while providers are built: Nest connects gateway classes to the adapter in listen()/init().
    const config = applicationConfigOf(contextCreator) as { getIoAdapter?: () => unknown; setIoAdapter?: (a: unknown) => void } | null;
    if (typeof config?.getIoAdapter === 'function' && typeof config.setIoAdapter === 'function' && !config.getIoAdapter()) config.setIoAdapter(this);
  }

  /** Clients of gateway classes this worker knows (connected, not yet closed). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** The cluster, for `@WebSocketServer()`. Opens nothing: the gateway tier holds the sockets. */
  create(_port: number, _options?: unknown): GatewayCluster {
    if (!this.announced) {
      this.announced = true;
      this.logger.log(wsAdapterInstalled());
    }
    return new GatewayCluster(this.gateway);
  }

  /** Nest's connection handler of a gateway class: called with each new client. */
  bindClientConnect(_server: GatewayCluster, callback: (client: GatewayClientSocket) => void): void {
    this.connectCallbacks.push(callback);
    if (this.registered) return;
    this.registered = true;
    this.registry.register('connect', { name: 'GatewayWsAdapter.connect', call: (_payload, ctx) => this.connect(ctx) });
    this.registry.register('message', { name: 'GatewayWsAdapter.message', call: (_payload, ctx) => this.route(ctx) }, 'first');
    this.registry.register('close', { name: 'GatewayWsAdapter.close', call: (_payload, ctx) => this.disconnect(ctx) });
    this.registry.register('resume', { name: 'GatewayWsAdapter.resume', call: (_payload, ctx) => this.resumed(ctx) });
  }

  bindClientDisconnect(client: GatewayClientSocket, callback: (reason?: unknown) => void): void {
    this.clients.get(client.id)?.disconnects.push(callback);
  }

  bindMessageHandlers(client: GatewayClientSocket, handlers: WsMessageHandler<unknown>[], transform: Transform): void {
    this.clients.get(client.id)?.handlerSets.push(handlers.map((h) => ({ message: h.message, callback: h.callback, transform })));
  }

  /** Nothing to close: the sockets belong to the gateway tier. */
  close(_server: GatewayCluster): void {}

  dispose(): void {
    this.clients.clear();
    this.connectCallbacks.length = 0;
  }

  // ---- the worker's events --------------------------------------------------------------------

  /**
   * A client connected. A binding already under its client_id belongs to an earlier client of a
   * gateway that has restarted on the same address (connection ids start again): that client is
   * gone — it gets its handleDisconnect — and the new one is introduced.
   */
  private connect(ctx: GatewayEventContext): void {
    const stale = this.clients.get(ctx.clientId);
    if (stale) this.drop(stale);
    this.introduce(ctx);
  }

  /** A client is seen (connected, or its first message here): Nest binds its handlers and calls handleConnection. */
  private introduce(ctx: GatewayEventContext): ClientBinding {
    const existing = this.clients.get(ctx.clientId);
    if (existing) {
      existing.socket.context = ctx;
      return existing;
    }
    const binding: ClientBinding = { socket: new GatewayClientSocket(this.gateway, ctx), handlerSets: [], disconnects: [] };
    this.clients.set(ctx.clientId, binding);
    for (const connect of this.connectCallbacks) {
      try {
        connect(binding.socket);
      } catch (err) {
        this.logger.error(wsHookFailed('handleConnection', ctx.clientId, err));
      }
    }
    return binding;
  }

  /**
   * A message: to the `@SubscribeMessage` handlers of its event (marked as routed, so the
   * `@OnMessage` handlers skip it); the event ends when their reply streams complete.
   */
  private route(ctx: GatewayEventContext): Promise<void> | undefined {
    const binding = this.introduce(ctx);
    const message = parseWsMessage(ctx.message);
    if (typeof message === 'string') return this.unrouted(ctx, message);
    const matches: BoundHandler[] = [];
    for (const set of binding.handlerSets) {
      const handler = set.find((h) => h.message === message.event);
      if (handler) matches.push(handler);
    }
    if (matches.length === 0) return this.unrouted(ctx, `it names no handled event ("${message.event}")`);
    markRouted(ctx);
    return this.runRouted(binding.socket, matches, message);
  }

  private async runRouted(socket: GatewayClientSocket, handlers: BoundHandler[], message: WsMessage): Promise<void> {
    const id = message.id;
    // A request (the SDK's `request()`): replies, and an exception event, carry its id back.
    socket.beginRequest(id);
    try {
      // One gateway class after the other, as each class's reply stream completes: order holds.
      for (const h of handlers) await this.drain(socket, h.transform(h.callback(message.data, message.event)), message.event, id);
      if (id !== undefined && !socket.endRequest() && socket.readyState === GatewayClientState.OPEN) await socket.send(encodeWsReplyEnd(id));
    } finally {
      socket.endRequest();
    }
  }

  /** Sends each value of a handler's reply stream to the client, as platform-ws does; resolves when it completes. */
  private drain(socket: GatewayClientSocket, replies: Observable<unknown>, event: string, id: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const sends: Promise<unknown>[] = [];
      const settle = () => void Promise.allSettled(sends).then(() => resolve());
      replies.subscribe({
        next: (value) => {
          if (value === undefined || value === null || socket.readyState !== GatewayClientState.OPEN) return;
          if (id === undefined) sends.push(socket.send(encodeWsResponse(value)));
          else {
            socket.replied();
            sends.push(socket.send(encodeWsReply(value, id)));
          }
        },
        error: (err: unknown) => {
          this.logger.error(wsRouteFailed(socket.id, event, err));
          settle();
        },
        complete: settle,
      });
    });
  }

  private unrouted(ctx: GatewayEventContext, why: string): undefined {
    // The @OnMessage handlers (registered after this router) take it.
    if (this.registry.get('message').length > 1) return undefined;
    this.ignoredMessages++;
    this.logger.debug(unroutedMessage(ctx.clientId, why));
    return undefined;
  }

  /**
   * A kept client is back. Handed over to another gateway, it has a new client_id: its handle
   * (which Nest's handlers hold) moves to it, so the gateway classes see one client throughout.
   */
  private resumed(ctx: GatewayEventContext): void {
    const previous = ctx.resumeEvent?.previousClientId;
    if (!previous || previous === ctx.clientId) return;
    const binding = this.clients.get(previous);
    if (!binding) return;
    this.clients.delete(previous);
    binding.socket.moveTo(ctx.clientId);
    binding.socket.context = ctx;
    this.clients.set(ctx.clientId, binding);
  }

  /** The client closed: Nest calls handleDisconnect. */
  private disconnect(ctx: GatewayEventContext): void {
    const binding = this.clients.get(ctx.clientId);
    if (!binding) return;
    binding.socket.context = ctx;
    this.drop(binding);
  }

  private drop(binding: ClientBinding): void {
    const { socket } = binding;
    this.clients.delete(socket.id);
    socket.readyState = GatewayClientState.CLOSED;
    for (const hook of binding.disconnects) {
      try {
        hook();
      } catch (err) {
        this.logger.error(wsHookFailed('handleDisconnect', socket.id, err));
      }
    }
  }
}
