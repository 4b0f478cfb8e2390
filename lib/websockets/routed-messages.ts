import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';

/**
 * The message events a `@SubscribeMessage` handler took (`{"event": …}` naming one). `@OnMessage`
 * handlers skip them: they get only what no gateway class routed. A WeakSet, so a finished event
 * leaves nothing behind.
 */
const routed = new WeakSet<GatewayEventContext>();

/** Marks an event as routed by event name. */
export function markRouted(ctx: GatewayEventContext): void {
  routed.add(ctx);
}

/** True when a `@SubscribeMessage` handler took this event. */
export function isRouted(ctx: GatewayEventContext): boolean {
  return routed.has(ctx);
}
