import { GatewayWorkerError } from './gateway-worker.error.js';
import { invalidOptions } from '../gateway-worker.messages.js';

/**
 * The options given to GatewayWorkerModule are invalid; thrown at startup, listing every problem.
 *
 * @publicApi
 */
export class GatewayWorkerOptionsError extends GatewayWorkerError {
  override readonly name = 'GatewayWorkerOptionsError';
  constructor(readonly problems: string[]) {
    super(invalidOptions(problems));
  }
}
