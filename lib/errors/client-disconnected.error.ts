import { sdkClosed, sdkDisconnected } from '../gateway-worker.messages.js';

/** Client SDK: a `request()` was pending when the connection broke (or the client was closed). */
export class ClientDisconnectedError extends Error {
  override readonly name = 'ClientDisconnectedError';
  constructor(readonly event: string, readonly closed = false) {
    super(closed ? sdkClosed() : sdkDisconnected(event));
  }
}
