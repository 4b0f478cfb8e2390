import { phpSerializeFailed } from '../gateway-worker.messages.js';
import { GatewayWorkerError } from './gateway-worker.error.js';
/**
 * A value handed to `phpSerialize()` has no PHP serialize() form (a function, a symbol, a Date, a
 * class instance, a cycle, an int outside 64 bits, …). Nothing was written.
 *
 * `path` says where the value sits inside the serialized structure, e.g. `session.profile.birthday`,
 * so the caller can fix the one field instead of guessing.
 *
 * @publicApi
 */
export class PhpSerializeError extends GatewayWorkerError {
  override readonly name = 'PhpSerializeError';
  /**
   * @param problem what was found, e.g. `a Date`
   * @param path where it was found, e.g. `session.profile.birthday`
   * @param hint what to do about it
   */
  constructor(
    readonly problem: string,
    readonly path: string,
    hint = 'Convert it to null, a boolean, a number, a bigint, a string, a Buffer, an array, a Map or a plain object first.',
  ) {
    super(phpSerializeFailed(path, problem, hint));
  }
}
