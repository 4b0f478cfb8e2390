import { LengthPrefixedReader } from './length-prefixed.reader.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooLarge } from '../gateway-worker.messages.js';

/**
 * Splits a gateway's query replies (docs/protocol.md §2.9: uint32 BE length of the serialized
 * bytes, then those bytes) out of a TCP stream, in O(reply size) however a reply is split.
 * A reply over the limit throws GatewayProtocolError: replies are matched to queries by order,
 * so the link cannot go on without it.
 */
export class QueryReplyReader extends LengthPrefixedReader {
  constructor(private readonly maxReplySize: number) {
    super(maxReplySize + 4, 4, 4);
  }

  /** Feeds one chunk and calls `onReply` with the bytes of each complete reply. */
  push(chunk: Buffer, onReply: (reply: Buffer) => void): void {
    this.feed(chunk, onReply);
  }

  protected totalLength(buf: Buffer, offset: number): number {
    const len = buf.readUInt32BE(offset);
    if (len > this.maxReplySize) throw new GatewayProtocolError(packetTooLarge(len, this.maxReplySize));
    return len + 4;
  }
}
