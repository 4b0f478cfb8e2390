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
 * The handlers of each client event, filled by the explorer at `onModuleInit` (or by hand with
 * `register()`), read by the BusinessWorker for every event.
 */
@Injectable()
export class GatewayHandlerRegistry {
  private readonly handlers: Record<GatewayEventName, GatewayEventHandler[]> = { connect: [], message: [], close: [], websocketConnect: [] };

  /** Adds a handler for an event; several handlers of one event run in registration order. */
  register(event: GatewayEventName, handler: GatewayEventHandler): void {
    this.handlers[event].push(handler);
  }

  /** The handlers of an event. */
  get(event: GatewayEventName): readonly GatewayEventHandler[] {
    return this.handlers[event];
  }
}
