import { GatewayWorkerError } from './gateway-worker.error.js';
import { gatewayUnreachable } from '../gateway-worker.messages.js';

/**
 * A gateway's internal port could not be reached (connection refused, reset or closed) while a call needed it.
 *
 * @publicApi
 */
export class GatewayUnreachableError extends GatewayWorkerError {
  override readonly name = 'GatewayUnreachableError';
  constructor(readonly address: string, reason: string) {
    super(gatewayUnreachable(address, reason));
  }
}
