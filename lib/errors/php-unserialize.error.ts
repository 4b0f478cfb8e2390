import { GatewayWorkerError } from './gateway-worker.error.js';
/**
 * Bytes handed to `phpUnserialize()` / `phpUnserializeExact()` are not a complete, well-formed PHP
 * serialize() value (truncated, a wrong length or count, trailing bytes, nesting too deep, …), or
 * they decode to something the caller cannot use (e.g. a session that is not an array).
 *
 * It is the only error the unserializer throws for bad input: catch it, log it and drop the input
 * (or keep the previous session), never let it take the process down.
 *
 * @publicApi
 */
export class PhpUnserializeError extends GatewayWorkerError {
  override readonly name = 'PhpUnserializeError';
  /**
   * @param message what was expected and what was found
   * @param offset byte offset into the input where decoding stopped
   */
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}
