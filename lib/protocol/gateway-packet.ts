import { FLAG_BODY_IS_SCALAR, HEAD_LEN } from './gateway-command.js';
import { phpSerialize, phpUnserialize } from './php-serialize.js';
import { phpStringCast } from './php-string-cast.js';

/**
 * One GatewayProtocol packet (docs/protocol.md §2.1). Numeric fields the sender does not use are 0,
 * `extData` and `body` are raw bytes.
 */
export interface GatewayPacket {
  cmd: number;
  localIp: number;
  localPort: number;
  clientIp: number;
  clientPort: number;
  connectionId: number;
  flag: number;
  gatewayPort: number;
  extData: Buffer;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Fields of a packet; everything but `cmd` defaults to 0 / empty, as PHP's template does. */
export type GatewayPacketInit = Partial<GatewayPacket> & { cmd: number };

/**
 * Encodes a packet into one Buffer: `N C N n N n N C n N` header, ext_data, body.
 * `pack_len` and `ext_len` are computed here.
 */
export function encodeGatewayPacket(p: GatewayPacketInit): Buffer {
  const ext = p.extData ?? EMPTY;
  const body = p.body ?? EMPTY;
  const len = HEAD_LEN + ext.length + body.length;
  const buf = Buffer.allocUnsafe(len);
  writeHeader(buf, p, len, ext.length);
  ext.copy(buf, HEAD_LEN);
  body.copy(buf, HEAD_LEN + ext.length);
  return buf;
}

/** Writes the 28-byte header of `p` at the start of `buf` (`buf` must hold at least 28 bytes). */
export function writeHeader(buf: Buffer, p: Partial<GatewayPacket>, packLen: number, extLen: number): void {
  buf.writeUInt32BE(packLen, 0);
  buf[4] = p.cmd ?? 0;
  buf.writeUInt32BE(p.localIp ?? 0, 5);
  buf.writeUInt16BE(p.localPort ?? 0, 9);
  buf.writeUInt32BE(p.clientIp ?? 0, 11);
  buf.writeUInt16BE(p.clientPort ?? 0, 15);
  buf.writeUInt32BE(p.connectionId ?? 0, 17);
  buf[21] = p.flag ?? 0;
  buf.writeUInt16BE(p.gatewayPort ?? 0, 22);
  buf.writeUInt32BE(extLen, 24);
}

/**
 * Decodes one complete packet (`buf.length` must equal its `pack_len`). `extData` and `body` are
 * views into `buf`, not copies. An `ext_len` larger than the packet is clamped, as PHP does.
 */
export function decodeGatewayPacket(buf: Buffer): GatewayPacket {
  const packLen = buf.length;
  const extLen = Math.min(buf.readUInt32BE(24), packLen - HEAD_LEN);
  return {
    cmd: buf[4]!,
    localIp: buf.readUInt32BE(5),
    localPort: buf.readUInt16BE(9),
    clientIp: buf.readUInt32BE(11),
    clientPort: buf.readUInt16BE(15),
    connectionId: buf.readUInt32BE(17),
    flag: buf[21]!,
    gatewayPort: buf.readUInt16BE(22),
    extData: buf.subarray(HEAD_LEN, HEAD_LEN + extLen),
    body: buf.subarray(HEAD_LEN + extLen, packLen),
  };
}

/**
 * Turns a message into a packet body and its flag bit, by docs/protocol.md §2.3: strings and Buffers
 * go as raw bytes with `FLAG_BODY_IS_SCALAR`; numbers and booleans as PHP's string cast of them;
 * anything structured (objects, arrays, null) as PHP serialize with the bit clear.
 */
export function encodeBody(message: unknown): { body: Buffer; flag: number } {
  if (typeof message === 'string') return { body: Buffer.from(message), flag: FLAG_BODY_IS_SCALAR };
  if (Buffer.isBuffer(message)) return { body: message, flag: FLAG_BODY_IS_SCALAR };
  if (message instanceof Uint8Array) return { body: Buffer.from(message), flag: FLAG_BODY_IS_SCALAR };
  if (typeof message === 'number' || typeof message === 'bigint' || typeof message === 'boolean') {
    return { body: Buffer.from(phpStringCast(message)), flag: FLAG_BODY_IS_SCALAR };
  }
  return { body: phpSerialize(message ?? null), flag: 0 };
}

/**
 * Reads a packet body: raw bytes when `FLAG_BODY_IS_SCALAR` is set, otherwise the unserialized
 * PHP value. A body that fails to unserialize gives `false`, like PHP's `unserialize`.
 */
export function decodeBody(packet: GatewayPacket): unknown {
  if (packet.flag & FLAG_BODY_IS_SCALAR) return packet.body;
  try {
    return phpUnserialize(packet.body);
  } catch {
    return false;
  }
}
