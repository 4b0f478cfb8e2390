import { DEFAULT_MAX_PACKAGE_SIZE } from './gateway-command.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { lineTooLong } from '../gateway-worker.messages.js';

const NL = 0x0a;
const CR = 0x0d;

/**
 * Newline framing, as workerman's Text protocol (PROTOCOL.md §8.1): one message per `\n`, all
 * trailing `\r`/`\n` stripped. Used for `text://` clients and for the Register's JSON lines.
 */
export class LineReader {
  private pending: Buffer | null = null;

  constructor(private readonly maxLineSize = DEFAULT_MAX_PACKAGE_SIZE) {}

  /** Bytes held for an unfinished line. */
  get bufferedBytes(): number {
    return this.pending?.length ?? 0;
  }

  /**
   * Feeds one chunk and calls `onLine` with each complete line (without its line ending).
   * @throws GatewayProtocolError when the unprocessed buffer reaches `maxLineSize` (workerman's `≥`).
   */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    // The held part has no newline: search only the new bytes.
    const searchFrom = this.pending?.length ?? 0;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
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
      this.pending = Buffer.from(buf.subarray(start));
    }
  }
}
