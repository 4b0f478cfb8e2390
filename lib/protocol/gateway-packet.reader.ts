import { DEFAULT_MAX_PACKAGE_SIZE, HEAD_LEN } from './gateway-command.js';
import { LengthPrefixedReader } from './length-prefixed.reader.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooShort } from '../gateway-worker.messages.js';

/** A packet the reader skipped for being larger than its limit, named by its 28-byte header. */
export interface OversizedPacket {
  /** The packet's command (`GatewayCommand`). */
  cmd: number;
  /** The connection the packet is about (client connection id), 0 when the command has none. */
  connectionId: number;
  /** Its declared `pack_len`, header included. */
  length: number;
}

/**
 * Splits a TCP byte stream into GatewayProtocol packets (docs/protocol.md §2.4).
 *
 * Packets are delivered as views into the received chunks when they fit in one, so the common case
 * (many small packets per chunk) copies nothing; a packet split across chunks costs O(its size)
 * however it is split (see LengthPrefixedReader).
 *
 * Limits, unlike PHP (which closes the link on an oversized packet and desynchronises on a short one):
 * - a `pack_len` above `maxPacketSize` does not cut the link: once its 28-byte header is in, the
 *   packet is reported to `onOversized` (command, connection, length) and its bytes are skipped
 *   as they arrive, never buffered; the packets after it are delivered as usual. What to do about
 *   it (log it, count it, close an unauthenticated peer) is the caller's decision;
 * - a `pack_len` below 28 throws GatewayProtocolError: the framing is corrupt, nothing after it
 *   can be trusted, and the caller must close the link.
 */
export class GatewayPacketReader extends LengthPrefixedReader {
  constructor(maxPacketSize = DEFAULT_MAX_PACKAGE_SIZE) {
    super(maxPacketSize, HEAD_LEN, 0);
  }

  /**
   * Feeds one chunk: calls `onPacket` for each complete packet and `onOversized` for each packet
   * over the limit, in stream order. `bufferedBytes` stays non-zero while a skipped packet is
   * half-received, so a peer that stops in the middle of one is still caught as stalled.
   * @throws GatewayProtocolError on a `pack_len` below 28; the stream is then unusable.
   */
  push(chunk: Buffer, onPacket: (packet: Buffer) => void, onOversized: (packet: OversizedPacket) => void): void {
    this.feed(chunk, onPacket, (header, length) => onOversized({ cmd: header[4]!, connectionId: header.readUInt32BE(17), length }));
  }

  protected totalLength(buf: Buffer, offset: number): number {
    const len = buf.readUInt32BE(offset);
    if (len < HEAD_LEN) throw new GatewayProtocolError(packetTooShort(len));
    return len;
  }
}
