import type { INestMicroservice } from '@nestjs/common';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayService } from '../lib/index.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { greeted, sleep, TextClient, waitFor } from './support/net.js';
import { testProviders } from './support/test-events.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Register + one gateway + one worker in this process, with the given gateway/worker options. */
async function cluster(logger: CapturingLogger, gateway: Record<string, unknown> = {}, worker: Record<string, unknown> = {}) {
  const edge = await startGatewayOnly(logger, { listen: ['text://0.0.0.0:0', 'frame://127.0.0.1:0', 'websocket://127.0.0.1:0'], ...gateway });
  const apps: INestMicroservice[] = [...edge.apps];
  apps.push(await boot({ ...edge.common, businessWorker: { name: 'R', ...worker } }, 'business-worker', logger, testProviders));
  await waitFor(() => edge.gateway.workerKeys.length === 1, 'the worker');
  return { apps, gateway: edge.gateway, service: apps[2]!.get(GatewayService) };
}

describe('reliability: slow readers, stalled frames, connection limits, hanging handlers, churn', () => {
  const apps: INestMicroservice[] = [];
  const clients: TextClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  it('bounds what a client that does not read can make the gateway buffer (policy drop), and others keep receiving', async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger);
    apps.push(...c.apps);
    const slow = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    const fine = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    clients.push(slow.client, fine.client);
    slow.client.socket.pause();
    const chunk = 'x'.repeat(10_000);
    for (let i = 0; i < 900; i++) await c.service.sendToClient(slow.id, chunk); // 9 MB (below the worker link's 10 MB cap)
    await c.service.sendToClient(fine.id, 'still served');
    expect(await fine.client.next(5000)).toBe('still served');
    await sleep(200);
    const conn = c.gateway.tables.clients.get(parseInt(slow.id.slice(12), 16))!;
    // Never more than the limit (1,024,000) plus the message that crossed it.
    expect(conn.socket.writableLength).toBeLessThanOrEqual(1_024_000 + 10_001);
    expect(conn.dropped).toBeGreaterThan(100);
    expect(c.gateway.counters.sendFailures).toBe(conn.dropped);
    expect(slow.client.closed).toBe(false);
  });

  it("closes a client that does not read with slowClientPolicy 'close', logging why", async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger, { slowClientPolicy: 'close', sendToClientBufferSize: 100_000 });
    apps.push(...c.apps);
    const slow = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    clients.push(slow.client);
    slow.client.socket.pause();
    for (let i = 0; i < 2000; i++) await c.service.sendToClient(slow.id, 'y'.repeat(10_000));
    await waitFor(() => logger.find('warn', `client ${slow.id} reads too slowly`).length === 1, 'the slow client to be closed');
    await waitFor(async () => !(await c.service.isOnline(slow.id)), 'the client to be gone');
  });

  it('closes text/frame and websocket clients and an internal link that leave a frame half-sent (stalledFrameTimeout), nothing else', async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger, { stalledFrameTimeout: 300 });
    apps.push(...c.apps);
    const fine = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    clients.push(fine.client);
    const half = connect({ port: c.gateway.publicPorts[1]!, host: '127.0.0.1' });
    half.on('error', () => undefined);
    half.resume(); // read, so the close is noticed
    await new Promise((r) => half.once('connect', r));
    half.write(Buffer.from('00000064' + '61'.repeat(10), 'hex')); // a frame of 100 bytes, 14 sent
    const inner = connect({ port: c.gateway.lanPort, host: '127.0.0.1' });
    inner.on('error', () => undefined);
    inner.resume();
    await new Promise((r) => inner.once('connect', r));
    inner.write(Buffer.from('0000003c' + '00'.repeat(16), 'hex')); // 20 bytes of a 60-byte packet
    const ws = connect({ port: c.gateway.publicPorts[2]!, host: '127.0.0.1' });
    ws.on('error', () => undefined);
    ws.resume();
    await new Promise((r) => ws.once('connect', r));
    ws.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await sleep(100);
    ws.write(Buffer.from('818501020304', 'hex')); // a masked 5-byte text frame, payload missing
    const t0 = Date.now();
    const closed = (s: typeof half) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
    await waitFor(() => half.destroyed && inner.destroyed && ws.destroyed, 'all three to be closed', 3000);
    await Promise.all([closed(half), closed(inner), closed(ws)]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(2500);
    // Counted each time; logged at most once per peer address per interval (the two clients share 127.0.0.1).
    expect(c.gateway.counters.limits.stalledFrame).toBe(3);
    expect(logger.find('warn', 'left a frame half-sent for more than 300 ms').length).toBeGreaterThanOrEqual(2);
    fine.client.send('echo unaffected');
    expect(await fine.client.next()).toBe('unaffected');
  });

  it('refuses connections beyond maxConnectionsPerIp from one address, not from others', async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger, { maxConnectionsPerIp: 3 });
    apps.push(...c.apps);
    const port = c.gateway.publicPorts[0]!;
    for (let i = 0; i < 3; i++) clients.push((await greeted(() => TextClient.connect(port))).client);
    const fourth = await TextClient.connect(port);
    await fourth.waitClosed(2000);
    expect(logger.find('warn', '127.0.0.1 already has 3 connections').length).toBe(1);
    const other = await greeted(() => TextClient.connect(port, '127.0.0.2', '127.0.0.2'));
    clients.push(other.client);
    clients[0]!.close();
    await sleep(100);
    clients.push((await greeted(() => TextClient.connect(port))).client);
  });

  it('lets a client move on after a handler hangs (eventTimeout); other clients are never blocked', async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger, {}, { eventTimeout: 300 });
    apps.push(...c.apps);
    const a = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    const b = await greeted(() => TextClient.connect(c.gateway.publicPorts[0]!));
    clients.push(a.client, b.client);
    const t0 = Date.now();
    a.client.send('hang');
    a.client.send('echo after the hang');
    b.client.send('echo meanwhile');
    expect(await b.client.next()).toBe('meanwhile');
    expect(Date.now() - t0).toBeLessThan(250);
    expect(await a.client.next(3000)).toBe('after the hang');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(logger.find('warn', 'TestEvents.onMessage for client').join()).toContain('has not settled after 300 ms');
  });

  it('10,000 connects and disconnects with uids, groups and sessions leave every table empty and the heap flat', async () => {
    const logger = new CapturingLogger();
    const c = await cluster(logger);
    apps.push(...c.apps);
    const port = c.gateway.publicPorts[0]!;
    const round = async (n: number) => {
      const batch = 200;
      for (let i = 0; i < n; i += batch) {
        await Promise.all(
          Array.from({ length: Math.min(batch, n - i) }, async (_, j) => {
            const { client } = await greeted(() => TextClient.connect(port), 10_000);
            client.send(`join ${(i + j) % 50}`);
            await client.until((m) => m === 'joined', 10_000);
            client.close();
            await client.waitClosed(10_000);
          }),
        );
      }
      await waitFor(() => c.gateway.tables.clients.size === 0, 'the gateway to forget every client', 10_000);
    };
    await round(2000); // warm-up: JIT, pools, maps at their working size
    gc();
    const before = process.memoryUsage().heapUsed;
    await round(8000);
    await sleep(100);
    gc();
    const after = process.memoryUsage().heapUsed;
    const t = c.gateway.tables;
    expect([t.clients.size, t.uids.size, t.groups.size]).toEqual([0, 0, 0]);
    expect(c.gateway.waiting.clients).toBe(0);
    // Flat: under 100 bytes per connection made (a leak of one session string, closure or map entry each would exceed it).
    expect(after - before).toBeLessThan(8_000 * 100);
  }, 180_000);
});
