import type { INestMicroservice, LoggerService, LogLevel, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
import { BusinessWorkerServer } from './business-worker/business-worker.server.js';
import { GatewayServer } from './gateway/gateway.server.js';
import { RegisterServer } from './register/register.server.js';
import { ENV_PROCESS_INDEX, READY_MESSAGE } from './cli/cli.constants.js';

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
 * Boots one tier of an app module as a Nest microservice and starts it — the short form of
 *
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   inject: [GatewayServer], useFactory: (strategy: GatewayServer) => ({ strategy }),
 * });
 * app.enableShutdownHooks();
 * await app.listen();
 * ```
 *
 * Shutdown hooks are enabled unless `shutdownHooks: false`, so SIGTERM/SIGINT stop the tier gracefully.
 *
 * @publicApi
 */
export async function startGatewayWorkerTier(
  module: Type | Record<string, unknown>,
  tier: GatewayWorkerTier,
  options: { shutdownHooks?: boolean; logger?: LoggerService | LogLevel[] | false } = {},
): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(module as Type, {
    inject: [STRATEGY[tier]],
    useFactory: (strategy: RegisterServer | GatewayServer | BusinessWorkerServer) => ({ strategy }),
    // Reject with the error (e.g. invalid options) instead of Nest's default process.abort().
    abortOnError: false,
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  if (options.shutdownHooks !== false) app.enableShutdownHooks();
  await app.listen();
  // Under `gateway-worker start`, tell the master this process is serving.
  if (process.send && process.env[ENV_PROCESS_INDEX] !== undefined) process.send(READY_MESSAGE);
  return app;
}
