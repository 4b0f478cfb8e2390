import type { ParamData } from '@nestjs/common';
import type { ParamsFactory } from '@nestjs/core';
import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';
import { GatewayParamType } from '../decorators/gateway-param.decorators.js';

/** Maps the parameter decorators to values of a handler call `(payload, ctx)`. */
export class GatewayParamsFactory implements ParamsFactory {
  exchangeKeyForValue(type: number, data: ParamData | undefined, args: [unknown, GatewayEventContext]): unknown {
    const [payload, ctx] = args;
    switch (type as GatewayParamType) {
      case GatewayParamType.CLIENT_ID:
        return ctx.clientId;
      case GatewayParamType.PAYLOAD:
        return data !== undefined && payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[data as string] : payload;
      case GatewayParamType.SESSION:
        return data !== undefined ? ctx.session[data as string] : ctx.session;
      case GatewayParamType.CONTEXT:
        return ctx;
      default:
        return undefined;
    }
  }
}
