import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { GatewayTlsOptions } from './gateway-worker-options.interface.js';

/**
 * A parsed public listen URI of a gateway.
 *
 * @publicApi
 */
export interface ListenAddress {
  protocol: ClientProtocolName;
  host: string;
  port: number;
  /** The URI as given, for logs. */
  uri: string;
  /** True for a TLS listener (`wss://`, `<protocol>+tls://`, or `transport: 'ssl'`); absent otherwise. */
  tls?: boolean;
}

/**
 * The module options after validation, with every default filled in.
 *
 * @publicApi
 */
export interface ResolvedGatewayWorkerOptions {
  registerAddresses: string[];
  secretKey: string;
  queryTimeout: number;
  connectTimeout: number;
  addressCacheTtl: number;
  maxPackageSize: number;
  innerMaxPackageSize: number;
  /** `secretKey === ''` and protected mode on: internal ports admit only this host's peers. */
  protectedMode: boolean;
  register: {
    host: string;
    port: number;
    /** Milliseconds; 0 = never. */
    stalledLineTimeout: number;
    /** 0 = no limit. */
    maxConnectionsPerIp: number;
  };
  gateway: {
    listen: ListenAddress[];
    name: string;
    lanIp: string;
    startPort: number;
    processIndex: number;
    count: number;
    lanPort: number;
    innerBindHost: string;
    sendToClientBufferSize: number;
    sendToWorkerBufferSize: number;
    router: 'least-connections' | 'random';
    /** As given; loaded (files read) when the gateway starts. Null when no listener uses TLS. */
    tls: GatewayTlsOptions | null;
    trustedProxies: string[];
    /** Seconds; 0 = no heartbeat. */
    pingInterval: number;
    pingNotResponseLimit: number;
    pingData: Buffer;
    webSocketPingIsActivity: boolean;
    /** Milliseconds. */
    webSocketConnectTimeout: number;
    workerWaitWindow: number;
    resumeWindow: number;
    resumeBufferSize: number;
    resumeTotalBufferSize: number;
    maxEventsInFlight: number;
    maxBytesInFlight: number;
    workerHangTimeout: number;
    innerMaxConnectionsPerIp: number;
    workerWaitPolicy: 'close' | 'drop';
    slowClientPolicy: 'drop' | 'close';
    stalledFrameTimeout: number;
    maxConnectionsPerIp: number;
  } | null;
  businessWorker: {
    name: string;
    processIndex: number;
    count: number;
    sendToGatewayBufferSize: number;
    lanIp: string | null;
    noGatewayWarning: number;
    eventTimeout: number;
    maxQueuedEvents: number;
  };
  metrics: { port: number; host: string; path: string } | null;
  health: { port: number | null; host: string; maxEventLoopDelay: number };
}
