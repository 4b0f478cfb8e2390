import { FrameProtocol, TextProtocol, type ClientProtocolName } from '../protocol/client-protocol.js';
import { webSocketFrameHeader } from '../protocol/websocket-frame.js';

/**
 * A message on its way to one or many clients, framed at most once per client protocol: a
 * broadcast to 10,000 websocket clients builds one frame header, not 10,000 (what PHP's
 * `protocolAccelerate` tried, without its "first connection's state" pitfall).
 */
export class OutgoingMessage {
  private text: Buffer | readonly Buffer[] | null = null;
  private ws: readonly Buffer[] | null = null;
  private frame: Buffer | readonly Buffer[] | null = null;

  /**
   * @param body the payload bytes
   * @param raw send `body` as-is, without the client protocol's framing (FLAG_NOT_CALL_ENCODE)
   */
  constructor(
    readonly body: Buffer,
    readonly raw = false,
  ) {}

  /** The bytes to write to a client speaking `protocol`. */
  framedFor(protocol: ClientProtocolName): Buffer | readonly Buffer[] {
    if (this.raw) return this.body;
    switch (protocol) {
      case 'websocket':
        return (this.ws ??= [webSocketFrameHeader(this.body.length), this.body]);
      case 'text':
        return (this.text ??= TextProtocol.encode(this.body));
      case 'frame':
        return (this.frame ??= FrameProtocol.encode(this.body));
      default:
        return this.body;
    }
  }
}
