import { noCurrentClient } from '../gateway-worker.messages.js';

/** A method that acts on the current client was called outside an event handler. */
export class NoCurrentClientError extends Error {
  override readonly name = 'NoCurrentClientError';
  constructor(method: string) {
    super(noCurrentClient(method));
  }
}
