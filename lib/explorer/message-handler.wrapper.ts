import { ForbiddenException, type LoggerService } from '@nestjs/common';
import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';
import { messageHandlerDenied, messageHandlerFailed, replyFailed } from '../gateway-worker.messages.js';
import { isRouted } from '../websockets/routed-messages.js';

type HandlerCall = (payload: unknown, ctx: GatewayEventContext) => unknown;

/** Sends a handler's return value to the client whose message it handled. */
export type ReplySender = (clientId: string, value: unknown) => Promise<unknown>;

/**
 * An `@OnMessage` handler as the worker runs it:
 *
 * - it skips messages a `@SubscribeMessage` handler took (`{"event": …}` naming one);
 * - what it returns (or its promise or Observable resolves to) is sent to the client whose message
 *   it is — strings as they are, Buffers as bytes, other values as JSON — unless it is
 *   `undefined`, `null` or a boolean (what GatewayService's sends resolve to, so that
 *   `return this.gateway.sendToAll(…)` sends nothing more); the event ends once the reply is
 *   handed to the gateway;
 * - its guard denial or exception is logged here (with a `ValidationPipe`'s constraint messages)
 *   and never reaches the worker's runner, so the message's other handlers — of this class or
 *   another — still run. An exception that no filter handles is only logged: the client of a
 *   PHP-style handler gets exactly the bytes the handler sends.
 */
export function wrapMessageHandler(name: string, call: HandlerCall, reply: ReplySender, logger: LoggerService): HandlerCall {
  const failed = (ctx: GatewayEventContext, err: unknown): void => {
    if (err instanceof ForbiddenException) logger.warn(messageHandlerDenied(name, ctx.clientId));
    else logger.error(messageHandlerFailed(name, ctx.clientId, err));
  };
  const send = (ctx: GatewayEventContext, value: unknown): Promise<void> | undefined => {
    if (value === undefined || value === null || typeof value === 'boolean') return undefined;
    return reply(ctx.clientId, value).then(
      () => undefined,
      (err: unknown) => logger.error(replyFailed(name, ctx.clientId, err)),
    );
  };
  return (payload, ctx) => {
    if (isRouted(ctx)) return undefined;
    let result: unknown;
    try {
      result = call(payload, ctx);
    } catch (err) {
      failed(ctx, err);
      return undefined;
    }
    if (isThenable(result)) {
      return result.then(
        (value) => send(ctx, value),
        (err: unknown) => failed(ctx, err),
      );
    }
    return send(ctx, result);
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
