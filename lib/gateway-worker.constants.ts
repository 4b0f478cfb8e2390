/** Namespaced metadata keys and injection tokens. */
export const GATEWAY_EVENTS_METADATA = 'gateway-worker:gateway_events';
export const ON_EVENT_METADATA = 'gateway-worker:on_event';
export const PARAM_ARGS_METADATA = 'gateway-worker:param_args';
/**
 * The `ExecutionContext.getType()` of our handlers.
 *
 * @publicApi
 */
export const GATEWAY_WORKER_CONTEXT_TYPE = 'gateway-worker';
/**
 * Injection token of the validated options, defaults merged.
 *
 * @publicApi
 */
export const GATEWAY_WORKER_OPTIONS = Symbol('GATEWAY_WORKER_OPTIONS');
/** Injection token of the raw options as the user gave them. */
export const GATEWAY_WORKER_RAW_OPTIONS = Symbol('GATEWAY_WORKER_RAW_OPTIONS');

export const DEFAULT_REGISTER_ADDRESS = '127.0.0.1:1236';
export const DEFAULT_START_PORT = 2000;
export const DEFAULT_QUERY_TIMEOUT = 5_000;
export const DEFAULT_CONNECT_TIMEOUT = 3_000;
export const DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE = 1_024_000;
export const DEFAULT_SEND_TO_WORKER_BUFFER_SIZE = 10_240_000;
/** Delay before reconnecting to a Register or a gateway (PHP: 1 s). */
export const RECONNECT_DELAY = 1_000;
/** Keepalive towards a non-local Register (PHP: 25 s). */
export const REGISTER_PING_INTERVAL = 25_000;
/** The Register closes connections silent for this long after connecting (PHP: 10 s). */
export const REGISTER_AUTH_TIMEOUT = 10_000;
/**
 * Room an inner packet has beyond the largest client message by default: the 28-byte header, the
 * client's session and the prefix a reply adds (`innerMaxPackageSize` = `maxPackageSize` + this).
 */
export const INNER_PACKET_HEADROOM = 1_048_576;
/** The least room `innerMaxPackageSize` set by hand must leave above `maxPackageSize` (the header, and a little; sessions and reply prefixes need more: the derived default gives 1 MiB). */
export const MIN_INNER_PACKET_HEADROOM = 64;
/**
 * Longest line the Register reads. Its lines are small JSON objects: the longest, gateway_connect,
 * holds an address and the secret key, a few hundred bytes; 64 KiB leaves room for any key while a
 * peer cannot make it hold innerMaxPackageSize (10 MiB) per connection (PHP's Text limit).
 */
export const REGISTER_MAX_LINE_SIZE = 64 * 1024;
/** Default `register.stalledLineTimeout` (ms), as `gateway.stalledFrameTimeout`. */
export const DEFAULT_REGISTER_STALLED_LINE_TIMEOUT = 30_000;
/** Default `register.maxConnectionsPerIp`. */
export const DEFAULT_REGISTER_MAX_CONNECTIONS_PER_IP = 256;

// The contract between the process manager (`gateway-worker start`) and the tiers it runs.
/** Environment variable giving a managed process its index among the processes of its tier. */
export const ENV_PROCESS_INDEX = 'GATEWAY_WORKER_PROCESS_INDEX';
/** Environment variable counting reloads: business workers of a new generation get a new worker key. */
export const ENV_GENERATION = 'GATEWAY_WORKER_GENERATION';
/** The IPC message a tier sends to the master once it is serving. */
export const READY_MESSAGE = 'gateway-worker:ready';
