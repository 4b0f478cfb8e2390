import { DEFAULT_MAX_PACKAGE_SIZE } from './gateway-command.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { lineTooLong } from '../gateway-worker.messages.js';
import type { StreamDecoder } from './client-protocol.js';

const NL = 0x0a;
const CR = 0x0d;

/**
 * Newline framing, as workerman's Text protocol (PROTOCOL.md §8.1): one message per `\n`, all
 * trailing `\r`/`\n` stripped. Used for `text://` clients and for the Register's JSON lines.
 */
export class LineReader implements StreamDecoder {
  private held: Buffer | null = null;

  constructor(private readonly maxLineSize = DEFAULT_MAX_PACKAGE_SIZE) {}

  /** Bytes held for an unfinished line (the StreamDecoder view). */
  get bufferedBytes(): number {
    return this.held?.length ?? 0;
  }

  /** Same as `bufferedBytes`: a LineReader is the `text://` StreamDecoder. */
  get pending(): number {
    return this.held?.length ?? 0;
  }

  /**
   * Feeds one chunk and calls `onLine` with each complete line (without its line ending).
   * @throws GatewayProtocolError when the unprocessed buffer reaches `maxLineSize` (workerman's `≥`).
   */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    // The held part has no newline: search only the new bytes.
    const searchFrom = this.held?.length ?? 0;
    const buf = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = null;
    let start = 0;
    let nl = buf.indexOf(NL, searchFrom);
    while (nl !== -1) {
      let end = nl;
      while (end > start && (buf[end - 1] === CR || buf[end - 1] === NL)) end--;
      onLine(buf.subarray(start, end));
      start = nl + 1;
      nl = buf.indexOf(NL, start);
    }
    if (start < buf.length) {
      if (buf.length - start >= this.maxLineSize) throw new GatewayProtocolError(lineTooLong(this.maxLineSize));
      this.held = Buffer.from(buf.subarray(start));
    }
  }
}
