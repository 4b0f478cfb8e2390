import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { GatewayEventName } from '../business-worker/gateway-event-context.js';
import { GATEWAY_EVENTS_METADATA, ON_EVENT_METADATA } from '../gateway-worker.constants.js';

/** Reads the metadata our decorators leave on handler classes and methods. */
@Injectable()
export class GatewayMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  isEventsClass(target: Type | Function | undefined): boolean {
    return !!target && !!this.reflector.get(GATEWAY_EVENTS_METADATA, target);
  }

  getEvent(method: Function): GatewayEventName | undefined {
    return this.reflector.get(ON_EVENT_METADATA, method);
  }
}
