import { ChunkList } from './chunk-list.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooLarge } from '../gateway-worker.messages.js';

/**
 * What a length-prefixed reader does with a message longer than its limit, given the first
 * `headerBytes` of it and its declared total length. Omitted: the reader throws
 * GatewayProtocolError (the stream is then unusable). Given: it is called, and the reader skips
 * the message (without buffering it) and carries on with the next one.
 */
export type OnTooLong = (header: Buffer, totalLength: number) => void;

/**
 * The framing shared by the readers of streams where each message starts with a uint32 BE length
 * (GatewayProtocol packets, `frame://`, query replies): messages are delivered as views into the
 * received chunk when they fit in it (the common case copies nothing), and a message split across
 * chunks is held as a ChunkList and joined once, so a message of N bytes costs O(N) however it
 * is split. A length above the limit is refused as soon as `headerBytes` of it are in: nothing of
 * it is buffered.
 */
export abstract class LengthPrefixedReader {
  /** The unfinished message; null while there is none (a gateway holds one reader per frame:// client). */
  private held: ChunkList | null = null;
  /** Total length of the held message once its length field is in (it is then validated); 0 before. */
  private expected = 0;
  /** Bytes of a refused message still to skip, and how many of it were received so far. */
  private skipLeft = 0;
  private skipped = 0;

  /**
   * @param maxLength largest total length accepted, as counted by `totalLength`.
   * @param headerBytes bytes needed to refuse a message (≥ 4): what `OnTooLong` is given.
   * @param payloadOffset bytes of each message not delivered (its length field, for `frame://`).
   */
  protected constructor(
    protected readonly maxLength: number,
    private readonly headerBytes: number,
    private readonly payloadOffset: number,
  ) {}

  /**
   * Total length of a message (everything from its length field on) from its first 4 bytes at
   * `offset` of `buf`. Throws GatewayProtocolError when that length is corrupt.
   */
  protected abstract totalLength(buf: Buffer, offset: number): number;

  /**
   * Bytes of the current unfinished message received so far: held, or already skipped when it
   * is a refused one. Non-zero exactly while a message is half-received, for stalled-frame sweeps.
   */
  get bufferedBytes(): number {
    return (this.held?.length ?? 0) + this.skipped;
  }

  /** Feeds one chunk; calls `onMessage` per complete message, `onTooLong` per refused one, in stream order. */
  protected feed(chunk: Buffer, onMessage: (message: Buffer) => void, onTooLong?: OnTooLong): void {
    const end = chunk.length;
    let off = this.skip(chunk, 0);
    // A message begun in earlier chunks: complete its length field, its header if it is refused,
    // then the message itself, from the front of this chunk (each branch consumes, or returns for more).
    while (this.held !== null) {
      const held = this.held;
      if (this.expected === 0) {
        const take = Math.min(4 - held.length, end - off);
        held.append(chunk.subarray(off, off + take));
        off += take;
        if (held.length < 4) return;
        this.expected = this.checked(held.head(4), 0);
      } else if (this.expected > this.maxLength) {
        const take = Math.min(this.headerBytes - held.length, end - off);
        held.append(chunk.subarray(off, off + take));
        off += take;
        if (held.length < this.headerBytes) return;
        const total = this.expected;
        this.expected = 0;
        this.held = null;
        this.refuse(held.join(), total, onTooLong, this.headerBytes);
        off = this.skip(chunk, off);
      } else {
        const missing = this.expected - held.length;
        if (end - off < missing) {
          held.append(chunk.subarray(off));
          return;
        }
        const message = held.join(chunk.subarray(off, off + missing));
        off += missing;
        this.expected = 0;
        this.held = null;
        onMessage(message.subarray(this.payloadOffset));
      }
    }
    // Whole messages in this chunk are delivered as views into it.
    while (end - off >= 4) {
      const total = this.checked(chunk, off);
      if (total > this.maxLength) {
        if (end - off < this.headerBytes) {
          this.expected = total;
          break;
        }
        this.refuse(chunk.subarray(off, off + this.headerBytes), total, onTooLong, 0);
        off = this.skip(chunk, off);
        continue;
      }
      if (end - off < total) {
        this.expected = total;
        break;
      }
      onMessage(chunk.subarray(off + this.payloadOffset, off + total));
      off += total;
    }
    if (off < end) {
      this.held = new ChunkList();
      this.held.append(chunk.subarray(off));
    }
  }

  /** `totalLength`, after which any error leaves the reader empty (the stream is unusable anyway). */
  private checked(buf: Buffer, offset: number): number {
    try {
      return this.totalLength(buf, offset);
    } catch (err) {
      this.held = null;
      this.expected = 0;
      throw err;
    }
  }

  /** Reports a refused message of `total` bytes, `consumed` of which are already read, and arms the skip of the rest. */
  private refuse(header: Buffer, total: number, onTooLong: OnTooLong | undefined, consumed: number): void {
    if (!onTooLong) throw new GatewayProtocolError(packetTooLarge(total, this.maxLength));
    // Armed before the callback: it may throw, and the stream stays aligned for whoever goes on.
    this.skipLeft = total - consumed;
    this.skipped = consumed;
    onTooLong(header, total);
  }

  /** Skips what is left of a refused message from `off`; returns the offset after it. */
  private skip(chunk: Buffer, off: number): number {
    if (this.skipLeft === 0) return off;
    const n = Math.min(this.skipLeft, chunk.length - off);
    this.skipLeft -= n;
    this.skipped = this.skipLeft === 0 ? 0 : this.skipped + n;
    return off + n;
  }
}
