import type { INestMicroservice } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { GatewayWorkerMetrics } from '../lib/index.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { freePort, greeted, sleep, TextClient, waitFor } from './support/net.js';
import { testProviders } from './support/test-events.js';

describe('operations: waiting for workers, metrics, diagnostics', () => {
  const apps: INestMicroservice[] = [];
  const clients: TextClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  it('holds a client\'s events while no worker is connected and delivers them in order when one comes', async () => {
    const logger = new CapturingLogger();
    const g = await startGatewayOnly(logger);
    apps.push(...g.apps);
    const client = await TextClient.connect(g.gateway.publicPorts[0]!);
    clients.push(client);
    for (let i = 0; i < 5; i++) client.send(`echo ${i}`);
    await sleep(300);
    expect(client.closed).toBe(false);
    expect(client.messages).toEqual([]);
    expect(g.gateway.waiting.clients).toBe(1);
    apps.push(await boot({ ...g.common, businessWorker: { name: 'Late' } }, 'business-worker', logger, testProviders));
    expect(await client.next(5000)).toMatch(/^Hello [0-9a-f]{20}$/);
    for (let i = 0; i < 5; i++) expect(await client.next()).toBe(String(i));
    // Only the connect waited: the client was not read meanwhile, so its messages came after.
    expect(g.gateway.waiting).toMatchObject({ clients: 0, delivered: 1 });
  });

  it("closes a client whose events waited longer than workerWaitWindow (policy 'close'), logging it", async () => {
    const logger = new CapturingLogger();
    const g = await startGatewayOnly(logger, { workerWaitWindow: 300 });
    apps.push(...g.apps);
    const client = await TextClient.connect(g.gateway.publicPorts[0]!);
    clients.push(client);
    const t0 = Date.now();
    await client.waitClosed(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(logger.find('warn', 'no worker took its events within 300 ms; 1 waiting event(s) dropped and the client closed')).toHaveLength(1);
  });

  it("drops the waiting events but keeps the client with policy 'drop'; workerWaitWindow 0 closes at once as in PHP", async () => {
    const logger = new CapturingLogger();
    const g = await startGatewayOnly(logger, { workerWaitWindow: 300, workerWaitPolicy: 'drop' });
    apps.push(...g.apps);
    const client = await TextClient.connect(g.gateway.publicPorts[0]!);
    clients.push(client);
    client.send('echo lost');
    // The client is not read while its connect waits: the message is read (and waits, and is
    // dropped) only after the first drop resumed it.
    await waitFor(() => g.gateway.waiting.expired === 2, 'both events to be dropped', 5000);
    expect(logger.find('warn', "1 waiting event(s) dropped (workerWaitPolicy 'drop')")).toHaveLength(2);
    expect(client.closed).toBe(false);

    const php = await startGatewayOnly(logger, { workerWaitWindow: 0 });
    apps.push(...php.apps);
    const c2 = await TextClient.connect(php.gateway.publicPorts[0]!);
    clients.push(c2);
    await c2.waitClosed(1000);
  });

  it('stops reading a client whose events wait for a worker (backpressure, not a buffer), and loses none of them', async () => {
    const logger = new CapturingLogger();
    const g = await startGatewayOnly(logger);
    apps.push(...g.apps);
    const flooder = await TextClient.connect(g.gateway.publicPorts[0]!);
    const control = await TextClient.connect(g.gateway.publicPorts[0]!);
    clients.push(flooder, control);
    // 2,000 lines of 1 KB: far more than one read; the gateway holds at most what one read brought.
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 2000; i++) flooder.send(`echo ${i} ${line}`);
    control.send('echo control');
    await sleep(500);
    expect(g.gateway.pausedClients).toBe(2);
    expect(g.gateway.waiting.bytes).toBeLessThan(256 * 1024);
    apps.push(await boot({ ...g.common, businessWorker: { name: 'Late' } }, 'business-worker', logger, testProviders));
    expect(await control.next(5000)).toMatch(/^Hello /);
    expect(await control.next(5000)).toBe('control');
    expect(await flooder.next(5000)).toMatch(/^Hello /);
    for (let i = 0; i < 2000; i++) expect(await flooder.next(5000)).toBe(`${i} ${line}`);
    expect(g.gateway.waiting.clients).toBe(0);
    expect(g.gateway.pausedClients).toBe(0);
    expect(g.gateway.counters.sendFailures).toBe(0);
  });

  it('serves Prometheus metrics on an opt-in port: connections, messages, events and their duration', async () => {
    const logger = new CapturingLogger();
    const g = await startGatewayOnly(logger, {}, { metrics: { port: 0, host: '127.0.0.1' } });
    apps.push(...g.apps);
    const worker = await boot({ ...g.common, metrics: { port: 0, host: '127.0.0.1' }, businessWorker: { name: 'M' } }, 'business-worker', logger, testProviders);
    apps.push(worker);
    const { client } = await greeted(() => TextClient.connect(g.gateway.publicPorts[0]!));
    clients.push(client);
    client.send('echo one');
    client.send('echo two');
    expect(await client.next()).toBe('one');
    expect(await client.next()).toBe('two');
    // A limit that bites is counted by name: an authenticated peer sends a packet over innerMaxPackageSize.
    const peer = connect({ port: g.gateway.lanPort, host: '127.0.0.1' });
    peer.on('error', () => undefined);
    const header = Buffer.alloc(28);
    header.writeUInt32BE(0x7fffffff, 0);
    header[4] = GatewayCommand.SEND_TO_ALL;
    peer.write(Buffer.concat([encodeGatewayPacket({ cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from('{"secret_key":""}') }), header]));
    await waitFor(() => g.gateway.counters.limits.innerPacketTooLarge === 1, 'the oversized packet to be counted');
    peer.destroy();
    const gatewayMetrics = await (await fetch(`http://127.0.0.1:${g.apps[1]!.get(GatewayWorkerMetrics).port}/metrics`)).text();
    expect(gatewayMetrics).toContain('gateway_worker_limit_hits_total{tier="gateway",limit="innerPacketTooLarge"} 1');
    expect(gatewayMetrics).toContain('gateway_worker_paused_clients 0');
    expect(gatewayMetrics).toContain('gateway_worker_connections{tier="gateway"} 1');
    expect(gatewayMetrics).toContain('gateway_worker_messages_in_total{tier="gateway"} 2');
    expect(gatewayMetrics).toContain('gateway_worker_messages_out_total{tier="gateway"} 3');
    const workerMetrics = await (await fetch(`http://127.0.0.1:${worker.get(GatewayWorkerMetrics).port}/metrics`)).text();
    expect(workerMetrics).toContain('gateway_worker_events_handled_total{tier="business-worker"} 3');
    expect(workerMetrics).toContain('gateway_worker_event_duration_seconds_count{event="message"} 2');
    expect(workerMetrics).toContain('gateway_worker_connections{tier="business-worker"} 1');
    expect((await fetch(`http://127.0.0.1:${worker.get(GatewayWorkerMetrics).port}/other`)).status).toBe(404);
  });

  it('warns when a worker has found no gateway after a while, saying what the Register reported', async () => {
    const logger = new CapturingLogger();
    const registerAddress = `127.0.0.1:${await freePort()}`;
    apps.push(await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger));
    apps.push(await boot({ registerAddress, businessWorker: { name: 'Lonely', noGatewayWarning: 200 } }, 'business-worker', logger, testProviders));
    await waitFor(() => logger.find('warn', 'BusinessWorker Lonely:0 has found no gateway after').length > 0, 'the warning', 3000);
    expect(logger.find('warn', 'has found no gateway')[0]).toContain(`no Register (${registerAddress}) has announced a gateway`);
  });
});
