import { isIPv4 } from 'node:net';
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_QUERY_TIMEOUT,
  DEFAULT_REGISTER_ADDRESS,
  DEFAULT_REGISTER_MAX_CONNECTIONS_PER_IP,
  DEFAULT_REGISTER_STALLED_LINE_TIMEOUT,
  DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE,
  DEFAULT_SEND_TO_WORKER_BUFFER_SIZE,
  DEFAULT_START_PORT,
  INNER_PACKET_HEADROOM,
  MIN_INNER_PACKET_HEADROOM,
} from './gateway-worker.constants.js';
import { ENV_PROCESS_INDEX } from './gateway-worker.constants.js';
import { GatewayWorkerOptionsError } from './errors/gateway-worker-options.error.js';
import {
  lanPortOutOfRange,
  listenMissing,
  listenNotString,
  listenUnknownProtocol,
  listenWithoutPort,
  listenWithoutProtocol,
  metricsPortInvalid,
  optionNotIPv4,
  optionNotNonNegativeInt,
  optionNotOneOf,
  optionNotPositiveInt,
  pingDataInvalid,
  pingIntervalInvalid,
  registerAddressEmpty,
  registerAddressInvalid,
  registerListenInvalid,
  secretKeyNotString,
  startPortInvalid,
  tlsIncomplete,
  tlsMissing,
  tlsNotObject,
  tlsSourceInvalid,
  tlsUnused,
  trustedProxyInvalid,
  workerNameInvalid,
} from './gateway-worker.messages.js';
import type { GatewayWorkerModuleOptions } from './interfaces/gateway-worker-options.interface.js';
import type { ListenAddress, ResolvedGatewayWorkerOptions } from './interfaces/resolved-options.interface.js';
import { DEFAULT_MAX_PACKAGE_SIZE } from './protocol/gateway-command.js';
import type { ClientProtocolName } from './protocol/client-protocol.js';
import { splitAddress } from './utils/ip.util.js';
import { trustedProxyProblem } from './gateway/trusted-proxies.js';

const PROTOCOLS: readonly ClientProtocolName[] = ['text', 'frame', 'tcp', 'websocket'];

const isPort = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
const isPositiveInt = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;

/** The process index `gateway-worker start` gives each managed process (0 otherwise). */
const envProcessIndex = (): number => Number(process.env[ENV_PROCESS_INDEX] ?? 0);

/** Is `ip` a public IPv4 address (not private, loopback, link-local, CGN-shared or reserved)? */
function isPublicIPv4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  if (a === 10 || a === 127 || a === 0 || a >= 224) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 169 && b === 254) return false;
  // 100.64.0.0/10 counts as public here, as in PHP's FILTER_FLAG_NO_RES_RANGE (docs/protocol.md §5.2).
  return true;
}

/** Parses `"websocket://0.0.0.0:7272"`, `"wss://…"` or `"text+tls://…"`; pushes a problem and returns null when invalid. */
function parseListen(uri: unknown, problems: string[]): ListenAddress | null {
  if (typeof uri !== 'string') {
    problems.push(listenNotString(uri));
    return null;
  }
  const m = /^([a-z]+)(\+(?:tls|ssl))?:\/\/(.+)$/i.exec(uri);
  if (!m) {
    problems.push(listenWithoutProtocol(uri, PROTOCOLS));
    return null;
  }
  const scheme = m[1]!.toLowerCase();
  // `wss://` is websocket over TLS; `<protocol>+tls://` (or `+ssl`) any protocol over TLS.
  const protocol = (scheme === 'wss' ? 'websocket' : scheme) as ClientProtocolName;
  if (!PROTOCOLS.includes(protocol) || (scheme === 'wss' && m[2])) {
    problems.push(listenUnknownProtocol(`${m[1]}${m[2] ?? ''}`, uri, PROTOCOLS));
    return null;
  }
  const addr = splitAddress(m[3]!, true);
  if (!addr) {
    problems.push(listenWithoutPort(uri));
    return null;
  }
  return { protocol, host: addr.host, port: addr.port, uri, ...((scheme === 'wss' || m[2]) && { tls: true }) };
}

/** Default of `gateway.webSocketConnectTimeout`, ms. */
const DEFAULT_WEBSOCKET_CONNECT_TIMEOUT = 5_000;

/**
 * The client-edge options of the gateway: TLS, trusted proxies, heartbeat, connect-time verdicts.
 * Marks the listeners that use TLS (all of them with `transport: 'ssl'`).
 */
function resolveClientEdge(g: NonNullable<GatewayWorkerModuleOptions['gateway']>, listen: ListenAddress[], problems: string[]) {
  if (g.transport !== undefined && g.transport !== 'tcp' && g.transport !== 'ssl') problems.push(optionNotOneOf('gateway.transport', ['tcp', 'ssl']));
  if (g.transport === 'ssl') for (const l of listen) l.tls = true;
  const tlsListeners = listen.filter((l) => l.tls);
  let tls = g.tls ?? null;
  if (tls !== null && (typeof tls !== 'object' || Array.isArray(tls))) {
    problems.push(tlsNotObject());
    tls = null;
  } else if (tls !== null) {
    const isSource = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v) || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || Buffer.isBuffer(x)));
    for (const k of ['cert', 'key', 'ca', 'pfx'] as const) {
      if (tls[k] !== undefined && !isSource(tls[k])) problems.push(tlsSourceInvalid(k));
    }
    if (tls.pfx === undefined && (tls.cert === undefined || tls.key === undefined)) problems.push(tlsIncomplete());
    if (tlsListeners.length === 0) problems.push(tlsUnused());
  }
  if (tls === null && (g.tls === undefined || g.tls === null)) {
    for (const l of tlsListeners) problems.push(tlsMissing(l.uri));
  }
  const trustedProxies = g.trustedProxies === undefined ? [] : ([] as unknown[]).concat(g.trustedProxies);
  for (const entry of trustedProxies) {
    const problem = trustedProxyProblem(entry);
    if (problem) problems.push(trustedProxyInvalid(problem));
  }
  const pingInterval = g.pingInterval ?? 0;
  if (typeof pingInterval !== 'number' || !Number.isFinite(pingInterval) || pingInterval < 0) problems.push(pingIntervalInvalid());
  const pingNotResponseLimit = g.pingNotResponseLimit ?? 0;
  if (!Number.isInteger(pingNotResponseLimit) || pingNotResponseLimit < 0) problems.push(optionNotNonNegativeInt('gateway.pingNotResponseLimit'));
  const pingData = g.pingData ?? '';
  if (typeof pingData !== 'string' && !Buffer.isBuffer(pingData)) problems.push(pingDataInvalid());
  const timeout = g.webSocketConnectTimeout ?? DEFAULT_WEBSOCKET_CONNECT_TIMEOUT;
  if (!isPositiveInt(timeout)) problems.push(optionNotPositiveInt('gateway.webSocketConnectTimeout', undefined, 'ms'));
  return {
    tls: tlsListeners.length ? tls : null,
    trustedProxies: trustedProxies as string[],
    pingInterval,
    pingNotResponseLimit,
    pingData: Buffer.isBuffer(pingData) ? pingData : Buffer.from(String(pingData)),
    webSocketPingIsActivity: g.webSocketPingIsActivity === true,
    webSocketConnectTimeout: timeout,
  };
}

/**
 * Validates the module options and fills in the defaults (the same ones as PHP's GatewayWorker,
 * docs/protocol.md §5.1 and §6.1). Runs when the module is instantiated, so a bad configuration stops
 * the app at startup.
 * @throws GatewayWorkerOptionsError listing every problem found.
 */
export function resolveGatewayWorkerOptions(raw: GatewayWorkerModuleOptions = {}): ResolvedGatewayWorkerOptions {
  const problems: string[] = [];
  const o = raw ?? {};

  const registerAddresses = o.registerAddress === undefined ? [DEFAULT_REGISTER_ADDRESS] : ([] as unknown[]).concat(o.registerAddress);
  if (registerAddresses.length === 0) problems.push(registerAddressEmpty());
  for (const a of registerAddresses) {
    if (typeof a !== 'string' || !splitAddress(a)) problems.push(registerAddressInvalid(a));
  }
  if (o.secretKey !== undefined && typeof o.secretKey !== 'string') problems.push(secretKeyNotString());

  const positive = (name: string, v: unknown, def: number): number => {
    if (v === undefined) return def;
    if (!isPositiveInt(v)) problems.push(optionNotPositiveInt(name, v));
    return v as number;
  };
  const nonNegative = (name: string, v: unknown, def: number): number => {
    if (v === undefined) return def;
    if (!Number.isInteger(v) || (v as number) < 0) problems.push(optionNotNonNegativeInt(name, v));
    return v as number;
  };
  const queryTimeout = positive('queryTimeout', o.queryTimeout, DEFAULT_QUERY_TIMEOUT);
  const connectTimeout = positive('connectTimeout', o.connectTimeout, DEFAULT_CONNECT_TIMEOUT);
  // GatewayClient grace period after losing every Register (PHP refetches every 1-2 s); 0 is allowed.
  const addressCacheTtl = o.addressCacheTtl ?? 1000;
  if (!Number.isInteger(addressCacheTtl) || addressCacheTtl < 0) problems.push(optionNotNonNegativeInt('addressCacheTtl', o.addressCacheTtl, 'ms'));
  const maxPackageSize = positive('maxPackageSize', o.maxPackageSize, DEFAULT_MAX_PACKAGE_SIZE);
  // A client message of the maximum size must always fit an inner packet with its header, the
  // client's session and a reply's prefix: the inner limit is derived from the client limit.
  const innerMaxPackageSize = positive('innerMaxPackageSize', o.innerMaxPackageSize, maxPackageSize + INNER_PACKET_HEADROOM);
  if (o.innerMaxPackageSize !== undefined && innerMaxPackageSize < maxPackageSize + MIN_INNER_PACKET_HEADROOM) {
    problems.push(
      `innerMaxPackageSize (${innerMaxPackageSize}) must exceed maxPackageSize (${maxPackageSize}) by at least ${MIN_INNER_PACKET_HEADROOM} bytes, ` +
        `so that a client message of the maximum size fits an inner packet with its header and session; leave it unset to derive it`,
    );
  }

  // An internal link's send buffer takes at least two packets of the largest size, so one large
  // packet never crowds out the next (and a confirmation can always follow a large reply).
  const linkBuffer = (name: string, v: unknown): number => {
    const size = positive(name, v, Math.max(DEFAULT_SEND_TO_WORKER_BUFFER_SIZE, 2 * innerMaxPackageSize));
    if (v !== undefined && size < innerMaxPackageSize) problems.push(`${name} (${size}) must be at least innerMaxPackageSize (${innerMaxPackageSize}), so that a packet of the largest size fits`);
    return size;
  };

  // Register: listen on the port of the first register address by default.
  let listenAt = { host: '0.0.0.0', port: splitAddress(String(registerAddresses[0] ?? ''))?.port ?? 1236 };
  if (o.register?.listen !== undefined) {
    const spec = String(o.register.listen).replace(/^text:\/\//i, '');
    const addr = splitAddress(spec, true);
    if (!addr) problems.push(registerListenInvalid(o.register.listen));
    else listenAt = addr;
  }
  const register = {
    ...listenAt,
    stalledLineTimeout: nonNegative('register.stalledLineTimeout', o.register?.stalledLineTimeout, DEFAULT_REGISTER_STALLED_LINE_TIMEOUT),
    maxConnectionsPerIp: nonNegative('register.maxConnectionsPerIp', o.register?.maxConnectionsPerIp, DEFAULT_REGISTER_MAX_CONNECTIONS_PER_IP),
  };
  if (o.protectedMode !== undefined && typeof o.protectedMode !== 'boolean') problems.push('protectedMode must be true or false');

  let gateway: ResolvedGatewayWorkerOptions['gateway'] = null;
  if (o.gateway) {
    const g = o.gateway;
    const uris = g.listen === undefined ? [] : ([] as unknown[]).concat(g.listen);
    if (uris.length === 0) problems.push(listenMissing());
    const listen = uris.map((u) => parseListen(u, problems)).filter((l): l is ListenAddress => l !== null);
    const lanIp = g.lanIp ?? '127.0.0.1';
    if (!isIPv4(lanIp)) problems.push(optionNotIPv4('gateway.lanIp', lanIp, 'it is encoded in every client_id'));
    const startPort = g.startPort ?? DEFAULT_START_PORT;
    const processIndex = g.processIndex ?? envProcessIndex();
    const count = g.count ?? 1;
    // startPort 0: every process gets an OS-chosen internal port (tests; not for PHP-style fixed clusters).
    if (!isPort(startPort) && startPort !== 0) problems.push(startPortInvalid(startPort));
    if (!Number.isInteger(processIndex) || processIndex < 0) problems.push(optionNotNonNegativeInt('gateway.processIndex'));
    if (!isPositiveInt(count)) problems.push(optionNotPositiveInt('gateway.count'));
    if (isPort(startPort) && !isPort(startPort + processIndex)) {
      problems.push(lanPortOutOfRange(startPort + processIndex));
    }
    if (g.slowClientPolicy !== undefined && g.slowClientPolicy !== 'close' && g.slowClientPolicy !== 'drop') {
      problems.push(optionNotOneOf('gateway.slowClientPolicy', ['drop', 'close']));
    }
    if (g.workerWaitPolicy !== undefined && g.workerWaitPolicy !== 'close' && g.workerWaitPolicy !== 'drop') {
      problems.push(optionNotOneOf('gateway.workerWaitPolicy', ['close', 'drop']));
    }
    if (g.router !== undefined && g.router !== 'least-connections' && g.router !== 'random') {
      problems.push(optionNotOneOf('gateway.router', ['least-connections', 'random']));
    }
    gateway = {
      listen,
      name: g.name ?? 'Gateway',
      lanIp,
      startPort,
      processIndex,
      count,
      lanPort: startPort === 0 ? 0 : startPort + processIndex,
      innerBindHost: g.innerTcpWorkerListen || (isIPv4(lanIp) && isPublicIPv4(lanIp) ? '0.0.0.0' : lanIp),
      sendToClientBufferSize: positive('gateway.sendToClientBufferSize', g.sendToClientBufferSize, DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE),
      sendToWorkerBufferSize: linkBuffer('gateway.sendToWorkerBufferSize', g.sendToWorkerBufferSize),
      router: g.router ?? 'least-connections',
      ...resolveClientEdge(g, listen, problems),
      workerWaitWindow: nonNegative('gateway.workerWaitWindow', g.workerWaitWindow, 10_000),
      resumeWindow: nonNegative('gateway.resumeWindow', g.resumeWindow, 0),
      resumeBufferSize: positive('gateway.resumeBufferSize', g.resumeBufferSize, 1_048_576),
      resumeTotalBufferSize: positive('gateway.resumeTotalBufferSize', g.resumeTotalBufferSize, 67_108_864),
      maxEventsInFlight: positive('gateway.maxEventsInFlight', g.maxEventsInFlight, 64),
      maxBytesInFlight: positive('gateway.maxBytesInFlight', g.maxBytesInFlight, 1_048_576),
      workerHangTimeout: nonNegative('gateway.workerHangTimeout', g.workerHangTimeout, 10_000),
      innerMaxConnectionsPerIp: nonNegative('gateway.innerMaxConnectionsPerIp', g.innerMaxConnectionsPerIp, 256),
      workerWaitPolicy: g.workerWaitPolicy ?? 'close',
      slowClientPolicy: g.slowClientPolicy ?? 'drop',
      stalledFrameTimeout: nonNegative('gateway.stalledFrameTimeout', g.stalledFrameTimeout, 30_000),
      maxConnectionsPerIp: nonNegative('gateway.maxConnectionsPerIp', g.maxConnectionsPerIp, 0),
    };
  }

  const w = o.businessWorker ?? {};
  const businessWorker = {
    name: w.name ?? 'BusinessWorker',
    processIndex: w.processIndex ?? envProcessIndex(),
    count: w.count ?? 1,
    sendToGatewayBufferSize: linkBuffer('businessWorker.sendToGatewayBufferSize', w.sendToGatewayBufferSize),
    lanIp: w.lanIp ?? null,
    noGatewayWarning: positive('businessWorker.noGatewayWarning', w.noGatewayWarning, 10_000),
    eventTimeout: nonNegative('businessWorker.eventTimeout', w.eventTimeout, 30_000),
    maxQueuedEvents: positive('businessWorker.maxQueuedEvents', w.maxQueuedEvents, 10_000),
  };
  if (businessWorker.lanIp !== null && !isIPv4(businessWorker.lanIp)) problems.push(optionNotIPv4('businessWorker.lanIp', businessWorker.lanIp));
  let metrics: ResolvedGatewayWorkerOptions['metrics'] = null;
  if (o.metrics) {
    if (!Number.isInteger(o.metrics.port) || o.metrics.port < 0 || o.metrics.port > 65535) problems.push(metricsPortInvalid());
    metrics = { port: o.metrics.port, host: o.metrics.host ?? '0.0.0.0', path: o.metrics.path ?? '/metrics' };
  }
  const h = o.health ?? {};
  if (h.port !== undefined && (!Number.isInteger(h.port) || h.port < 0 || h.port > 65535)) problems.push('health.port must be a port (0-65535)');
  const health = { port: h.port ?? null, host: h.host ?? '0.0.0.0', maxEventLoopDelay: positive('health.maxEventLoopDelay', h.maxEventLoopDelay, 2000) };
  if (typeof businessWorker.name !== 'string' || businessWorker.name === '' || businessWorker.name.includes(':')) {
    problems.push(workerNameInvalid());
  }
  if (!Number.isInteger(businessWorker.processIndex) || businessWorker.processIndex < 0) problems.push(optionNotNonNegativeInt('businessWorker.processIndex'));
  if (!isPositiveInt(businessWorker.count)) problems.push(optionNotPositiveInt('businessWorker.count'));

  if (problems.length) throw new GatewayWorkerOptionsError(problems);
  return {
    registerAddresses: registerAddresses as string[],
    secretKey: o.secretKey ?? '',
    protectedMode: o.protectedMode !== false,
    queryTimeout,
    connectTimeout,
    addressCacheTtl,
    maxPackageSize,
    innerMaxPackageSize,
    register,
    gateway,
    businessWorker,
    metrics,
    health,
  };
}
