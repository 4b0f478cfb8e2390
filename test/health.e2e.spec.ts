import { Injectable, type BeforeApplicationShutdown, type INestMicroservice } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { NestFactory } from '@nestjs/core';
import { BusinessWorkerServer, GatewayServer, GatewayWorkerMetrics, RegisterServer } from '../lib/index.js';
import { boot, CapturingLogger, tierModule } from './support/cluster.js';
import { freePort, sleep, waitFor } from './support/net.js';

interface Answer {
  status: number;
  body: { status: string; tiers?: Record<string, { ready: boolean; gateways?: number; state?: string }>; eventLoopDelayMs?: number };
}

/** GET an endpoint of a health port; `null` when nothing answers there. */
async function get(port: number, path: '/healthz' | '/readyz'): Promise<Answer | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  } catch {
    return null;
  }
}

/** Keeps shutdown going for a while after the tiers are told to stop, as a preStop delay does. */
@Injectable()
class SlowShutdown implements BeforeApplicationShutdown {
  async beforeApplicationShutdown(): Promise<void> {
    await sleep(800);
  }
}

describe('health checks: /healthz and /readyz through a tier\'s life', () => {
  const apps: INestMicroservice[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close().catch(() => undefined);
  });

  it('worker: not ready until it reaches a gateway, not ready while its only gateway is gone, not ready while stopping; live throughout', async () => {
    const logger = new CapturingLogger();
    const registerAddress = `127.0.0.1:${await freePort()}`;
    const health = { port: 0, host: '127.0.0.1' };
    const common = { registerAddress, health };
    const portOf = (app: INestMicroservice) => app.get(GatewayWorkerMetrics).healthPort;

    // The worker starts first: the Register and gateway are not there yet.
    const worker = await boot({ ...common, businessWorker: { name: 'Probed' } }, 'business-worker', logger, [SlowShutdown]);
    apps.push(worker);
    const wp = portOf(worker);
    expect(wp).toBeGreaterThan(0);
    expect(await get(wp, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(wp, '/readyz')).toMatchObject({ status: 503, body: { status: 'not ready', tiers: { 'business-worker': { ready: false, gateways: 0 } } } });

    const register = await boot({ ...common, register: { listen: registerAddress } }, 'register', logger);
    apps.unshift(register);
    expect(await get(portOf(register), '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', tiers: { register: { ready: true } } } });

    const gatewayOptions = { ...common, gateway: { listen: 'text://127.0.0.1:0', startPort: 0 } };
    let gateway = await boot(gatewayOptions, 'gateway', logger);
    const gp = portOf(gateway);
    const gatewayReady = await get(gp, '/readyz');
    expect(gatewayReady).toMatchObject({ status: 200, body: { tiers: { gateway: { ready: true } } } });
    const server = gateway.get(GatewayServer) as unknown as { isRegistered?: boolean };
    expect((gatewayReady!.body.tiers!.gateway as unknown as { registered: boolean }).registered).toBe(server.isRegistered ?? true);

    await waitFor(async () => (await get(wp, '/readyz'))?.status === 200, 'the worker to be ready', 10_000);
    expect((await get(wp, '/readyz'))!.body).toMatchObject({ status: 'ready', tiers: { 'business-worker': { ready: true, gateways: 1, state: 'running' } } });

    // Its only gateway goes away: the worker is alive but cannot serve.
    await gateway.close();
    await waitFor(async () => (await get(wp, '/readyz'))?.status === 503, 'the worker to turn not ready', 10_000);
    expect((await get(wp, '/readyz'))!.body.tiers!['business-worker']!.gateways).toBe(0);
    expect((await get(wp, '/healthz'))!.status).toBe(200);

    // It comes back (same options, new port): ready again.
    gateway = await boot(gatewayOptions, 'gateway', logger);
    apps.splice(1, 0, gateway);
    await waitFor(async () => (await get(wp, '/readyz'))?.status === 200, 'the worker to be ready again', 10_000);

    // Stopping: /readyz says so at once while the app shuts down, /healthz stays 200, then the port closes.
    const closing = worker.close();
    apps.splice(apps.indexOf(worker), 1);
    await waitFor(async () => (await get(wp, '/readyz'))?.body.status === 'stopping', 'readyz to say stopping', 5_000);
    expect((await get(wp, '/readyz'))!.status).toBe(503);
    expect((await get(wp, '/healthz'))!.status).toBe(200);
    await closing;
    expect(await get(wp, '/readyz')).toBeNull();
    expect(worker.get(BusinessWorkerServer).isRunning).toBe(false);
  }, 60_000);

  it('/healthz turns 503 after the event loop was blocked past maxEventLoopDelay, and 200 again once it runs freely', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const register = await boot({ registerAddress: address, register: { listen: address }, health: { port: 0, host: '127.0.0.1', maxEventLoopDelay: 300 } }, 'register', new CapturingLogger());
    apps.push(register);
    const port = register.get(GatewayWorkerMetrics).healthPort;
    await sleep(300);
    expect((await get(port, '/healthz'))!.status).toBe(200);
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      /* a handler that blocks the event loop */
    }
    const stalled = await get(port, '/healthz');
    expect(stalled!.status).toBe(503);
    expect(stalled!.body.status).toBe('event loop stalled');
    expect(stalled!.body.eventLoopDelayMs).toBeGreaterThanOrEqual(1000);
    // The stall counts for 5 s, then the process is healthy again.
    await waitFor(async () => (await get(port, '/healthz'))?.status === 200, 'healthz to recover', 10_000);
  }, 30_000);

  it('"starting" before the tier listens: the endpoints are up from app.init(), /readyz 503 until listen()', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const app = await NestFactory.createMicroservice(tierModule({ registerAddress: address, register: { listen: address }, health: { port: 0, host: '127.0.0.1' } }), {
      inject: [RegisterServer],
      useFactory: (strategy: RegisterServer) => ({ strategy }),
      logger: false,
    });
    apps.push(app);
    await app.init();
    const port = app.get(GatewayWorkerMetrics).healthPort;
    expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: { status: 'starting', tiers: {} } });
    expect((await get(port, '/healthz'))!.status).toBe(200);
    await app.listen();
    expect(await get(port, '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', tiers: { register: { ready: true } } } });
  });

  it('/healthz and /readyz are on the metrics port too, next to /metrics', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const register = await boot({ registerAddress: address, register: { listen: address }, metrics: { port: 0, host: '127.0.0.1' } }, 'register', new CapturingLogger());
    apps.push(register);
    const port = register.get(GatewayWorkerMetrics).port;
    expect(register.get(GatewayWorkerMetrics).healthPort).toBe(0);
    expect(await get(port, '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect((await get(port, '/healthz'))!.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});
