import { DEFAULT_MAX_PACKAGE_SIZE } from './gateway-command.js';
import { LineReader } from './line.reader.js';
import { GatewayProtocolError } from '../errors/gateway-protocol.error.js';
import { packetTooShort } from '../gateway-worker.messages.js';
import { LengthPrefixedReader } from './length-prefixed.reader.js';

/**
 * The client-facing protocols a gateway listener can speak (the scheme of its listen URI).
 *
 * @publicApi
 */
export type ClientProtocolName = 'text' | 'frame' | 'tcp' | 'websocket';

/** Stream framing of a byte-stream client protocol (everything but websocket). */
export interface StreamClientProtocol {
  readonly name: Exclude<ClientProtocolName, 'websocket'>;
  /** Frames one outgoing message. */
  encode(message: Buffer): Buffer | Buffer[];
  /** A decoder for one connection: feeds chunks, emits whole messages, throws GatewayProtocolError. */
  createDecoder(maxPackageSize: number): StreamDecoder;
}

/**
 * The decoder of one connection: `push` feeds a chunk and calls `onMessage` per complete message
 * (throwing GatewayProtocolError on bad framing); `pending` is the half-received rest. An object
 * with methods on its prototype: a gateway holds one per connection, tens of thousands of them.
 */
export interface StreamDecoder {
  push(chunk: Buffer, onMessage: (message: Buffer) => void): void;
  /** Bytes of a message not yet complete. */
  readonly pending: number;
}

/**
 * `frame://` decoding: uint32 BE total length (header included), then the payload; linear in the
 * bytes received however a frame is split (LengthPrefixedReader). A length over the limit throws
 * as soon as it is read.
 */
class FrameDecoder extends LengthPrefixedReader implements StreamDecoder {
  constructor(maxPackageSize: number) {
    super(maxPackageSize, 4, 4);
  }

  get pending(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    this.feed(chunk, onMessage);
  }

  protected totalLength(buf: Buffer, offset: number): number {
    const len = buf.readUInt32BE(offset);
    // Workerman waits forever on 0 and desynchronises on 1..3; refuse both instead.
    if (len < 4) throw new GatewayProtocolError(packetTooShort(len, 4));
    return len;
  }
}

/** `tcp://` decoding: every chunk is a message; stateless, so one instance serves every connection. */
const RAW_DECODER: StreamDecoder = { push: (chunk, onMessage) => onMessage(chunk), pending: 0 };

const NL = Buffer.from('\n');

/** `text://`: one message per line; encode appends `\n` (docs/protocol.md §8.1). */
export const TextProtocol: StreamClientProtocol = {
  name: 'text',
  encode: (message) => [message, NL],
  createDecoder(maxPackageSize = DEFAULT_MAX_PACKAGE_SIZE) {
    return new LineReader(maxPackageSize);
  },
};

/** `frame://`: uint32 BE total length (header included), then the payload (docs/protocol.md §8.2). */
export const FrameProtocol: StreamClientProtocol = {
  name: 'frame',
  encode(message) {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(message.length + 4, 0);
    return [head, message];
  },
  createDecoder(maxPackageSize = DEFAULT_MAX_PACKAGE_SIZE) {
    return new FrameDecoder(maxPackageSize);
  },
};

/** `tcp://`: no framing at all, as workerman's plain TCP: every received chunk is one message. */
export const RawTcpProtocol: StreamClientProtocol = {
  name: 'tcp',
  encode: (message) => message,
  createDecoder() {
    return RAW_DECODER;
  },
};
