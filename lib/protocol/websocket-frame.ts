/** Websocket opcodes the gateway sends. */
export const WS_OPCODE_TEXT = 0x1;
export const WS_OPCODE_BINARY = 0x2;

/**
 * The header of one unfragmented, unmasked server frame (RFC 6455 §5.2), as workerman writes it
 * (docs/protocol.md §8.3): 7-bit length, or `7E` + uint16, or `7F` + uint64. Framing here instead of in
 * `ws.send()` lets a broadcast frame a message once for every receiver.
 */
export function webSocketFrameHeader(payloadLength: number, opcode = WS_OPCODE_TEXT): Buffer {
  let head: Buffer;
  if (payloadLength <= 125) {
    head = Buffer.allocUnsafe(2);
    head[1] = payloadLength;
  } else if (payloadLength <= 0xffff) {
    head = Buffer.allocUnsafe(4);
    head[1] = 126;
    head.writeUInt16BE(payloadLength, 2);
  } else {
    head = Buffer.allocUnsafe(10);
    head[1] = 127;
    head.writeUInt32BE(Math.floor(payloadLength / 2 ** 32), 2);
    head.writeUInt32BE(payloadLength >>> 0, 6);
  }
  head[0] = 0x80 | opcode;
  return head;
}
