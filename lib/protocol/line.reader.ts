import { DEFAULT_MAX_PACKAGE_SIZE } from './gateway-command.js';
import { ChunkList } from './chunk-list.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { lineTooLong } from '../gateway-worker.messages.js';
import type { StreamDecoder } from './client-protocol.js';

const NL = 0x0a;
const CR = 0x0d;

/**
 * Newline framing, as workerman's Text protocol (docs/protocol.md §8.1): one message per `\n`, all
 * trailing `\r`/`\n` stripped. Used for `text://` clients and for the Register's JSON lines.
 *
 * Linear in the bytes received however a line is split: the unfinished line is a ChunkList, only
 * the new chunk is searched for `\n`, and the line is joined once, when its `\n` arrives.
 */
export class LineReader implements StreamDecoder {
  /** The unfinished line; null while there is none (a gateway holds one reader per text client). */
  private held: ChunkList | null = null;

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
   * @throws GatewayProtocolError when the unprocessed bytes reach `maxLineSize` (workerman's `≥`),
   * as soon as a chunk takes them there; nothing of that chunk is held.
   */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let nl = chunk.indexOf(NL);
    let start = 0;
    if (this.held !== null) {
      if (nl === -1) {
        if (this.held.length + chunk.length >= this.maxLineSize) {
          this.held = null;
          throw new GatewayProtocolError(lineTooLong(this.maxLineSize));
        }
        this.held.append(chunk);
        return;
      }
      const line = this.held.join(chunk.subarray(0, nl));
      this.held = null;
      let end = line.length;
      while (end > 0 && (line[end - 1] === CR || line[end - 1] === NL)) end--;
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
      onLine(line.subarray(0, end));
    }
    while (nl !== -1) {
      let end = nl;
      while (end > start && (chunk[end - 1] === CR || chunk[end - 1] === NL)) end--;
      onLine(chunk.subarray(start, end));
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    if (start < chunk.length) {
      if (chunk.length - start >= this.maxLineSize) throw new GatewayProtocolError(lineTooLong(this.maxLineSize));
      this.held = new ChunkList();
      this.held.append(chunk.subarray(start));
    }
  }
}
