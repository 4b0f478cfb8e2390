import { SetMetadata } from '@nestjs/common';
import { ON_EVENT_METADATA } from '../gateway-worker.constants.js';
import type { GatewayEventName } from '../business-worker/gateway-event-context.js';

/**
 * Runs the method when a client connects (PHP `Events::onConnect`). A guard that denies it, or a
 * `ForbiddenException` thrown from it, closes that client's connection.
 *
 * @publicApi
 */
export const OnConnect = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'connect');

/**
 * Runs the method for every message a client sends (PHP `Events::onMessage`), in order per client.
 *
 * @publicApi
 */
export const OnMessage = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'message');

/**
 * Runs the method after a client's connection closed (PHP `Events::onClose`). The client is
 * already gone from the gateway: sends to it go nowhere, and session changes are not written back.
 *
 * @publicApi
 */
export const OnClose = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'close');

/**
 * Runs the method while a websocket client's handshake is in progress, before `@OnConnect` (PHP
 * `Events::onWebSocketConnect`). `@Payload()` (or `ctx.request`) is the upgrade request: headers,
 * path, query, cookies. Set the session or bind a uid here, as PHP workers do.
 *
 * Behind a TypeScript gateway the handshake waits for these handlers: a guard that denies, or an
 * exception with an HTTP status (`UnauthorizedException` → 401), refuses the upgrade with that
 * status before any websocket exists, so the client never gets a client_id and `@OnConnect` never
 * runs. Behind a PHP gateway (which has already accepted) the connection is closed instead.
 *
 * @publicApi
 */
export const OnWebSocketConnect = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'websocketConnect');

/**
 * Runs the method when an opted-in client's connection broke and its gateway keeps it for a
 * resume (`gateway.resumeWindow`): same client_id, session, uid and groups; messages sent to it
 * are kept and delivered when it comes back. `@Payload()` is `{ window }` (ms). `@OnClose` runs
 * only if the window passes without a resume. Sends to the client are kept, session changes written back.
 *
 * @publicApi
 */
export const OnDisconnect = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'disconnect');

/**
 * Runs the method when a kept client is connected again. `@ClientId()` is its client_id now;
 * `@Payload()` is `{ previousClientId }` — the same id when it resumed on the same gateway, the
 * old one when another gateway took it over (its session, uid and groups came along).
 *
 * @publicApi
 */
export const OnResume = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'resume');
