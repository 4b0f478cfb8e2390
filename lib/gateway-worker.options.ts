import { isIPv4 } from 'node:net';
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_QUERY_TIMEOUT,
  DEFAULT_REGISTER_ADDRESS,
  DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE,
  DEFAULT_SEND_TO_WORKER_BUFFER_SIZE,
  DEFAULT_START_PORT,
} from './gateway-worker.constants.js';
import { ENV_PROCESS_INDEX } from './cli/cli.constants.js';
import { GatewayWorkerOptionsError } from './errors/gateway-worker-options.error.js';
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
  // 100.64.0.0/10 counts as public here, as in PHP's FILTER_FLAG_NO_RES_RANGE (PROTOCOL.md §5.2).
  return true;
}

/** Parses `"websocket://0.0.0.0:7272"`, `"wss://…"` or `"text+tls://…"`; pushes a problem and returns null when invalid. */
function parseListen(uri: unknown, problems: string[]): ListenAddress | null {
  if (typeof uri !== 'string') {
    problems.push(`gateway.listen: ${JSON.stringify(uri)} is not a string like "websocket://0.0.0.0:7272"`);
    return null;
  }
  const m = /^([a-z]+)(\+(?:tls|ssl))?:\/\/(.+)$/i.exec(uri);
  if (!m) {
    problems.push(`gateway.listen: "${uri}" has no protocol; write it as "<protocol>://<host>:<port>" with protocol ${PROTOCOLS.join(', ')}`);
    return null;
  }
  const scheme = m[1]!.toLowerCase();
  // `wss://` is websocket over TLS; `<protocol>+tls://` (or `+ssl`) any protocol over TLS.
  const protocol = (scheme === 'wss' ? 'websocket' : scheme) as ClientProtocolName;
  if (!PROTOCOLS.includes(protocol) || (scheme === 'wss' && m[2])) {
    problems.push(`gateway.listen: unknown protocol "${m[1]}${m[2] ?? ''}" in "${uri}"; use one of ${PROTOCOLS.join(', ')}`);
    return null;
  }
  const addr = splitAddress(m[3]!, true);
  if (!addr) {
    problems.push(`gateway.listen: "${uri}" has no valid port (0-65535; 0 lets the OS choose)`);
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
  if (g.transport !== undefined && g.transport !== 'tcp' && g.transport !== 'ssl') problems.push(`gateway.transport must be 'tcp' or 'ssl'`);
  if (g.transport === 'ssl') for (const l of listen) l.tls = true;
  const tlsListeners = listen.filter((l) => l.tls);
  let tls = g.tls ?? null;
  if (tls !== null && (typeof tls !== 'object' || Array.isArray(tls))) {
    problems.push('gateway.tls must be an object like { cert: "/path/cert.pem", key: "/path/key.pem" }');
    tls = null;
  } else if (tls !== null) {
    const isSource = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v) || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || Buffer.isBuffer(x)));
    for (const k of ['cert', 'key', 'ca', 'pfx'] as const) {
      if (tls[k] !== undefined && !isSource(tls[k])) problems.push(`gateway.tls.${k} must be a file path or the contents (string or Buffer)`);
    }
    if (tls.pfx === undefined && (tls.cert === undefined || tls.key === undefined)) problems.push('gateway.tls needs cert and key (or pfx)');
    if (tlsListeners.length === 0) problems.push(`gateway.tls is set but no listener uses TLS: write "wss://…" or "<protocol>+tls://…" in gateway.listen, or set gateway.transport to 'ssl'`);
  }
  if (tls === null && (g.tls === undefined || g.tls === null)) {
    for (const l of tlsListeners) problems.push(`gateway.listen "${l.uri}" uses TLS but gateway.tls (cert and key) is missing`);
  }
  const trustedProxies = g.trustedProxies === undefined ? [] : ([] as unknown[]).concat(g.trustedProxies);
  for (const entry of trustedProxies) {
    const problem = trustedProxyProblem(entry);
    if (problem) problems.push(`gateway.trustedProxies: ${problem}`);
  }
  const pingInterval = g.pingInterval ?? 0;
  if (typeof pingInterval !== 'number' || !Number.isFinite(pingInterval) || pingInterval < 0) problems.push('gateway.pingInterval must be a number of seconds ≥ 0 (0 turns the heartbeat off)');
  const pingNotResponseLimit = g.pingNotResponseLimit ?? 0;
  if (!Number.isInteger(pingNotResponseLimit) || pingNotResponseLimit < 0) problems.push('gateway.pingNotResponseLimit must be an integer ≥ 0');
  const pingData = g.pingData ?? '';
  if (typeof pingData !== 'string' && !Buffer.isBuffer(pingData)) problems.push('gateway.pingData must be a string or a Buffer');
  const timeout = g.webSocketConnectTimeout ?? DEFAULT_WEBSOCKET_CONNECT_TIMEOUT;
  if (!isPositiveInt(timeout)) problems.push('gateway.webSocketConnectTimeout must be a positive integer (ms)');
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
 * PROTOCOL.md §5.1 and §6.1). Runs when the module is instantiated, so a bad configuration stops
 * the app at startup.
 * @throws GatewayWorkerOptionsError listing every problem found.
 */
export function resolveGatewayWorkerOptions(raw: GatewayWorkerModuleOptions = {}): ResolvedGatewayWorkerOptions {
  const problems: string[] = [];
  const o = raw ?? {};

  const registerAddresses = o.registerAddress === undefined ? [DEFAULT_REGISTER_ADDRESS] : ([] as unknown[]).concat(o.registerAddress);
  if (registerAddresses.length === 0) problems.push('registerAddress is empty; give at least one "host:port" of a Register');
  for (const a of registerAddresses) {
    if (typeof a !== 'string' || !splitAddress(a)) problems.push(`registerAddress ${JSON.stringify(a)} is not "host:port" with a port of 1-65535`);
  }
  if (o.secretKey !== undefined && typeof o.secretKey !== 'string') problems.push('secretKey must be a string');

  const positive = (name: string, v: unknown, def: number): number => {
    if (v === undefined) return def;
    if (!isPositiveInt(v)) problems.push(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const nonNegative = (name: string, v: unknown, def: number): number => {
    if (v === undefined) return def;
    if (!Number.isInteger(v) || (v as number) < 0) problems.push(`${name} must be an integer ≥ 0, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const queryTimeout = positive('queryTimeout', o.queryTimeout, DEFAULT_QUERY_TIMEOUT);
  const connectTimeout = positive('connectTimeout', o.connectTimeout, DEFAULT_CONNECT_TIMEOUT);
  // GatewayClient grace period after losing every Register (PHP refetches every 1-2 s); 0 is allowed.
  const addressCacheTtl = o.addressCacheTtl ?? 1000;
  if (!Number.isInteger(addressCacheTtl) || addressCacheTtl < 0) problems.push(`addressCacheTtl must be an integer ≥ 0 (ms), got ${JSON.stringify(o.addressCacheTtl)}`);
  const maxPackageSize = positive('maxPackageSize', o.maxPackageSize, DEFAULT_MAX_PACKAGE_SIZE);
  const innerMaxPackageSize = positive('innerMaxPackageSize', o.innerMaxPackageSize, DEFAULT_MAX_PACKAGE_SIZE);

  // Register: listen on the port of the first register address by default.
  let register = { host: '0.0.0.0', port: splitAddress(String(registerAddresses[0] ?? ''))?.port ?? 1236 };
  if (o.register?.listen !== undefined) {
    const spec = String(o.register.listen).replace(/^text:\/\//i, '');
    const addr = splitAddress(spec, true);
    if (!addr) problems.push(`register.listen "${o.register.listen}" is not "text://host:port" with a port of 0-65535`);
    else register = addr;
  }

  let gateway: ResolvedGatewayWorkerOptions['gateway'] = null;
  if (o.gateway) {
    const g = o.gateway;
    const uris = g.listen === undefined ? [] : ([] as unknown[]).concat(g.listen);
    if (uris.length === 0) problems.push('gateway.listen is missing; give e.g. "websocket://0.0.0.0:7272"');
    const listen = uris.map((u) => parseListen(u, problems)).filter((l): l is ListenAddress => l !== null);
    const lanIp = g.lanIp ?? '127.0.0.1';
    if (!isIPv4(lanIp)) problems.push(`gateway.lanIp "${lanIp}" must be an IPv4 literal: it is encoded in every client_id`);
    const startPort = g.startPort ?? DEFAULT_START_PORT;
    const processIndex = g.processIndex ?? envProcessIndex();
    const count = g.count ?? 1;
    // startPort 0: every process gets an OS-chosen internal port (tests; not for PHP-style fixed clusters).
    if (!isPort(startPort) && startPort !== 0) problems.push(`gateway.startPort ${JSON.stringify(startPort)} is not a port (1-65535, or 0 for OS-chosen)`);
    if (!Number.isInteger(processIndex) || processIndex < 0) problems.push(`gateway.processIndex must be an integer ≥ 0`);
    if (!isPositiveInt(count)) problems.push(`gateway.count must be a positive integer`);
    if (isPort(startPort) && !isPort(startPort + processIndex)) {
      problems.push(`gateway.startPort + processIndex (${startPort + processIndex}) is beyond 65535`);
    }
    if (g.slowClientPolicy !== undefined && g.slowClientPolicy !== 'close' && g.slowClientPolicy !== 'drop') {
      problems.push(`gateway.slowClientPolicy must be 'drop' or 'close'`);
    }
    if (g.workerWaitPolicy !== undefined && g.workerWaitPolicy !== 'close' && g.workerWaitPolicy !== 'drop') {
      problems.push(`gateway.workerWaitPolicy must be 'close' or 'drop'`);
    }
    if (g.router !== undefined && g.router !== 'least-connections' && g.router !== 'random') {
      problems.push(`gateway.router must be 'least-connections' or 'random'`);
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
      sendToWorkerBufferSize: positive('gateway.sendToWorkerBufferSize', g.sendToWorkerBufferSize, DEFAULT_SEND_TO_WORKER_BUFFER_SIZE),
      router: g.router ?? 'least-connections',
      ...resolveClientEdge(g, listen, problems),
      workerWaitWindow: nonNegative('gateway.workerWaitWindow', g.workerWaitWindow, 10_000),
      workerWaitBufferSize: positive('gateway.workerWaitBufferSize', g.workerWaitBufferSize, DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE),
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
    sendToGatewayBufferSize: positive('businessWorker.sendToGatewayBufferSize', w.sendToGatewayBufferSize, DEFAULT_SEND_TO_WORKER_BUFFER_SIZE),
    lanIp: w.lanIp ?? null,
    noGatewayWarning: positive('businessWorker.noGatewayWarning', w.noGatewayWarning, 10_000),
    eventTimeout: nonNegative('businessWorker.eventTimeout', w.eventTimeout, 30_000),
    maxQueuedEvents: positive('businessWorker.maxQueuedEvents', w.maxQueuedEvents, 10_000),
  };
  if (businessWorker.lanIp !== null && !isIPv4(businessWorker.lanIp)) problems.push(`businessWorker.lanIp "${businessWorker.lanIp}" must be an IPv4 literal`);
  let metrics: ResolvedGatewayWorkerOptions['metrics'] = null;
  if (o.metrics) {
    if (!Number.isInteger(o.metrics.port) || o.metrics.port < 0 || o.metrics.port > 65535) problems.push('metrics.port must be a port (0-65535)');
    metrics = { port: o.metrics.port, host: o.metrics.host ?? '0.0.0.0', path: o.metrics.path ?? '/metrics' };
  }
  if (typeof businessWorker.name !== 'string' || businessWorker.name === '' || businessWorker.name.includes(':')) {
    problems.push('businessWorker.name must be a non-empty string without ":"');
  }
  if (!Number.isInteger(businessWorker.processIndex) || businessWorker.processIndex < 0) problems.push('businessWorker.processIndex must be an integer ≥ 0');
  if (!isPositiveInt(businessWorker.count)) problems.push('businessWorker.count must be a positive integer');

  if (problems.length) throw new GatewayWorkerOptionsError(problems);
  return {
    registerAddresses: registerAddresses as string[],
    secretKey: o.secretKey ?? '',
    queryTimeout,
    connectTimeout,
    addressCacheTtl,
    maxPackageSize,
    innerMaxPackageSize,
    register,
    gateway,
    businessWorker,
    metrics,
  };
}
