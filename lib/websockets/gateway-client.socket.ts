import type { GatewayEventContext, GatewaySession } from '../business-worker/gateway-event-context.js';
import type { GatewayKey, GatewayMessage, GatewayService } from '../gateway.service.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { WsEventMap, WsEventName } from './ws-event-map.js';
import { encodeWsMessage } from './ws-message.js';

/**
 * `readyState` values, as a `ws` WebSocket has them.
 *
 * @publicApi
 */
export const GatewayClientState = { OPEN: 1, CLOSED: 3 } as const;

/**
 * What `@ConnectedSocket()` gives a `@WebSocketGateway` handler served by `GatewayWsAdapter` (and
 * `handleConnection` / `handleDisconnect`): a handle on a client of the cluster. The connection
 * itself lives in a gateway process; every call here is a GatewayService command to that gateway.
 *
 * ```ts
 * @SubscribeMessage('join')
 * async join(@ConnectedSocket() client: GatewayClientSocket<ChatEvents>, @MessageBody() room: string) {
 *   await client.join(room);
 *   client.session.room = room;          // written back when the handler settles
 *   await client.emit('joined', { room });
 * }
 * ```
 *
 * It has `readyState` and `send()` like a `ws` WebSocket, so `BaseWsExceptionFilter` and code
 * written for `@nestjs/platform-ws` work with it.
 * @typeParam Events optional map of event names to data types, checked by `emit()`
 *
 * @publicApi
 */
export class GatewayClientSocket<Events extends WsEventMap = Record<string, any>> {
  /** The client_id (a new one after the client was handed over to another gateway: `@OnResume`). */
  get id(): string {
    return this.clientId;
  }
  private clientId: string;
  /** `GatewayClientState.OPEN` (1) until the client's close event, then `CLOSED` (3). */
  readyState: number = GatewayClientState.OPEN;
  private ctx: GatewayEventContext;
  /** The correlation id of the request being handled (SDK `request()`), if any. */
  private requestId: number | undefined;
  private answered = false;

  /** @internal built by GatewayWsAdapter when the client connects (or sends its first message to this worker) */
  constructor(
    private readonly gateway: GatewayService,
    context: GatewayEventContext,
  ) {
    this.clientId = context.clientId;
    this.ctx = context;
  }

  /**
   * The event being handled for this client (or the last one): what `@Ctx()` gives PHP-style
   * handlers — addresses, ports, protocol, raw message, session.
   */
  get context(): GatewayEventContext {
    return this.ctx;
  }

  /** @internal the adapter moves the handle to each new event of the client */
  set context(ctx: GatewayEventContext) {
    this.ctx = ctx;
  }

  /**
   * The client's session during the event being handled: mutate it (or assign a new object) and
   * it is written back to the gateway when the handler settles, as with `@Session()`.
   */
  get session(): GatewaySession {
    return this.ctx.session;
  }

  set session(value: GatewaySession) {
    this.ctx.session = value;
  }

  /** The client's IPv4 address (the proxy's client with `gateway.trustedProxies`). */
  get remoteAddress(): string {
    return this.ctx.remoteAddress;
  }

  /** The client's port. */
  get remotePort(): number {
    return this.ctx.remotePort;
  }

  /** `"<lanIp>:<lanPort>"` of the gateway process holding the client. */
  get gatewayAddress(): string {
    return this.ctx.gatewayAddress;
  }

  /** The public port the client connected to. */
  get gatewayPort(): number {
    return this.ctx.gatewayPort;
  }

  /** `'websocket'`, `'text'`, `'frame'` or `'tcp'`; undefined behind a PHP gateway. */
  get protocol(): ClientProtocolName | undefined {
    return this.ctx.protocol;
  }

  /** True when the client came over TLS; undefined behind a PHP gateway. */
  get secure(): boolean | undefined {
    return this.ctx.secure;
  }

  /**
   * Sends `{"event": event, "data": data}` (JSON text) to this client. Resolves to true once its
   * gateway took it, false when that gateway is not connected.
   */
  emit<E extends WsEventName<Events>>(event: E, data: Events[E]): Promise<boolean> {
    // An exception emitted while a request is handled answers it.
    const id = event === 'exception' ? this.requestId : undefined;
    if (id !== undefined) this.answered = true;
    return this.gateway.sendToClient(this.id, encodeWsMessage(event, data, id));
  }

  /** @internal the client was handed over to another gateway: its new client_id */
  moveTo(clientId: string): void {
    this.clientId = clientId;
  }

  /** @internal the adapter marks the request being handled for this client (messages run one at a time per client) */
  beginRequest(id: number | undefined): void {
    this.requestId = id;
    this.answered = false;
  }

  /** @internal a tagged reply went out for the current request */
  replied(): void {
    this.answered = true;
  }

  /** @internal the request is over: whether anything answered it */
  endRequest(): boolean {
    const answered = this.answered;
    this.requestId = undefined;
    return answered;
  }

  /** Sends a message as it is: a string as text, a Buffer as bytes (a binary websocket frame), an object as JSON. */
  send(message: GatewayMessage): Promise<boolean> {
    // BaseWsExceptionFilter sends `{"event":"exception",…}` with send(): while a request is
    // handled, that answers it and carries its id.
    const id = this.requestId;
    if (id !== undefined && typeof message === 'string' && message.startsWith('{"event":"exception",')) {
      this.answered = true;
      return this.gateway.sendToClient(this.id, encodeWsMessage('exception', (JSON.parse(message) as { data: unknown }).data, id));
    }
    return this.gateway.sendToClient(this.id, message);
  }

  /** Closes the client's connection, after an optional last message. */
  close(message?: GatewayMessage): Promise<boolean> {
    return this.gateway.closeClient(this.id, message);
  }

  /** Adds the client to a group (`server.to(group)` reaches it). */
  join(group: GatewayKey): Promise<boolean> {
    return this.gateway.joinGroup(this.id, group);
  }

  /** Removes the client from a group. */
  leave(group: GatewayKey): Promise<boolean> {
    return this.gateway.leaveGroup(this.id, group);
  }

  /** Binds the client to a uid (`server.toUid(uid)` reaches it). */
  bindUid(uid: GatewayKey): Promise<boolean> {
    return this.gateway.bindUid(this.id, uid);
  }

  /** Unbinds the client's uid. */
  unbindUid(): Promise<boolean> {
    return this.gateway.unbindUid(this.id);
  }
}
