import { Injectable } from '@nestjs/common';
import type { GatewayEventContext, GatewayEventName } from './gateway-event-context.js';

/** One registered event handler. */
export interface GatewayEventHandler {
  /** `Class.method`, for logs. */
  name: string;
  /**
   * Runs the handler with Nest's guards, pipes, interceptors and filters applied. Returns what the
   * handler returned: a promise (the event ends when it settles) or a plain value (it has ended).
   */
  call: (payload: unknown, ctx: GatewayEventContext) => unknown;
}

/**
 * The handlers of each client event, filled by the explorer at `onModuleInit` and by the
 * websocket adapter (or by hand with `register()`), read by the BusinessWorker for every event.
 */
@Injectable()
export class GatewayHandlerRegistry {
  private readonly handlers: Record<GatewayEventName, GatewayEventHandler[]> = { connect: [], message: [], close: [], websocketConnect: [], disconnect: [], resume: [] };

  /**
   * Adds a handler for an event; several handlers of one event run in registration order, except
   * that `'first'` puts this one before the others. The `@WebSocketGateway` router of messages is
   * registered first: it decides which messages are routed by event, and the `@OnMessage`
   * handlers registered before or after it (Nest's boot order varies) then skip those.
   */
  register(event: GatewayEventName, handler: GatewayEventHandler, position: 'first' | 'last' = 'last'): void {
    if (position === 'first') this.handlers[event].unshift(handler);
    else this.handlers[event].push(handler);
  }

  /** The handlers of an event. */
  get(event: GatewayEventName): readonly GatewayEventHandler[] {
    return this.handlers[event];
  }
}
