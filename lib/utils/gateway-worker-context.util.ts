import type { ArgumentsHost } from '@nestjs/common';
import { GATEWAY_WORKER_CONTEXT_TYPE } from '../gateway-worker.constants.js';
import type { GatewayEventContext } from '../business-worker/gateway-event-context.js';

/**
 * True when a guard, interceptor or filter runs for a GatewayWorker event handler, so global HTTP
 * enhancers can skip them: `if (isGatewayWorkerContext(ctx)) return next.handle();`
 *
 * @publicApi
 */
export function isGatewayWorkerContext(host: ArgumentsHost): boolean {
  return host.getType<string>() === GATEWAY_WORKER_CONTEXT_TYPE;
}

/**
 * The event context of a guard's/interceptor's/filter's host (our handlers' second argument).
 *
 * @publicApi
 */
export function getGatewayEventContext(host: ArgumentsHost): GatewayEventContext {
  return host.getArgByIndex(1) as GatewayEventContext;
}
