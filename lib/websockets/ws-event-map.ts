/**
 * The events a gateway class sends, by name, with the type of their data — optional, for a
 * compiler-checked `emit()`:
 *
 * ```ts
 * interface ChatEvents { said: { from: string; text: string }; online: { count: number } }
 * @WebSocketServer() server: GatewayCluster<ChatEvents>;
 * this.server.emit('said', { from: client.id, text });   // checked against ChatEvents['said']
 * ```
 *
 * Without a map (the default), any event name and any data are accepted.
 */
// `object`, not Record<string, unknown>: an interface (which has no index signature) must fit too.
/** @publicApi */
export type WsEventMap = object;

/**
 * The event names of a map.
 *
 * @publicApi
 */
export type WsEventName<Events extends WsEventMap> = Extract<keyof Events, string>;
