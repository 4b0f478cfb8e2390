import { Module, type INestMicroservice, type LoggerService, type Provider, type Type } from '@nestjs/common';
import {
  GatewayServer,
  GatewayService,
  GatewayWorkerModule,
  startGatewayWorkerTier,
  type GatewayWorkerModuleOptions,
  type GatewayWorkerTier,
} from '../../lib/index.js';
import { freePort, waitFor } from './net.js';

/** Collects what the tiers log, so tests can assert on warnings; prints nothing. */
export class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown) { this.lines.push({ level: 'log', message: String(message) }); }
  error(message: unknown) { this.lines.push({ level: 'error', message: String(message) }); }
  warn(message: unknown) { this.lines.push({ level: 'warn', message: String(message) }); }
  debug() {}
  verbose() {}
  /** Messages at `level` containing `text`. */
  find(level: string, text: string): string[] {
    return this.lines.filter((l) => l.level === level && l.message.includes(text)).map((l) => l.message);
  }
}

/** A fresh module class (its own DI container when booted) with GatewayWorkerModule and the providers. */
export function tierModule(options: GatewayWorkerModuleOptions, providers: Provider[] = []): Type {
  @Module({ imports: [GatewayWorkerModule.forRoot(options)], providers })
  class TierModule {}
  return TierModule;
}

/** Boots one tier in this process. */
export function boot(options: GatewayWorkerModuleOptions, tier: GatewayWorkerTier, logger: LoggerService, providers: Provider[] = []): Promise<INestMicroservice> {
  return startGatewayWorkerTier(tierModule(options, providers), tier, { shutdownHooks: false, logger });
}

/**
 * Register + one gateway in this process on free ports — by default one text listener on
 * 127.0.0.1 — for tests that start (or withhold) the workers themselves. `extra` goes to both tiers
 * (and, through `common`, to the workers the test boots).
 */
export async function startGatewayOnly(logger: LoggerService, gateway: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const registerAddress = `127.0.0.1:${await freePort()}`;
  const common = { registerAddress, ...extra };
  const register = await boot({ ...common, register: { listen: registerAddress } }, 'register', logger);
  const gw = await boot({ ...common, gateway: { listen: 'text://127.0.0.1:0', startPort: 0, ...gateway } }, 'gateway', logger);
  return { registerAddress, common, apps: [register, gw], gateway: gw.get(GatewayServer) };
}

export interface TestCluster {
  registerAddress: string;
  register: INestMicroservice;
  gateways: INestMicroservice[];
  workers: INestMicroservice[];
  logger: CapturingLogger;
  /** GatewayServer of gateway i. */
  gateway(i: number): GatewayServer;
  /** The public port `j` of gateway i. */
  port(i: number, j?: number): number;
  /** GatewayService of worker i. */
  service(i?: number): GatewayService;
  close(): Promise<void>;
}

/**
 * Register + gateways (one per lanIp, each with the given listeners on that IP) + workers, all in
 * this process on free ports, ready when every gateway sees every worker.
 */
export async function startCluster(opts: {
  lanIps: string[];
  listen: (lanIp: string) => string[];
  workers: number;
  secretKey?: string;
  providers?: Provider[];
  /** More gateway options (e.g. `resumeWindow`). */
  gateway?: Record<string, unknown>;
}): Promise<TestCluster> {
  const logger = new CapturingLogger();
  const registerAddress = `127.0.0.1:${await freePort()}`;
  const common = { registerAddress, secretKey: opts.secretKey ?? '', queryTimeout: 2000 };
  const register = await boot({ ...common, register: { listen: registerAddress } }, 'register', logger);
  const gateways: INestMicroservice[] = [];
  for (const lanIp of opts.lanIps) {
    gateways.push(await boot({ ...common, gateway: { listen: opts.listen(lanIp), lanIp, startPort: 0, ...opts.gateway } }, 'gateway', logger));
  }
  const workers: INestMicroservice[] = [];
  for (let i = 0; i < opts.workers; i++) {
    workers.push(await boot({ ...common, businessWorker: { name: 'TestWorker', processIndex: i } }, 'business-worker', logger, opts.providers));
  }
  const cluster: TestCluster = {
    registerAddress,
    register,
    gateways,
    workers,
    logger,
    gateway: (i) => gateways[i]!.get(GatewayServer),
    port: (i, j = 0) => gateways[i]!.get(GatewayServer).publicPorts[j]!,
    service: (i = 0) => workers[i]!.get(GatewayService),
    async close() {
      for (const app of [...workers, ...gateways, register]) await app.close();
    },
  };
  await waitFor(() => gateways.every((g) => g.get(GatewayServer).workerKeys.length === opts.workers), 'every worker to reach every gateway', 10_000);
  return cluster;
}
