import { GatewayWorkerError } from './gateway-worker.error.js';
import { noCurrentClient } from '../gateway-worker.messages.js';

/**
 * A method that acts on the current client was called outside an event handler.
 *
 * @publicApi
 */
export class NoCurrentClientError extends GatewayWorkerError {
  override readonly name = 'NoCurrentClientError';
  constructor(method: string) {
    super(noCurrentClient(method));
  }
}
