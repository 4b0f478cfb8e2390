import { GatewayWorkerError } from './gateway-worker.error.js';
import { invalidClientId } from '../gateway-worker.messages.js';

/**
 * A client_id that is not 20 hexadecimal characters was given to a GatewayService method.
 *
 * @publicApi
 */
export class InvalidClientIdError extends GatewayWorkerError {
  override readonly name = 'InvalidClientIdError';
  constructor(readonly clientId: unknown) {
    super(invalidClientId(clientId));
  }
}
