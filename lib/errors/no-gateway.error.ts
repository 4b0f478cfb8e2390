import { GatewayWorkerError } from './gateway-worker.error.js';
import { noGatewayKnown } from '../gateway-worker.messages.js';

/**
 * A query that fans out to every gateway was made while no gateway address is known.
 *
 * @publicApi
 */
export class NoGatewayError extends GatewayWorkerError {
  override readonly name = 'NoGatewayError';
  constructor(method: string) {
    super(noGatewayKnown(method));
  }
}
