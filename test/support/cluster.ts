import { Module, type INestMicroservice, type LoggerService, type Provider, type Type } from '@nestjs/common';
import {
  GatewayServer,
  GatewayService,
  GatewayWorkerModule,
  startGatewayWorkerTier,
  type GatewayWorkerModuleOptions,
  type GatewayOptions,
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
export async function startGatewayOnly(logger: LoggerService, gateway: Record<string, unknown> = {}, extra: Partial<GatewayWorkerModuleOptions> = {}) {
  const c = await startCluster({ gateways: [gateway], workers: 0, logger, common: extra });
  return { registerAddress: c.registerAddress, common: c.common, apps: c.apps, gateway: c.gateway(0) };
}

export interface TestCluster {
  registerAddress: string;
  register: INestMicroservice;
  /** The gateway apps, and their GatewayServers (index i = gateway i). */
  gatewayApps: INestMicroservice[];
  gateways: GatewayServer[];
  workers: INestMicroservice[];
  /** Every app, in boot order. */
  apps: INestMicroservice[];
  logger: CapturingLogger;
  /** The module options every tier got: give them to a tier a test boots itself. */
  common: GatewayWorkerModuleOptions;
  /** GatewayServer of gateway i. */
  gateway(i: number): GatewayServer;
  /** The public port `j` of gateway i. */
  port(i: number, j?: number): number;
  /** GatewayService of worker i. */
  service(i?: number): GatewayService;
  close(): Promise<void>;
}

/** What startCluster boots. */
export interface TestClusterOptions {
  /** One gateway per entry, with these options (default: one `text://127.0.0.1:0` listener, OS-chosen internal port). */
  gateways?: Partial<GatewayOptions>[];
  /** Shorthand: one gateway per lanIp, listening on `listen(lanIp)`. */
  lanIps?: string[];
  listen?: (lanIp: string) => string[];
  workers?: number;
  secretKey?: string;
  providers?: Provider[];
  /** Where the tiers log (default: a new CapturingLogger, as `cluster.logger`). */
  logger?: LoggerService;
  /** Module options every tier gets (and `cluster.common` hands to tiers a test boots itself). */
  common?: Partial<GatewayWorkerModuleOptions>;
}

/**
 * The one way tests boot a cluster in this process: a Register, gateways, workers with the given
 * handlers, on free ports; ready when every gateway sees every worker. (Tests of processes use
 * `fixtureCluster`, which runs the same tiers under the CLI.)
 */
export async function startCluster(opts: TestClusterOptions): Promise<TestCluster> {
  const capturing = new CapturingLogger();
  const logger = opts.logger ?? capturing;
  const registerAddress = `127.0.0.1:${await freePort()}`;
  const common: GatewayWorkerModuleOptions = opts.common ? { registerAddress, ...opts.common } : { registerAddress, secretKey: opts.secretKey ?? '', queryTimeout: 2000 };
  const gatewayOptions = opts.gateways ?? (opts.lanIps ?? []).map((lanIp) => ({ lanIp, listen: opts.listen!(lanIp) }));
  const workerCount = opts.workers ?? 1;
  const apps: INestMicroservice[] = [];
  const gatewayApps: INestMicroservice[] = [];
  const workers: INestMicroservice[] = [];
  const cluster: TestCluster = {
    registerAddress,
    register: undefined as unknown as INestMicroservice,
    gatewayApps,
    gateways: [],
    workers,
    apps,
    logger: capturing,
    common,
    gateway: (i) => gatewayApps[i]!.get(GatewayServer),
    port: (i, j = 0) => gatewayApps[i]!.get(GatewayServer).publicPorts[j]!,
    service: (i = 0) => workers[i]!.get(GatewayService),
    async close() {
      for (const app of [...apps].reverse()) await app.close();
    },
  };
  try {
    cluster.register = await boot({ ...common, register: { listen: registerAddress } }, 'register', logger);
    apps.push(cluster.register);
    for (const g of gatewayOptions) {
      const app = await boot({ ...common, gateway: { listen: 'text://127.0.0.1:0', startPort: 0, ...g } }, 'gateway', logger);
      apps.push(app);
      gatewayApps.push(app);
      cluster.gateways.push(app.get(GatewayServer));
    }
    for (let i = 0; i < workerCount; i++) {
      const app = await boot({ ...common, businessWorker: { name: 'TestWorker', processIndex: i } }, 'business-worker', logger, opts.providers);
      apps.push(app);
      workers.push(app);
    }
    await waitFor(() => cluster.gateways.every((g) => g.workerKeys.length === workerCount), 'every worker to reach every gateway', 10_000);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
