import { DEFAULT_MAX_PACKAGE_SIZE } from './gateway-command.js';
import { LineReader } from './line.reader.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooLarge, packetTooShort } from '../gateway-worker.messages.js';

/** The client-facing protocols a gateway listener can speak (the scheme of its listen URI). */
export type ClientProtocolName = 'text' | 'frame' | 'tcp' | 'websocket';

/** Stream framing of a byte-stream client protocol (everything but websocket). */
export interface StreamClientProtocol {
  readonly name: Exclude<ClientProtocolName, 'websocket'>;
  /** Frames one outgoing message. */
  encode(message: Buffer): Buffer | Buffer[];
  /** A decoder for one connection: feeds chunks, emits whole messages, throws GatewayProtocolError. */
  createDecoder(maxPackageSize: number): StreamDecoder;
}

/** Feeds one chunk, calling `onMessage` per complete message; `pending` is the half-received rest. */
export interface StreamDecoder {
  (chunk: Buffer, onMessage: (message: Buffer) => void): void;
  /** Bytes of a message not yet complete. */
  readonly pending: number;
}

/** Wraps a push function and a pending-bytes reader into a {@link StreamDecoder}. */
function decoder(push: (chunk: Buffer, onMessage: (message: Buffer) => void) => void, pending: () => number): StreamDecoder {
  return Object.defineProperty(push, 'pending', { get: pending }) as StreamDecoder;
}

const NL = Buffer.from('\n');

/** `text://`: one message per line; encode appends `\n` (PROTOCOL.md §8.1). */
export const TextProtocol: StreamClientProtocol = {
  name: 'text',
  encode: (message) => [message, NL],
  createDecoder(maxPackageSize = DEFAULT_MAX_PACKAGE_SIZE) {
    const reader = new LineReader(maxPackageSize);
    return decoder((chunk, onMessage) => reader.push(chunk, onMessage), () => reader.bufferedBytes);
  },
};

/** `frame://`: uint32 BE total length (header included), then the payload (PROTOCOL.md §8.2). */
export const FrameProtocol: StreamClientProtocol = {
  name: 'frame',
  encode(message) {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(message.length + 4, 0);
    return [head, message];
  },
  createDecoder(maxPackageSize = DEFAULT_MAX_PACKAGE_SIZE) {
    let pending: Buffer | null = null;
    return decoder((chunk, onMessage) => {
      let buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let offset = 0;
      while (buf.length - offset >= 4) {
        const len = buf.readUInt32BE(offset);
        // Workerman waits forever on 0 and desynchronises on 1..3; refuse both instead.
        if (len < 4) throw new GatewayProtocolError(packetTooShort(len, 4));
        if (len > maxPackageSize) throw new GatewayProtocolError(packetTooLarge(len, maxPackageSize));
        if (buf.length - offset < len) break;
        onMessage(buf.subarray(offset + 4, offset + len));
        offset += len;
      }
      if (offset < buf.length) pending = Buffer.from(buf.subarray(offset));
    }, () => pending?.length ?? 0);
  },
};

/** `tcp://`: no framing at all, as workerman's plain TCP: every received chunk is one message. */
export const RawTcpProtocol: StreamClientProtocol = {
  name: 'tcp',
  encode: (message) => message,
  createDecoder() {
    return decoder((chunk, onMessage) => onMessage(chunk), () => 0);
  },
};
