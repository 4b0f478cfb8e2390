import { GatewayWorkerError } from './gateway-worker.error.js';
import { sdkClosed, sdkDisconnected } from '../gateway-worker.messages.js';

/**
 * Client SDK: a `request()` was pending when the connection broke (or the client was closed).
 *
 * @publicApi
 */
export class ClientDisconnectedError extends GatewayWorkerError {
  override readonly name = 'ClientDisconnectedError';
  constructor(readonly event: string, readonly closed = false) {
    super(closed ? sdkClosed() : sdkDisconnected(event));
  }
}
