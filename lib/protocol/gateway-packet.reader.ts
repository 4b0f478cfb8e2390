import { DEFAULT_MAX_PACKAGE_SIZE, HEAD_LEN } from './gateway-command.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooLarge, packetTooShort } from '../gateway-worker.messages.js';

/**
 * Splits a TCP byte stream into GatewayProtocol packets (PROTOCOL.md §2.4).
 *
 * Packets are returned as views into the received chunks when they fit in one, so the common case
 * (many small packets per chunk) copies nothing. Unlike PHP, a `pack_len` below 28 is rejected
 * instead of desynchronising the stream, and a `pack_len` above the limit is rejected before any of
 * it is buffered.
 */
export class GatewayPacketReader {
  private pending: Buffer | null = null;

  constructor(private readonly maxPacketSize = DEFAULT_MAX_PACKAGE_SIZE) {}

  /** Bytes held for an incomplete packet. */
  get bufferedBytes(): number {
    return this.pending?.length ?? 0;
  }

  /**
   * Feeds one chunk and calls `onPacket` for each complete packet, in order.
   * @throws GatewayProtocolError on a length outside `[28, maxPacketSize]`; the stream is then unusable.
   */
  push(chunk: Buffer, onPacket: (packet: Buffer) => void): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let offset = 0;
    while (buf.length - offset >= 4) {
      const len = buf.readUInt32BE(offset);
      if (len < HEAD_LEN) throw new GatewayProtocolError(packetTooShort(len));
      if (len > this.maxPacketSize) throw new GatewayProtocolError(packetTooLarge(len, this.maxPacketSize));
      if (buf.length - offset < len) break;
      onPacket(buf.subarray(offset, offset + len));
      offset += len;
    }
    if (offset < buf.length) {
      // Copy the remainder so a small tail does not pin a large chunk in memory.
      this.pending = Buffer.from(buf.subarray(offset));
    }
  }
}
