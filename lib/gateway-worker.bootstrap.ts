import { ConsoleLogger, type INestApplication, type INestMicroservice, type LoggerService, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
import { BusinessWorkerServer } from './business-worker/business-worker.server.js';
import { GatewayServer } from './gateway/gateway.server.js';
import { RegisterServer } from './register/register.server.js';
import { ENV_PROCESS_INDEX, READY_MESSAGE } from './gateway-worker.constants.js';

/**
 * The tiers a process can run.
 *
 * @publicApi
 */
export type GatewayWorkerTier = 'register' | 'gateway' | 'business-worker';

const STRATEGY: Record<GatewayWorkerTier, Type> = {
  register: RegisterServer,
  gateway: GatewayServer,
  'business-worker': BusinessWorkerServer,
};

/**
 * Options of `startGatewayWorkerTier`.
 *
 * @publicApi
 */
export interface GatewayWorkerTierOptions<App = INestMicroservice> {
  /** Enable Nest's shutdown hooks, so SIGTERM/SIGINT stop the tier gracefully. Default `true`. */
  shutdownHooks?: boolean;
  /** Passed to `NestFactory.createMicroservice`: a LoggerService, the log levels, or `false`. */
  logger?: LoggerService | LogLevel[] | false;
  /**
   * Passed to `NestFactory.createMicroservice`: hold the startup logs until `app.useLogger()` is
   * called (in `configure`), so they reach a logger that is itself a provider (nestjs-pino style).
   */
  bufferLogs?: boolean;
  /**
   * Runs after the app is created and before `listen()`: where `app.useGlobalPipes()`,
   * `useGlobalGuards()`, `useGlobalInterceptors()`, `useGlobalFilters()` and
   * `app.useLogger(app.get(Logger))` go, so they apply to every handler from the first event.
   */
  configure?: (app: App) => void | Promise<void>;
}

/**
 * Options of `startGatewayWorkerTier(module, 'all')`, the one-process development mode.
 *
 * @publicApi
 */
export interface GatewayWorkerDevOptions extends GatewayWorkerTierOptions<INestApplication> {
  /** Serve the app's HTTP controllers on this port (and host; default every interface). Without it, no HTTP port is opened. */
  http?: { port: number; host?: string };
}

/**
 * The logger option, with Nest's ConsoleLogger told not to colour when the output is not a
 * terminal (a log file, a pipe, a container's log): Nest colours unless NO_COLOR is set, which
 * fills such logs with ANSI escape codes. A LoggerService given, `false`, a terminal or
 * FORCE_COLOR leave it as it is.
 */
function plainWhenNotTerminal(logger: GatewayWorkerTierOptions['logger']): GatewayWorkerTierOptions['logger'] {
  if ((logger !== undefined && !Array.isArray(logger)) || process.stdout.isTTY || process.env.FORCE_COLOR) return logger;
  return new ConsoleLogger({ colors: false, ...(logger && { logLevels: logger }) });
}

/** `logger` and `bufferLogs` for NestFactory. */
function logOptions(options: Pick<GatewayWorkerTierOptions, 'logger' | 'bufferLogs'>): { logger?: LoggerService | LogLevel[] | false; bufferLogs?: boolean } {
  const logger = plainWhenNotTerminal(options.logger);
  return { ...(logger !== undefined && { logger }), ...(options.bufferLogs !== undefined && { bufferLogs: options.bufferLogs }) };
}

/** The order the tiers start in: gateways and workers find each other through the Register. */
const TIER_ORDER: GatewayWorkerTier[] = ['register', 'gateway', 'business-worker'];

/**
 * Boots one tier of an app module as a Nest microservice and starts it — the short form of
 *
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [GatewayServer], useFactory: (strategy: GatewayServer) => ({ strategy }),
 * });
 * app.enableShutdownHooks();
 * await configure?.(app);
 * await app.listen();
 * signalGatewayWorkerReady();
 * ```
 *
 * Shutdown hooks are enabled unless `shutdownHooks: false`, so SIGTERM/SIGINT stop the tier gracefully.
 *
 * @publicApi
 */
export function startGatewayWorkerTier(module: Type | Record<string, unknown>, tier: GatewayWorkerTier, options?: GatewayWorkerTierOptions): Promise<INestMicroservice>;
export function startGatewayWorkerTier(module: Type | Record<string, unknown>, tier: 'all', options?: GatewayWorkerDevOptions): Promise<INestApplication>;
export async function startGatewayWorkerTier(
  module: Type | Record<string, unknown>,
  tier: GatewayWorkerTier | 'all',
  options: GatewayWorkerTierOptions | GatewayWorkerDevOptions = {},
): Promise<INestMicroservice | INestApplication> {
  if (tier === 'all') return startAllTiers(module, options as GatewayWorkerDevOptions);
  const app: INestMicroservice = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(module as Type, {
    inject: [STRATEGY[tier]],
    useFactory: (strategy: RegisterServer | GatewayServer | BusinessWorkerServer) => ({ strategy }),
    // Reject with the error (e.g. invalid options) instead of Nest's default process.abort().
    abortOnError: false,
    ...logOptions(options),
  });
  if (options.shutdownHooks !== false) app.enableShutdownHooks();
  await (options as GatewayWorkerTierOptions).configure?.(app);
  await app.listen();
  signalGatewayWorkerReady();
  return app;
}

/**
 * The development mode: Register, Gateway and BusinessWorker of one module in one process and one
 * DI container — an HTTP app (`NestFactory.create`, so it needs an HTTP adapter such as
 * `@nestjs/platform-express`) with the three servers connected as microservices, started in order,
 * then the HTTP port. The microservices inherit the app's global enhancers (set in `configure`).
 * Closing the app (SIGTERM/SIGINT with shutdown hooks, e.g. from `nest start --watch`) closes the
 * tiers in reverse order and every port, so the next start can bind them again at once.
 */
async function startAllTiers(module: Type | Record<string, unknown>, options: GatewayWorkerDevOptions): Promise<INestApplication> {
  const app = await NestFactory.create(module as Type, { abortOnError: false, ...logOptions(options) });
  if (options.shutdownHooks !== false) app.enableShutdownHooks();
  const strategies = TIER_ORDER.map((t) => app.get<RegisterServer | GatewayServer | BusinessWorkerServer>(STRATEGY[t]));
  closeInReverseOrder(strategies);
  const servers = strategies.map((strategy) => app.connectMicroservice({ strategy }, { inheritAppConfig: true }));
  await options.configure?.(app);
  await app.init();
  try {
    for (const server of servers) await server.listen();
    if (options.http?.host) await app.listen(options.http.port, options.http.host);
    else if (options.http) await app.listen(options.http.port);
  } catch (err) {
    await app.close();
    throw err;
  }
  signalGatewayWorkerReady();
  return app;
}

/**
 * Makes the servers close one after the other, last started first — the worker drains, then the
 * gateway closes its clients, then the Register goes — as `gateway-worker stop` stops separate
 * processes. Nest closes the microservices of one app all at once, and a Register closing under
 * a running gateway makes it warn that the Register is unreachable. Each `close()` is made to
 * wait for the next tier's and to run once, however often Nest calls it.
 */
function closeInReverseOrder(servers: { close(): Promise<void> | void }[]): void {
  servers.forEach((server, i) => {
    const close = server.close.bind(server);
    const before = servers[i + 1];
    let closing: Promise<void> | null = null;
    server.close = () =>
      (closing ??= (async () => {
        await before?.close();
        await close();
      })());
  });
}

/**
 * Tells `gateway-worker start` (the process manager) that this process is serving; a no-op in a
 * process the manager did not start. `startGatewayWorkerTier` calls it; an entry file that boots
 * its tier with the long form (`NestFactory.createMicroservice(…)` or `connectMicroservice(…)`)
 * must call it once `listen()` has resolved, or the manager gives up on the process after 20 s:
 *
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, { inject: [BusinessWorkerServer], useFactory: (strategy) => ({ strategy }) });
 * app.enableShutdownHooks();
 * await app.listen();
 * signalGatewayWorkerReady();
 * ```
 *
 * @publicApi
 */
export function signalGatewayWorkerReady(): void {
  // The manager sets the process index on every process it forks (with an IPC channel).
  if (process.send && process.env[ENV_PROCESS_INDEX] !== undefined) process.send(READY_MESSAGE);
}
