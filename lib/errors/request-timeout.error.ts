import { GatewayWorkerError } from './gateway-worker.error.js';
import { sdkRequestTimedOut } from '../gateway-worker.messages.js';

/**
 * Client SDK: a `request()` got no reply within its timeout.
 *
 * @publicApi
 */
export class RequestTimeoutError extends GatewayWorkerError {
  override readonly name = 'RequestTimeoutError';
  constructor(readonly event: string, readonly timeoutMs: number) {
    super(sdkRequestTimedOut(event, timeoutMs));
  }
}
