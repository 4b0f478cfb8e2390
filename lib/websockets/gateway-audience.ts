import type { GatewayMessage } from '../gateway.service.js';
import type { WsEventMap, WsEventName } from './ws-event-map.js';
import { encodeWsMessage } from './ws-message.js';

/**
 * Some clients of the cluster — a group's members or a uid's connections, from
 * `GatewayCluster.to()` / `toUid()` — to send to.
 *
 * @publicApi
 */
export class GatewayAudience<Events extends WsEventMap = Record<string, any>> {
  /** @internal built by GatewayCluster */
  constructor(private readonly deliver: (message: GatewayMessage) => Promise<boolean>) {}

  /**
   * Sends `{"event": event, "data": data}` (JSON text) to them. Resolves to true once the gateways
   * took it, false when no gateway did (delivery is not acknowledged).
   */
  emit<E extends WsEventName<Events>>(event: E, data: Events[E]): Promise<boolean> {
    return this.deliver(encodeWsMessage(event, data));
  }

  /** Sends a message as it is: a string as text, a Buffer as bytes (a binary websocket frame), an object as JSON. */
  send(message: GatewayMessage): Promise<boolean> {
    return this.deliver(message);
  }
}
