import { GatewayWorkerError } from './gateway-worker.error.js';
import { partialResult } from '../gateway-worker.messages.js';

/**
 * Some gateways did not answer a fan-out query and the caller asked for `partial: 'throw'`. Carries what the other gateways answered.
 *
 * @publicApi
 */
export class PartialResultError extends GatewayWorkerError {
  override readonly name = 'PartialResultError';
  constructor(
    method: string,
    /** The result merged from the gateways that did answer. */
    readonly partialValue: unknown,
    /** Addresses of the gateways that failed, with why. */
    readonly failures: { address: string; error: Error }[],
  ) {
    super(partialResult(method, failures.map((f) => f.address)));
  }
}
