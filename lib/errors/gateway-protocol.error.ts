import { GatewayWorkerError } from './gateway-worker.error.js';

/**
 * A peer sent bytes that break the framing of an inner link or a client protocol; the connection that carried them is closed.
 *
 * @publicApi
 */
export class GatewayProtocolError extends GatewayWorkerError {
  override readonly name = 'GatewayProtocolError';
}
