import type { INestMicroservice } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusinessWorkerServer, GatewayEvents, GatewayService, OnMessage, Payload } from '../lib/index.js';
import { connectWs } from './support/edge.js';
import { boot, CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, sleep, TextClient, waitFor, WsClient } from './support/net.js';
import { alive, rssOf as rss } from './support/processes.js';

const MAX = 10 * 1024 * 1024; // maxPackageSize's default

/** Answers every message with a prefix: a reply one prefix larger than the largest client message. */
@GatewayEvents()
class PrefixEcho {
  constructor(private readonly gateway: GatewayService) {}

  @OnMessage()
  async echo(@Payload() message: string): Promise<void> {
    if (message.length < 100) return void (await this.gateway.sendToCurrentClient(`said ${message}`));
    await this.gateway.sendToCurrentClient(`said ${message.length}:${message.slice(0, 8)}`);
    if (message.startsWith('huge')) await this.gateway.sendToCurrentClient(`said ${message}`);
  }
}

/** p-th percentile of a list of numbers. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('flow control: messages at the size limit never cut the shared worker link', () => {
  const apps: INestMicroservice[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
  });

  it('maximum-size messages over websocket and text, and replies larger than them, while a control client loses nothing', async () => {
    const logger = new CapturingLogger();
    const edge = await startGatewayOnly(logger, { listen: ['text://127.0.0.1:0', 'websocket://127.0.0.1:0'] });
    apps.push(...edge.apps);
    const worker = await boot({ ...edge.common, businessWorker: { name: 'Big' } }, 'business-worker', logger, [PrefixEcho]);
    apps.push(worker);
    await waitFor(() => edge.gateway.workerKeys.length === 1, 'the worker');
    const closedLinks: string[] = [];
    worker.get(BusinessWorkerServer).on('gatewayClosed', (a) => closedLinks.push(a));

    const control = await TextClient.connect(edge.gateway.publicPorts[0]!);
    let sent = 0;
    let on = true;
    const ticker = (async () => {
      while (on) {
        control.send(`c${sent++}`);
        await sleep(100);
      }
    })();

    const ws: WsClient = await connectWs(`ws://127.0.0.1:${edge.gateway.publicPorts[1]}`);
    const text = await TextClient.connect(edge.gateway.publicPorts[0]!);
    for (let round = 0; round < 3; round++) {
      // Exactly maxPackageSize over websocket; the reply names its length.
      ws.send('big' + 'w'.repeat(MAX - 3));
      expect(await ws.next(20_000)).toBe(`said ${MAX}:bigwwwww`);
      // A text line just under the limit (its "\r\n" makes it exactly MAX); the reply adds a prefix
      // and is larger than any client message.
      text.send('huge' + 't'.repeat(MAX - 6));
      expect(await text.next(20_000)).toBe(`said ${MAX - 2}:hugetttt`);
      const echoed = await text.next(20_000);
      expect(echoed.length).toBe(MAX - 2 + 5); // never compare the 10 MB strings themselves: a failure would print them
    }
    on = false;
    await ticker;
    await sleep(500);
    const got = control.drain();
    expect(got).toEqual(Array.from({ length: sent }, (_, i) => `said c${i}`));
    expect(closedLinks).toEqual([]);
    expect(edge.gateway.workerKeys).toHaveLength(1);
    expect(edge.gateway.counters.sendFailures).toBe(0);
    expect(edge.gateway.counters.eventsLost).toBe(0);
    ws.close();
    text.close();
    control.close();
  }, 120_000);
});

/**
 * A client flooding a slow handler, with real processes: the gateway stops reading that client
 * (TCP pushes back on it), the worker's memory stays flat, and a control client is served on time.
 */
describe('flow control: a flooding client is slowed down, not dropped, and costs no one else', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>>;
  let workerPid = 0;
  let gatewayPid = 0;
  const status = async () => JSON.parse((await cluster.cli('status', '--json')).out) as {
    processes: { tier: string; pid: number }[];
    cluster: { gateways: { lostEvents?: number; sendFailures: number; pausedClients?: number; limits?: Record<string, number> }[] } | null;
  };

  beforeAll(async () => {
    cluster = await fixtureCluster({ gateways: 1, workers: 1 }, { FIXTURE_HANDLER_DELAY: '10' });
    expect((await cluster.cli('start', '-d')).code).toBe(0);
    await greeted(() => TextClient.connect(cluster.textPort), 15_000).then(({ client }) => client.close());
    const s = await status();
    workerPid = s.processes.find((p) => p.tier === 'business-worker')!.pid;
    gatewayPid = s.processes.find((p) => p.tier === 'gateway')!.pid;
  }, 60_000);

  afterAll(async () => {
    const left = await status().catch(() => null);
    await cluster.cli('stop');
    for (const p of left?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }, 30_000);

  it('1 KB lines for 60 s at a handler that awaits 10 ms: worker RSS +<100 MB, control p99 < 500 ms, nothing lost', async () => {
    const flooder = await greeted(() => TextClient.connect(cluster.textPort));
    const control = await greeted(() => TextClient.connect(cluster.textPort));
    await sleep(1000);
    const rssBefore = rss(workerPid);
    const line = 'f'.repeat(1000);
    let flooded = 0;
    let on = true;
    // The flooder writes as fast as TCP lets it: when its socket's buffer is full, it waits.
    const flood = (async () => {
      const s = flooder.client.socket;
      while (on) {
        if (!s.write(`echo ${flooded++} ${line}\r\n`)) await new Promise((r) => s.once('drain', r));
      }
    })();
    const latencies: number[] = [];
    const sentAt: number[] = [];
    let controlSent = 0;
    control.client.socket.on('data', () => {
      for (const m of control.client.drain()) {
        const n = Number(m.split(' ')[3]); // "v1 echo c <n>"
        expect(n).toBe(latencies.length);
        latencies.push(Date.now() - sentAt[n]!);
      }
    });
    let maxRss = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      sentAt[controlSent] = Date.now();
      control.client.send(`echo c ${controlSent++}`);
      await sleep(100);
      maxRss = Math.max(maxRss, rss(workerPid));
    }
    on = false;
    flooder.client.socket.destroy(); // ends the flood (the pending 'drain' never comes otherwise)
    await Promise.race([flood, sleep(1000)]);
    await waitFor(() => latencies.length === controlSent, 'every control reply', 10_000);
    const s = await status();
    const gw = s.cluster!.gateways[0]!;
    // The flooder's events were delayed, never dropped: the gateway counted no failure and no loss,
    // and its replies (read by the client until it hung up) came in order without a gap.
    const replies = flooder.client.drain().map((m) => Number(m.split(' ')[2])); // "v1 echo <n> fff…"
    expect(replies.length).toBeGreaterThan(1000);
    expect(replies).toEqual(Array.from({ length: replies.length }, (_, i) => i));
    expect(flooded).toBeGreaterThan(replies.length + 1000); // the rest was held back by TCP, not buffered
    expect(gw.sendFailures).toBe(0);
    expect(gw.lostEvents ?? 0).toBe(0);
    expect(gw.limits?.flowControlPause ?? 0).toBeGreaterThan(0);
    const p99 = percentile(latencies, 99);
    console.log(`flood: worker RSS ${(rssBefore / 1e6).toFixed(1)} → max ${(maxRss / 1e6).toFixed(1)} MB, gateway RSS ${(rss(gatewayPid) / 1e6).toFixed(1)} MB; ` +
      `control ${latencies.length} replies, p50 ${percentile(latencies, 50)} ms, p99 ${p99} ms; flooder ${replies.length} handled of ${flooded} written`);
    expect(maxRss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(p99).toBeLessThan(500);
    control.client.close();
  }, 120_000);
});
