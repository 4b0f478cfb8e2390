import { Injectable, type Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import type { GatewayEventName } from '../business-worker/gateway-event-context.js';
import { GATEWAY_EVENTS_METADATA, ON_EVENT_METADATA } from '../gateway-worker.constants.js';

/** Metadata keys of @nestjs/websockets (its `constants.js`), by value so that package stays optional. */
const WS_MESSAGE_MAPPING_METADATA = 'websockets:message_mapping';
const WS_GATEWAY_METADATA = 'websockets:is_gateway';

/** Reads the metadata our decorators (and @nestjs/websockets') leave on handler classes and methods. */
@Injectable()
export class GatewayMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  isEventsClass(target: Type | Function | undefined): boolean {
    return !!target && !!this.reflector.get(GATEWAY_EVENTS_METADATA, target);
  }

  getEvent(method: Function): GatewayEventName | undefined {
    return this.reflector.get(ON_EVENT_METADATA, method);
  }

  /** `@SubscribeMessage()` of @nestjs/websockets (read by key: that package stays optional). */
  isSubscribeMessage(method: Function): boolean {
    return !!this.reflector.get(WS_MESSAGE_MAPPING_METADATA, method);
  }

  /** `@WebSocketGateway()` of @nestjs/websockets. */
  isWebSocketGateway(target: Type): boolean {
    return !!Reflect.getMetadata(WS_GATEWAY_METADATA, target);
  }

  /**
   * Parameter decorators our handlers do not fill — `@MessageBody()`, `@ConnectedSocket()`,
   * `@Ack()`, `@Body()` … (Nest's route-argument metadata) — on a method of ours.
   */
  hasRouteArgs(target: Type, methodName: string): boolean {
    const args: unknown = Reflect.getMetadata(ROUTE_ARGS_METADATA, target, methodName);
    return !!args && typeof args === 'object' && Object.keys(args).length > 0;
  }
}
