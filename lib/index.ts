/**
 * The public API of `nestjs-gateway-worker`: what applications and tools import. Everything else —
 * the wire layer (packets, framings, PHP serialize), the servers' parts — is internal and may change
 * in any release; the package's own tests reach it through its file paths. Every export here is
 * tagged `@publicApi` at its declaration, and `test/public-api.spec.ts` checks it.
 */

// The module, its options and the injection tokens an app may use.
export { GatewayWorkerModule } from './gateway-worker.module.js';
export { GATEWAY_WORKER_OPTIONS, GATEWAY_WORKER_CONTEXT_TYPE } from './gateway-worker.constants.js';
export type {
  BusinessWorkerOptions,
  GatewayOptions,
  GatewayTlsOptions,
  GatewayWorkerModuleAsyncOptions,
  GatewayWorkerModuleOptions,
  GatewayWorkerOptionsFactory,
  HealthOptions,
  MetricsOptions,
  RegisterOptions,
  TlsSource,
} from './interfaces/gateway-worker-options.interface.js';
export type { ListenAddress, ResolvedGatewayWorkerOptions } from './interfaces/resolved-options.interface.js';
export type { QueryOptions } from './interfaces/query-options.interface.js';

// Booting a tier, and the tiers as Nest transport strategies.
export { signalGatewayWorkerReady, startGatewayWorkerTier, type GatewayWorkerDevOptions, type GatewayWorkerTier, type GatewayWorkerTierOptions } from './gateway-worker.bootstrap.js';
export { RegisterServer, type RegisterServerEvents } from './register/register.server.js';
export { GatewayServer, type GatewayServerEvents } from './gateway/gateway.server.js';
export { BusinessWorkerServer, type BusinessWorkerServerEvents } from './business-worker/business-worker.server.js';

// Handlers: the class marker, the events, the parameters and what they receive.
export { GatewayEvents } from './decorators/gateway-events.decorator.js';
export { OnClose, OnConnect, OnDisconnect, OnMessage, OnResume, OnWebSocketConnect } from './decorators/on-event.decorator.js';
export { ClientId, Ctx, Payload, Session } from './decorators/gateway-param.decorators.js';
export { GatewayEventContext, type GatewayEventName, type GatewayResumeEvent, type GatewaySession } from './business-worker/gateway-event-context.js';
export { ParseJsonPipe } from './pipes/parse-json.pipe.js';
export { WebSocketConnectRequest } from './business-worker/websocket-connect.request.js';
export { getGatewayEventContext, isGatewayWorkerContext } from './utils/gateway-worker-context.util.js';
export type { ClientProtocolName } from './protocol/client-protocol.js';
export { PhpOpaque } from './protocol/php-value.js';

// Pushing to clients, from a worker or from any app.
export { GatewayService, type GatewayKey, type GatewayMessage } from './gateway.service.js';

// Errors: one family, one class per failure.
export { GatewayWorkerError } from './errors/gateway-worker.error.js';
export { GatewayProtocolError } from './errors/gateway-protocol.error.js';
export { GatewayUnreachableError } from './errors/gateway-unreachable.error.js';
export { GatewayWorkerOptionsError } from './errors/gateway-worker-options.error.js';
export { InvalidClientIdError } from './errors/invalid-client-id.error.js';
export { NoCurrentClientError } from './errors/no-current-client.error.js';
export { NoGatewayError } from './errors/no-gateway.error.js';
export { PartialResultError } from './errors/partial-result.error.js';
export { PhpSerializeError } from './errors/php-serialize.error.js';
export { PhpUnserializeError } from './errors/php-unserialize.error.js';
export { PacketTooLargeError } from './errors/packet-too-large.error.js';
export { QueryTimeoutError } from './errors/query-timeout.error.js';
export { RegisterUnavailableError } from './errors/register-unavailable.error.js';
export { TlsCertificateError } from './errors/tls-certificate.error.js';

// Operations: metrics, and the cluster status for tooling.
export { GatewayWorkerMetrics } from './metrics/gateway-worker.metrics.js';
export { fetchClusterStatus, formatClusterStatus, type ClusterStatus, type ClusterStatusOptions } from './cli/cluster-status.js';
export type { ProcessStats, ResumeStats } from './protocol/process-stats.js';

// @nestjs/websockets gateway classes on the cluster (no runtime import of @nestjs/websockets: it stays optional).
export { GatewayWsAdapter } from './websockets/gateway-ws.adapter.js';
export { GatewayCluster } from './websockets/gateway-cluster.js';
export { GatewayAudience } from './websockets/gateway-audience.js';
export { GatewayClientSocket, GatewayClientState } from './websockets/gateway-client.socket.js';
export type { WsEventMap, WsEventName } from './websockets/ws-event-map.js';

// Protected mode: which peers count as this host's.
export { isLocalPeer } from './utils/local-peer.js';
