import { packetTooLargeToSend } from '../gateway-worker.messages.js';

/**
 * A `GatewayService` call whose command packet would exceed `innerMaxPackageSize`: it is rejected
 * before anything is written, since a gateway would refuse (or cut the link on) such a packet.
 */
export class PacketTooLargeError extends Error {
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
