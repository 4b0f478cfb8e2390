import type { GatewayKey, GatewayMessage, GatewayService } from '../gateway.service.js';
import { GatewayAudience } from './gateway-audience.js';
import type { WsEventMap, WsEventName } from './ws-event-map.js';
import { encodeWsMessage } from './ws-message.js';

/**
 * What `@WebSocketServer()` gives a `@WebSocketGateway` class served by `GatewayWsAdapter`: the
 * whole cluster — every client of every gateway — rather than one process's sockets.
 *
 * ```ts
 * @WebSocketServer() server: GatewayCluster<ChatEvents>;
 * await this.server.emit('said', { from, text });          // everybody
 * await this.server.to('room-1').emit('said', { from, text });
 * await this.server.toUid('42').emit('said', { from, text });
 * await this.server.service.getAllClientCount();           // the whole GatewayService API
 * ```
 *
 * Messages are `{"event": …, "data": …}` JSON text, as `@nestjs/platform-ws` sends them.
 * @typeParam Events optional map of event names to data types, checked by `emit()`
 *
 * @publicApi
 */
export class GatewayCluster<Events extends WsEventMap = Record<string, any>> {
  /**
   * @param service the GatewayService underneath, for everything else (queries, sessions, uids)
   * @internal built by GatewayWsAdapter
   */
  constructor(readonly service: GatewayService) {}

  /** Sends `{event, data}` to every client of the cluster. Resolves to true when a gateway took it. */
  emit<E extends WsEventName<Events>>(event: E, data: Events[E]): Promise<boolean> {
    return this.service.sendToAll(encodeWsMessage(event, data));
  }

  /** Sends a message as it is to every client (a Buffer goes as bytes, in a binary websocket frame). */
  send(message: GatewayMessage): Promise<boolean> {
    return this.service.sendToAll(message);
  }

  /** The members of a group (or of several: a client in two of them gets the message twice, as in PHP). */
  to(group: GatewayKey | readonly GatewayKey[]): GatewayAudience<Events> {
    return new GatewayAudience<Events>((message) => this.service.sendToGroup(group, message));
  }

  /** The connections bound to a uid (or to several). */
  toUid(uid: GatewayKey | readonly GatewayKey[]): GatewayAudience<Events> {
    return new GatewayAudience<Events>((message) => this.service.sendToUid(uid, message));
  }
}
