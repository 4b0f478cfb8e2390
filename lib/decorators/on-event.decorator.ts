import { SetMetadata } from '@nestjs/common';
import { ON_EVENT_METADATA } from '../gateway-worker.constants.js';
import type { GatewayEventName } from '../business-worker/gateway-event-context.js';

/**
 * Runs the method when a client connects (PHP `Events::onConnect`). A guard that denies it, or a
 * `ForbiddenException` thrown from it, closes that client's connection.
 */
export const OnConnect = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'connect');

/** Runs the method for every message a client sends (PHP `Events::onMessage`), in order per client. */
export const OnMessage = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'message');

/**
 * Runs the method after a client's connection closed (PHP `Events::onClose`). The client is
 * already gone from the gateway: sends to it go nowhere, and session changes are not written back.
 */
export const OnClose = (): MethodDecorator => SetMetadata<string, GatewayEventName>(ON_EVENT_METADATA, 'close');
