import { packetTooLargeToSend } from '../gateway-worker.messages.js';
import { GatewayWorkerError } from './gateway-worker.error.js';

/**
 * A `GatewayService` call whose command packet would exceed `innerMaxPackageSize`: it is rejected
 * before anything is written: a gateway would skip such a packet (and say so only in its own log).
 *
 * @publicApi
 */
export class PacketTooLargeError extends GatewayWorkerError {
  override readonly name = 'PacketTooLargeError';

  /**
   * @param method the GatewayService method called
   * @param size the packet's size in bytes
   * @param limit `innerMaxPackageSize`
   */
  constructor(
    readonly method: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(packetTooLargeToSend(method, size, limit));
  }
}
