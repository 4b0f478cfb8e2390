import { GatewayWorkerError } from './gateway-worker.error.js';
import { queryTimeout } from '../gateway-worker.messages.js';

/**
 * A gateway did not answer a query within the query timeout.
 *
 * @publicApi
 */
export class QueryTimeoutError extends GatewayWorkerError {
  override readonly name = 'QueryTimeoutError';
  constructor(readonly address: string, readonly timeoutMs: number) {
    super(queryTimeout(address, timeoutMs));
  }
}
