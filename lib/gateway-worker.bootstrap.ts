import type { INestMicroservice, LoggerService, LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
import { BusinessWorkerServer } from './business-worker/business-worker.server.js';
import { GatewayServer } from './gateway/gateway.server.js';
import { RegisterServer } from './register/register.server.js';
import { ENV_PROCESS_INDEX, READY_MESSAGE } from './cli/cli.constants.js';

/** The tiers a process can run. */
export type GatewayWorkerTier = 'register' | 'gateway' | 'business-worker';

const STRATEGY: Record<GatewayWorkerTier, Type> = {
  register: RegisterServer,
  gateway: GatewayServer,
  'business-worker': BusinessWorkerServer,
};

/** Options of `startGatewayWorkerTier`. */
export interface GatewayWorkerTierOptions {
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
  configure?: (app: INestMicroservice) => void | Promise<void>;
}

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
 */
export async function startGatewayWorkerTier(
  module: Type | Record<string, unknown>,
  tier: GatewayWorkerTier,
  options: GatewayWorkerTierOptions = {},
): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(module as Type, {
    inject: [STRATEGY[tier]],
    useFactory: (strategy: RegisterServer | GatewayServer | BusinessWorkerServer) => ({ strategy }),
    // Reject with the error (e.g. invalid options) instead of Nest's default process.abort().
    abortOnError: false,
    ...(options.logger !== undefined && { logger: options.logger }),
    ...(options.bufferLogs !== undefined && { bufferLogs: options.bufferLogs }),
  });
  if (options.shutdownHooks !== false) app.enableShutdownHooks();
  await options.configure?.(app);
  await app.listen();
  signalGatewayWorkerReady();
  return app;
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
 */
export function signalGatewayWorkerReady(): void {
  // The manager sets the process index on every process it forks (with an IPC channel).
  if (process.send && process.env[ENV_PROCESS_INDEX] !== undefined) process.send(READY_MESSAGE);
}
