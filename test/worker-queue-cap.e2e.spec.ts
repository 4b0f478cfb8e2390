/**
 * `businessWorker.maxQueuedEvents`: a worker process with a small cap and a slow handler, flooded
 * by a few clients with far more than the cap, stops reading its gateway link, resumes as it
 * catches up, keeps its RSS bounded, and loses nothing: every flood message and every message of a
 * control client is answered, in order. (The gateway is given a send buffer large enough to hold
 * the backlog; bounding that is the gateway's per-client budget, not the worker's job.)
 */
import type { INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapturingLogger, startGatewayOnly } from './support/cluster.js';
import { sleep, TextClient, waitFor } from './support/net.js';
import { rssOf, startNode } from './support/processes.js';
import type { GatewayServer } from '../lib/index.js';

const FLOODERS = 4;
const PER_FLOODER = 4000;
/** 16 KB lines: 256 MB of events in all, against a cap of 100 events. */
const PADDING = 'p'.repeat(16 * 1024);
const CAP = 100;


describe('a worker past maxQueuedEvents stops reading, resumes, and loses nothing', () => {
  const logger = new CapturingLogger();
  let apps: INestMicroservice[] = [];
  let gateway: GatewayServer;
  let worker: ReturnType<typeof startNode>;
  const clients: TextClient[] = [];

  beforeAll(async () => {
    const started = await startGatewayOnly(logger, { sendToWorkerBufferSize: 512 * 1024 * 1024 });
    apps = started.apps;
    gateway = started.gateway;
    worker = startNode('dist/test/fixtures/slow-worker/slow-worker.main.js', {
      FIXTURE_REGISTER: started.registerAddress,
      FIXTURE_MAX_QUEUED: String(CAP),
      FIXTURE_DELAY_MS: '1',
    });
    await waitFor(() => gateway.workerKeys.length === 1, 'the worker to connect', 20_000);
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await worker?.stop();
    for (const app of apps.reverse()) await app.close();
  }, 30_000);

  it(`${FLOODERS} clients flood ${PER_FLOODER} × 16 KB each at a 1 ms handler: RSS bounded, every message answered in order`, async () => {
    const port = gateway.publicPorts[0]!;
    const control = await TextClient.connect(port);
    clients.push(control);
    // Warm up (JIT, buffers), then take the baseline.
    for (let i = 0; i < 200; i++) control.send(`w${i} ${PADDING}`);
    for (let i = 0; i < 200; i++) expect(await control.next(10_000)).toBe(`ack w${i}`);
    const pid = worker.child.pid!;
    const baseline = rssOf(pid);

    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssOf(pid));
        await sleep(100);
      }
    })();

    const flooders: TextClient[] = [];
    for (let f = 0; f < FLOODERS; f++) flooders.push(await TextClient.connect(port));
    clients.push(...flooders);
    for (const c of flooders) {
      // As fast as the socket takes it: one write of everything.
      c.socket.write(Array.from({ length: PER_FLOODER }, (_, i) => `${i} ${PADDING}\r\n`).join(''));
    }
    // The control client keeps talking during the flood.
    let controlSent = 0;
    let flooding = true;
    const controlTraffic = (async () => {
      while (flooding) {
        control.send(`c${controlSent++}`);
        await sleep(100);
      }
    })();

    const started = Date.now();
    await waitFor(() => flooders.every((c) => c.messages.length >= PER_FLOODER), 'every flood message to be answered', 120_000);
    const seconds = (Date.now() - started) / 1000;
    flooding = false;
    await controlTraffic;
    await waitFor(() => control.messages.length >= 200 + controlSent, 'the control client to be answered', 20_000);
    sampling = false;
    await sampler;

    for (const c of flooders) expect(c.messages).toEqual(Array.from({ length: PER_FLOODER }, (_, i) => `ack ${i}`));
    expect(control.messages.slice(200)).toEqual(Array.from({ length: controlSent }, (_, i) => `ack c${i}`));
    const growth = peak - baseline;
    const flood = FLOODERS * PER_FLOODER * PADDING.length;
    console.info(`queue cap ${CAP}: ${(flood / 2 ** 20).toFixed(0)} MB flood handled in ${seconds.toFixed(1)} s; worker RSS ${(baseline / 2 ** 20).toFixed(1)} MB → peak ${(peak / 2 ** 20).toFixed(1)} MB`);
    // Bounded by the cap, not by the flood: without the cap the worker read the whole flood (256 MB)
    // and its RSS grew by 308 MB here; with it, by 35–64 MB (the garbage of the bytes passing through).
    expect(growth).toBeLessThan(100 * 2 ** 20);
    // The cap bit and was logged; reading resumed (everything was answered).
    expect(worker.output()).toContain(`${CAP} events queued (businessWorker.maxQueuedEvents)`);
  }, 180_000);
});
