import { FrameProtocol, TextProtocol, type ClientProtocolName } from '../protocol/client-protocol.js';
import { webSocketFrameHeader, WS_OPCODE_BINARY, WS_OPCODE_TEXT } from '../protocol/websocket-frame.js';

/**
 * A message on its way to one or many clients, framed at most once per client protocol: a
 * broadcast to 10,000 websocket clients builds one frame header, not 10,000 (what PHP's
 * `protocolAccelerate` tried, without its "first connection's state" pitfall).
 */
export class OutgoingMessage {
  private text: Buffer | readonly Buffer[] | null = null;
  private ws: Buffer | readonly Buffer[] | null = null;
  private frame: Buffer | readonly Buffer[] | null = null;

  /**
   * @param body the payload bytes
   * @param raw send `body` as-is, without the client protocol's framing (FLAG_NOT_CALL_ENCODE)
   * @param binary websocket clients get a binary frame (opcode 0x2) instead of a text frame
   *   (FLAG_BINARY, docs/protocol.md §2.2); text, frame and tcp clients get the same bytes either way
   */
  constructor(
    readonly body: Buffer,
    readonly raw = false,
    readonly binary = false,
  ) {}

  /** The bytes to write to a client speaking `protocol`. */
  framedFor(protocol: ClientProtocolName): Buffer | readonly Buffer[] {
    if (this.raw) return this.body;
    switch (protocol) {
      case 'websocket':
        return (this.ws ??= joinSmall([webSocketFrameHeader(this.body.length, this.binary ? WS_OPCODE_BINARY : WS_OPCODE_TEXT), this.body]));
      case 'text':
        return (this.text ??= joinSmall(TextProtocol.encode(this.body)));
      case 'frame':
        return (this.frame ??= joinSmall(FrameProtocol.encode(this.body)));
      default:
        return this.body;
    }
  }
}

/** Up to this size a framed message is copied into one buffer: one write per delivery, not two. */
const JOIN_LIMIT = 16 * 1024;

/** Header and body in one buffer when small (one `write()` per client); as parts when large (no copy). */
function joinSmall(parts: Buffer | readonly Buffer[]): Buffer | readonly Buffer[] {
  if (Buffer.isBuffer(parts)) return parts;
  let n = 0;
  for (const p of parts) n += p.length;
  return n <= JOIN_LIMIT ? Buffer.concat(parts as Buffer[], n) : parts;
}
