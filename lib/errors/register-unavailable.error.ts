import { GatewayWorkerError } from './gateway-worker.error.js';
import { registerUnavailable } from '../gateway-worker.messages.js';

/**
 * The GatewayClient has no gateway list to work with: no Register answered within connectTimeout
 * of the first call, or every Register link has been down for longer than `addressCacheTtl`.
 * Thrown by calls that reach every gateway (sendToAll, sendToUid, sendToGroup, ungroup and the
 * fan-out queries); calls for one client_id do not need the Register.
 *
 * @publicApi
 */
export class RegisterUnavailableError extends GatewayWorkerError {
  override readonly name = 'RegisterUnavailableError';
  constructor(
    /** Why each Register could not be used, `"<address>: <reason>"`. */
    readonly reasons: string[],
  ) {
    super(registerUnavailable(reasons));
  }
}
