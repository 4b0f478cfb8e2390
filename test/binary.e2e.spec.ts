import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayEvents, GatewayService, OnMessage, Payload } from '../lib/index.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { sleep, waitFor } from './support/net.js';

/** Not valid UTF-8: a websocket client closes with 1007 if these bytes come in a text frame. */
const BYTES = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x01]);

/** PHP-style: a Buffer payload is echoed (returned) and broadcast. */
@GatewayEvents()
class BinaryEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnMessage()
  async onMessage(@Payload() message: string | Buffer): Promise<Buffer | string | undefined> {
    if (message === 'broadcast') {
      await this.gateway.sendToAll(BYTES);
      return undefined;
    }
    // A binary frame arrives as a Buffer: send it back (the return value goes to the client).
    return Buffer.isBuffer(message) ? Buffer.concat([Buffer.from('echo:'), message]) : `text ${message}`;
  }
}

/** Nest-style: a routed handler's Buffer goes out as a binary frame. */
@WebSocketGateway()
class BinaryGateway {
  @SubscribeMessage('bytes')
  bytes(@MessageBody() n: number): Buffer {
    return Buffer.alloc(n, 0xfe);
  }
}

/** Collects a websocket client's messages with their frame type. */
async function wsClient(url: string): Promise<{ ws: WebSocket; got: { binary: boolean; data: Buffer }[]; closeCode: () => number | null }> {
  const ws = new WebSocket(url);
  const got: { binary: boolean; data: Buffer }[] = [];
  let code: number | null = null;
  ws.on('message', (data: Buffer, binary: boolean) => got.push({ binary, data: Buffer.from(data) }));
  ws.on('close', (c) => (code = c));
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, got, closeCode: () => code };
}

/** Collects raw bytes of a stream client. */
async function rawClient(port: number): Promise<{ socket: Socket; bytes: () => Buffer }> {
  const socket = connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, bytes: () => Buffer.concat(chunks) };
}

/**
 * Binary end to end. It needs three parts together: the gateway reading FLAG_BINARY from
 * CMD_ON_MESSAGE / the send commands and passing it to OutgoingMessage (gateway tier),
 * GatewayService setting it for Buffer messages and the event context giving a binary frame as a
 * Buffer (worker tier), and the framing in OutgoingMessage (covered alone by
 * outgoing-message.spec.ts). Enabled once all three are merged.
 */
describe('binary messages end to end', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      lanIps: ['127.0.0.1'],
      listen: (ip) => [`websocket://${ip}:0`, `text://${ip}:0`, `frame://${ip}:0`],
      workers: 1,
      providers: [BinaryEvents, BinaryGateway],
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('a Buffer broadcast reaches websocket clients in a binary frame, text and frame clients with their framing', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${cluster.port(0, 0)}`);
    const text = await rawClient(cluster.port(0, 1));
    const frame = await rawClient(cluster.port(0, 2));
    await waitFor(async () => (await cluster.service().getAllClientCount()) === 3, 'the three clients', 5000);
    ws.ws.send('broadcast');
    await waitFor(() => ws.got.length === 1 && text.bytes().length >= BYTES.length + 1 && frame.bytes().length >= BYTES.length + 4, 'the broadcast', 5000);
    expect(ws.got).toEqual([{ binary: true, data: BYTES }]);
    expect(text.bytes()).toEqual(Buffer.concat([BYTES, Buffer.from('\n')]));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(BYTES.length + 4);
    expect(frame.bytes()).toEqual(Buffer.concat([header, BYTES]));
    expect(ws.closeCode()).toBeNull();
    ws.ws.close();
    text.socket.destroy();
    frame.socket.destroy();
  });

  it('a binary frame in is a Buffer in @Payload(); a Buffer return value goes out in a binary frame', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${cluster.port(0, 0)}`);
    ws.ws.send(BYTES, { binary: true });
    ws.ws.send('plain');
    await waitFor(() => ws.got.length >= 2, 'the replies', 5000);
    expect(ws.got.slice(0, 2)).toEqual([
      { binary: true, data: Buffer.concat([Buffer.from('echo:'), BYTES]) },
      { binary: false, data: Buffer.from('text plain') },
    ]);
    ws.ws.close();
  });

  it('a @SubscribeMessage handler returning a Buffer sends a binary frame', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${cluster.port(0, 0)}`);
    ws.ws.send(JSON.stringify({ event: 'bytes', data: 3 }));
    await waitFor(() => ws.got.length >= 1, 'the reply', 5000);
    await sleep(50);
    expect(ws.got).toEqual([{ binary: true, data: Buffer.from([0xfe, 0xfe, 0xfe]) }]);
    expect(ws.closeCode()).toBeNull();
    ws.ws.close();
  });
});
