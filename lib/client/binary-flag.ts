import { FLAG_BINARY } from '../protocol/extension-command.js';

/** Offset of the flag byte in the 28-byte GatewayProtocol header. */
const FLAG_OFFSET = 21;

/**
 * `packet` without {@link FLAG_BINARY}, for a gateway that may not speak the TypeScript extensions:
 * a PHP gateway must get the bytes PHP itself sends. Copies only when the flag is set.
 */
export function withoutBinaryFlag(packet: Buffer): Buffer {
  if ((packet[FLAG_OFFSET]! & FLAG_BINARY) === 0) return packet;
  const copy = Buffer.from(packet);
  copy[FLAG_OFFSET] = copy[FLAG_OFFSET]! & ~FLAG_BINARY;
  return copy;
}
