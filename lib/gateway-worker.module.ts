import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BusinessWorkerServer } from './business-worker/business-worker.server.js';
import { GatewayHandlerRegistry } from './business-worker/gateway-handler.registry.js';
import { GatewayClient } from './client/gateway.client.js';
import { GATEWAY_TRANSPORT } from './client/gateway-transport.interface.js';
import { GatewayTransportSwitch } from './client/gateway-transport.switch.js';
import { GatewayMetadataAccessor } from './explorer/gateway-metadata.accessor.js';
import { GatewayWorkerExplorer } from './explorer/gateway-worker.explorer.js';
import { GatewayServer } from './gateway/gateway.server.js';
import { GATEWAY_WORKER_OPTIONS, GATEWAY_WORKER_RAW_OPTIONS } from './gateway-worker.constants.js';
import { GatewayWorkerConfigurableModule } from './gateway-worker.module-definition.js';
import { resolveGatewayWorkerOptions } from './gateway-worker.options.js';
import { GatewayService } from './gateway.service.js';
import { RegisterServer } from './register/register.server.js';
import { GatewayWorkerMetrics } from './metrics/gateway-worker.metrics.js';
import { GatewayWsAdapter } from './websockets/gateway-ws.adapter.js';

/**
 * GatewayWorker for Nest. Import it once with the cluster's options:
 *
 * ```ts
 * @Module({
 *   imports: [GatewayWorkerModule.forRoot({
 *     registerAddress: '127.0.0.1:1236',
 *     gateway: { listen: 'websocket://0.0.0.0:7272', lanIp: '127.0.0.1', startPort: 2900 },
 *     businessWorker: { name: 'ChatBusinessWorker' },
 *   })],
 *   providers: [ChatEvents],
 * })
 * export class AppModule {}
 * ```
 *
 * then boot the tier(s) this process runs as microservices (`RegisterServer`, `GatewayServer`,
 * `BusinessWorkerServer`), and inject `GatewayService` wherever you push. `forRootAsync()` takes
 * `useFactory`/`inject`, `useClass` or `useExisting`. Options are validated at startup.
 * `@WebSocketGateway` classes (`@nestjs/websockets`) in the app's providers are served on the
 * cluster by `GatewayWsAdapter`, which the module installs as the app's websocket adapter.
 * The module is global unless `global: false`.
 *
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: GATEWAY_WORKER_OPTIONS,
      useFactory: resolveGatewayWorkerOptions,
      inject: [GATEWAY_WORKER_RAW_OPTIONS],
    },
    GatewayHandlerRegistry,
    GatewayMetadataAccessor,
    GatewayWorkerExplorer,
    RegisterServer,
    GatewayServer,
    BusinessWorkerServer,
    GatewayClient,
    // GatewayService's transport: the GatewayClient, or the worker's links while a BusinessWorker runs here.
    GatewayTransportSwitch,
    { provide: GATEWAY_TRANSPORT, useExisting: GatewayTransportSwitch },
    GatewayService,
    GatewayWorkerMetrics,
    GatewayWsAdapter,
  ],
  exports: [GATEWAY_WORKER_OPTIONS, GatewayService, GatewayHandlerRegistry, RegisterServer, GatewayServer, BusinessWorkerServer, GatewayClient, GatewayWorkerMetrics, GatewayWsAdapter],
})
export class GatewayWorkerModule extends GatewayWorkerConfigurableModule {}
