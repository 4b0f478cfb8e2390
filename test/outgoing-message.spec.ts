import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { OutgoingMessage } from '../lib/gateway/outgoing-message.js';
import { FrameProtocol, TextProtocol } from '../lib/protocol/client-protocol.js';

/** ws's frame parser (exported by ws, not declared by @types/ws). */
interface FrameReceiver {
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = wsModule as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver };

/** Decodes server frames as a websocket client does (ws's own parser): `[isBinary, payload]` per message. */
function decodeFrames(bytes: Buffer | readonly Buffer[]): [boolean, Buffer][] {
  const receiver = new Receiver({ isServer: false });
  const out: [boolean, Buffer][] = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => out.push([isBinary, Buffer.from(data)]));
  receiver.on('error', (err: Error) => {
    throw err;
  });
  receiver.write(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes as Buffer[]));
  return out;
}

const join = (b: Buffer | readonly Buffer[]) => (Buffer.isBuffer(b) ? b : Buffer.concat(b as Buffer[]));

describe('OutgoingMessage framing', () => {
  // Not valid UTF-8: a browser closes with 1007 if this arrives in a text frame.
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]);

  it('frames a binary message with opcode 0x2 for websocket clients, and a text message with 0x1', () => {
    expect(decodeFrames(new OutgoingMessage(bytes, false, true).framedFor('websocket'))).toEqual([[true, bytes]]);
    expect(decodeFrames(new OutgoingMessage(Buffer.from('hé'), false, false).framedFor('websocket'))).toEqual([[false, Buffer.from('hé')]]);
    expect(decodeFrames(new OutgoingMessage(Buffer.from('hé')).framedFor('websocket'))).toEqual([[false, Buffer.from('hé')]]);
  });

  it('frames large binary messages (16-bit and 64-bit lengths, header and body as parts) with opcode 0x2', () => {
    for (const size of [126, 70_000]) {
      const body = Buffer.alloc(size, 0xfe);
      const framed = new OutgoingMessage(body, false, true).framedFor('websocket');
      expect(join(framed)[0]).toBe(0x82);
      expect(decodeFrames(framed)).toEqual([[true, body]]);
    }
  });

  it('gives text, frame and tcp clients the same bytes whether or not the message is binary', () => {
    for (const protocol of ['text', 'frame', 'tcp'] as const) {
      expect(join(new OutgoingMessage(bytes, false, true).framedFor(protocol))).toEqual(join(new OutgoingMessage(bytes, false, false).framedFor(protocol)));
    }
    expect(join(new OutgoingMessage(bytes, false, true).framedFor('text'))).toEqual(join(TextProtocol.encode(bytes)));
    expect(join(new OutgoingMessage(bytes, false, true).framedFor('frame'))).toEqual(join(FrameProtocol.encode(bytes)));
    expect(join(new OutgoingMessage(bytes, false, true).framedFor('tcp'))).toEqual(bytes);
  });

  it('writes raw messages as they are, binary or not', () => {
    expect(join(new OutgoingMessage(bytes, true, true).framedFor('websocket'))).toEqual(bytes);
  });
});
