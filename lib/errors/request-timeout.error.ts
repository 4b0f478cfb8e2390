import { sdkRequestTimedOut } from '../gateway-worker.messages.js';

/** Client SDK: a `request()` got no reply within its timeout. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(readonly event: string, readonly timeoutMs: number) {
    super(sdkRequestTimedOut(event, timeoutMs));
  }
}
