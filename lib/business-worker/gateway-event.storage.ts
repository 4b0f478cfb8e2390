import { AsyncLocalStorage } from 'node:async_hooks';
import type { GatewayEventContext } from './gateway-event-context.js';

/**
 * Carries the event being handled through the handler's async calls, so `GatewayService` knows
 * the "current client" (PHP's `Context::$client_id`) without any global mutable state: two
 * concurrent handlers each see their own event.
 */
export const gatewayEventStorage = new AsyncLocalStorage<GatewayEventContext>();
