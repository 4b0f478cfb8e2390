import type { INestMicroservice } from '@nestjs/common';
import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer } from '../lib/index.js';
import { boot, CapturingLogger } from './support/cluster.js';
import { freePort, greeted, sleep, waitFor, WsClient } from './support/net.js';
import { testProviders } from './support/test-events.js';

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A masked client frame (RFC 6455), possibly with bad flags, for mutation. */
function frame(opcode: number, payload: Uint8Array, fin: boolean, rsv: number): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | (rsv << 4) | opcode, 0x80 | len]) : Buffer.from([(fin ? 0x80 : 0) | (rsv << 4) | opcode, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

/**
 * Hostile websocket input after a valid handshake — random bytes, and frames with random opcodes,
 * flags, lengths and cuts: the gateway closes the connection or carries on, and never stops
 * serving the others.
 */
describe('websocket framing fuzz', () => {
  const logger = new CapturingLogger();
  const apps: INestMicroservice[] = [];
  let port: number;

  beforeAll(async () => {
    const registerAddress = `127.0.0.1:${await freePort()}`;
    apps.push(await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger));
    apps.push(await boot({ registerAddress, maxPackageSize: 4096, gateway: { listen: 'websocket://127.0.0.1:0', startPort: 0, stalledFrameTimeout: 500 } }, 'gateway', logger));
    apps.push(await boot({ registerAddress, businessWorker: { name: 'F' } }, 'business-worker', logger, testProviders));
    const g = apps[1]!.get(GatewayServer);
    await waitFor(() => g.workerKeys.length === 1, 'the worker');
    port = g.publicPorts[0]!;
  }, 20_000);

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
  });

  const send = (bytes: Buffer) =>
    new Promise<void>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => undefined);
      s.resume();
      s.on('connect', () => {
        s.write(UPGRADE);
        s.write(bytes);
        // Give the gateway a moment with it, then leave (or be closed).
        setTimeout(() => s.destroy(), 20);
      });
      s.on('close', () => resolve());
    });

  it('survives random bytes and mutated frames, and keeps serving a well-behaved client', async () => {
    const { client } = await greeted(() => WsClient.connect(`ws://127.0.0.1:${port}`));
    const arbitraryFrame = fc
      .record({
        opcode: fc.integer({ min: 0, max: 15 }),
        payload: fc.uint8Array({ maxLength: 300 }),
        fin: fc.boolean(),
        rsv: fc.integer({ min: 0, max: 7 }),
        cut: fc.nat(),
      })
      .map(({ opcode, payload, fin, rsv, cut }) => {
        const f = frame(opcode, payload, fin, rsv);
        return f.subarray(0, cut % (f.length + 1));
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)), fc.array(arbitraryFrame, { maxLength: 4 }).map((fs) => Buffer.concat(fs))), async (bytes) => {
        await send(bytes);
      }),
      { numRuns: 300 },
    );
    // An oversized frame header (a 64-bit length) is refused without buffering it.
    await send(Buffer.from([0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]));
    await sleep(200);
    client.send('echo still serving');
    expect(await client.next(3000)).toBe('still serving');
    expect(apps[1]!.get(GatewayServer).isListening).toBe(true);
    client.close();
  }, 60_000);
});
