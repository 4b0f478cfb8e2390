import { applyDecorators, Injectable, SetMetadata } from '@nestjs/common';
import { GATEWAY_EVENTS_METADATA } from '../gateway-worker.constants.js';

/**
 * Marks a provider class whose methods handle client events (`@OnConnect`, `@OnMessage`,
 * `@OnClose`). The class is an ordinary injectable provider: list it in a module's `providers`.
 *
 * ```ts
 * @GatewayEvents()
 * export class ChatEvents {
 *   constructor(private readonly gateway: GatewayService) {}
 *   @OnMessage()
 *   async said(@ClientId() id: string, @Payload() text: string) {
 *     await this.gateway.sendToAll(`${id} said ${text}`);
 *   }
 * }
 * ```
 *
 * @publicApi
 */
export const GatewayEvents = (): ClassDecorator => applyDecorators(SetMetadata(GATEWAY_EVENTS_METADATA, true), Injectable());
