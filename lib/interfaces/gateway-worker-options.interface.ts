import type { ModuleMetadata, Type } from '@nestjs/common';
import type { TlsOptions } from 'node:tls';

/**
 * Options of the Register tier (the discovery service gateways and workers meet at).
 * A Register is one process; its state lives in memory (docs/protocol.md §1).
 *
 * @publicApi
 */
export interface RegisterOptions {
  /** Where to listen: `"text://0.0.0.0:1236"` or `"0.0.0.0:1236"`. Default: the port of the first `registerAddress`, on all interfaces. */
  listen?: string;
  /**
   * A connection that leaves a line unfinished this long (ms) is closed (a Register line is a
   * small JSON object sent at once). Default `30000`; `0` = never.
   */
  stalledLineTimeout?: number;
  /**
   * Most connections to the Register from one remote address; further ones are refused at accept.
   * A host runs one link per gateway and worker process (and per GatewayClient), so the default
   * leaves room for any real host while a stranger cannot pin memory with thousands. Default
   * `256`; `0` = no limit.
   */
  maxConnectionsPerIp?: number;
}

/**
 * Options of the Gateway tier: the processes that hold client connections.
 *
 * @publicApi
 */
export interface GatewayOptions {
  /**
   * Public listen URI(s): `text://` (newline-delimited, telnet works), `frame://` (4-byte length
   * prefix), `tcp://` (no framing, as workerman's plain TCP) or `websocket://`, e.g.
   * `['text://0.0.0.0:8282', 'websocket://0.0.0.0:7272']`. One gateway process may serve several.
   */
  listen: string | string[];
  /** Process name shown in logs and status. Default `'Gateway'`. */
  name?: string;
  /** IPv4 literal other hosts reach this gateway on; part of every client_id. Default `'127.0.0.1'`. */
  lanIp?: string;
  /** First internal port; process `i` listens on `startPort + i`. Default `2000`; `0` lets the OS choose (tests). */
  startPort?: number;
  /** Index of this process among `count` gateway processes. Default `0`. */
  processIndex?: number;
  /** Number of gateway processes the process manager starts. Default `1`. */
  count?: number;
  /** Bind address of the internal port when it differs from lanIp (Docker/NAT). Default: derived from lanIp. */
  innerTcpWorkerListen?: string;
  /** Bytes queued for one client before new messages to it are dropped. Default `1_024_000`. */
  sendToClientBufferSize?: number;
  /** Bytes queued on one internal link before new packets on it are dropped. Default `10_240_000`. */
  sendToWorkerBufferSize?: number;
  /** How a client is bound to a worker: `'least-connections'` (default) or `'random'`; sticky either way. */
  router?: 'least-connections' | 'random';
  /**
   * Certificate and key of the TLS listeners (`wss://`, `text+tls://`…, or every listener with
   * `transport: 'ssl'`): Node's TLS server options, where `cert`, `key`, `ca` and `pfx` are file
   * paths or contents. An unreadable file stops the gateway at startup, naming the path.
   */
  tls?: GatewayTlsOptions;
  /**
   * Workerman's `$gateway->transport`: `'ssl'` makes every listener TLS (needs `tls`); `'tcp'`
   * (default) leaves it to each listen URI (`wss://`, `<protocol>+tls://`).
   */
  transport?: 'tcp' | 'ssl';
  /**
   * Proxies (addresses or CIDR blocks, e.g. `['127.0.0.1']` for an nginx on the same host) whose
   * `X-Real-IP` / `X-Forwarded-For` headers give a websocket client's real address. Headers from
   * anyone else are ignored. Default `[]`.
   */
  trustedProxies?: string[];
  /** Heartbeat period in seconds (fractions allowed); `0` turns the heartbeat off (docs/protocol.md §5.9). Default `0`. */
  pingInterval?: number;
  /**
   * Close a client after this many `pingInterval`s without a message from it; `0` never closes
   * (`pingData` is still sent). Default `0`.
   */
  pingNotResponseLimit?: number;
  /** Sent to clients as a normal message on heartbeat ticks; `''` sends nothing. Default `''`. */
  pingData?: string | Buffer;
  /**
   * Count websocket ping and pong control frames as client activity for the heartbeat (PHP counts
   * only data messages). Default `false`.
   */
  webSocketPingIsActivity?: boolean;
  /**
   * How long a websocket handshake may wait for the verdict of a worker's `@OnWebSocketConnect`
   * handlers, in ms; then it is refused with 503. Default `5000`.
   */
  webSocketConnectTimeout?: number;
  /**
   * How long a client's events may wait for a worker, in ms: while no worker is connected, or while
   * the client's worker finishes its events during a reload. They are then delivered in order.
   * `0` closes the client at once when no worker is connected, as GatewayWorker does. Default `10000`.
   */
  workerWaitWindow?: number;
  /**
   * Resumable clients: how long (ms) the gateway keeps an opted-in client whose connection broke —
   * its client_id, session, uid, groups, and the messages sent to it — for the client to come back
   * with its resume token (the SDK `nestjs-gateway-worker/client` does). `0` (default) = off:
   * GatewayWorker's behaviour, a broken connection is closed. Clients that do not opt in (the
   * websocket subprotocol `gateway-worker.resume.v1`) are never kept.
   */
  resumeWindow?: number;
  /**
   * Bytes of unacknowledged messages one resumable client may hold (default `1_048_576`). Past it
   * a connected client stops being resumable, a waiting one is closed for good.
   */
  resumeBufferSize?: number;
  /** Bytes of unacknowledged messages all resumable clients of a gateway process may hold (default `67_108_864`). */
  resumeTotalBufferSize?: number;
  /**
   * When a client's events waited longer than `workerWaitWindow` for a worker: `'close'` the client
   * (default; GatewayWorker's behaviour), or `'drop'` its waiting events, counted and logged.
   */
  workerWaitPolicy?: 'close' | 'drop';
  /**
   * Flow control: events of one client that may be in flight to its worker (sent, not yet
   * confirmed handled). When a client has this many, the gateway stops reading its socket until
   * the worker confirms some, so TCP pushes back on that sender alone. Default `64`.
   */
  maxEventsInFlight?: number;
  /**
   * Flow control: bytes of one client's events that may be in flight to its worker (a single
   * event larger than this still goes when nothing else is in flight). Default `1_048_576`.
   */
  maxBytesInFlight?: number;
  /**
   * A TypeScript worker that sends nothing at all (no confirmation, no status report) for this
   * long (ms) while events are outstanding is declared hung: the gateway closes its link, counts
   * its unconfirmed events as lost (logged), and its clients move to the other workers. `0` = never.
   * Default `10000`.
   */
  workerHangTimeout?: number;
  /** Most connections on the internal port from one remote address. Default `256`; `0` = no limit. */
  innerMaxConnectionsPerIp?: number;
  /**
   * A client whose send buffer is full (`sendToClientBufferSize`): `'drop'` the messages to it,
   * counted (default; GatewayWorker's behaviour), or `'close'` it — websocket clients get close
   * code 1008 with the reason.
   */
  slowClientPolicy?: 'drop' | 'close';
  /** A client or internal link that leaves a frame half-sent this long (ms) is closed. Default `30000`; `0` = never. */
  stalledFrameTimeout?: number;
  /** Most connections from one remote address (`0` = no limit, the default). */
  maxConnectionsPerIp?: number;
}

/**
 * PEM (or PFX) material: a file path, or the contents as a string or Buffer; several for a chain of CAs.
 *
 * @publicApi
 */
export type TlsSource = string | Buffer | (string | Buffer)[];

/**
 * `gateway.tls`: Node's TLS server options with `cert`, `key`, `ca` and `pfx` as paths or contents.
 *
 * @publicApi
 */
export interface GatewayTlsOptions extends Omit<TlsOptions, 'cert' | 'key' | 'ca' | 'pfx'> {
  /** Certificate chain (PEM): a path, or contents. */
  cert?: TlsSource;
  /** Private key (PEM): a path, or contents. */
  key?: TlsSource;
  /** CA certificates to trust for client certificates (PEM): a path, or contents. */
  ca?: TlsSource;
  /** A PKCS#12 bundle instead of `cert` + `key`: a path, or contents (Buffer). */
  pfx?: string | Buffer;
  /** Passphrase of `key` or `pfx`. */
  passphrase?: string;
}

/**
 * Options of the BusinessWorker tier: the processes that run your event handlers.
 *
 * @publicApi
 */
export interface BusinessWorkerOptions {
  /**
   * Worker name; gateways identify a worker connection by `"<host>:<name>:<processIndex>"`, so it
   * must be unique per host (use a different name from PHP workers on the same host). Default `'BusinessWorker'`.
   */
  name?: string;
  /** Index of this process among `count` worker processes. Default `0`. */
  processIndex?: number;
  /** Number of worker processes the process manager starts. Default `1`. */
  count?: number;
  /** Bytes queued on one gateway link before new packets are dropped. Default `10_240_000`. */
  sendToGatewayBufferSize?: number;
  /**
   * This host's IPv4 address: the worker connects to gateways from it and `status` shows it.
   * Default: whatever address the OS picks (the gateway sees that one).
   */
  lanIp?: string;
  /** After how long without any gateway the worker warns (ms). Default `10000`. */
  noGatewayWarning?: number;
  /**
   * A handler that has not settled after this long (ms) is logged and no longer waited for, so the
   * client's next events run (the handler itself cannot be cancelled). Default `30000`; `0` = wait forever.
   */
  eventTimeout?: number;
  /**
   * Events this worker may hold received but not yet handled, over all its clients and gateways.
   * Past it the worker stops reading its gateway links (the gateways keep the events, each client
   * within its budget) and reads again once half of them are handled; each time is logged
   * (rate-limited) and counted. Default `10000`.
   */
  maxQueuedEvents?: number;
}

/**
 * The opt-in Prometheus endpoint (`metrics` option).
 *
 * @publicApi
 */
export interface MetricsOptions {
  /** Port of the HTTP endpoint (0: OS-chosen). */
  port: number;
  /** Default `'0.0.0.0'`. */
  host?: string;
  /** Default `'/metrics'`. */
  path?: string;
}

/**
 * Health checks for an orchestrator (`health` option): `/healthz` (liveness) and `/readyz`
 * (readiness). They are always on the metrics endpoint when `metrics` is set; `port` serves them
 * on a port of their own, without Prometheus.
 *
 * @publicApi
 */
export interface HealthOptions {
  /** Serve `/healthz` and `/readyz` on this port (0: OS-chosen). Without it, only on the metrics port. */
  port?: number;
  /** Default `'0.0.0.0'`. */
  host?: string;
  /** `/healthz` fails when the event loop was blocked longer than this in the last 5 s, ms. Default `2000`. */
  maxEventLoopDelay?: number;
}

/**
 * Options of `GatewayWorkerModule.forRoot()`. Every tier of one cluster shares `registerAddress` and `secretKey`.
 *
 * @publicApi
 */
export interface GatewayWorkerModuleOptions {
  /** Register address(es) `"host:port"`; gateways and workers use all of them. Default `'127.0.0.1:1236'`. */
  registerAddress?: string | string[];
  /** Shared secret of the Register and every internal link. Default `''` (anyone reaching an internal port has full control). */
  secretKey?: string;
  /**
   * With no `secretKey`, accept internal peers (the Register's, and the gateways' internal ports)
   * only from this host: loopback and the host's own addresses. Anyone else is refused when they
   * connect, with a warning naming them. Redis's protected mode, for the same reason: without a key
   * anyone who can reach those ports controls the cluster. A cluster spanning hosts sets
   * `secretKey` on every tier (then anybody may connect: the key authenticates), or, for a PHP
   * cluster on a private network without a key, `protectedMode: false`. Default `true`.
   */
  protectedMode?: boolean;
  /** Options of the Register tier, used when this app runs `RegisterServer`. */
  register?: RegisterOptions;
  /** Options of the Gateway tier, required when this app runs `GatewayServer`. */
  gateway?: GatewayOptions;
  /** Options of the BusinessWorker tier, used when this app runs `BusinessWorkerServer`. */
  businessWorker?: BusinessWorkerOptions;
  /** Per-gateway timeout of queries, in ms. Default `5000`. */
  queryTimeout?: number;
  /** Timeout of TCP connects to gateways and registers, in ms. Default `3000`. */
  connectTimeout?: number;
  /**
   * GatewayClient (GatewayService outside a BusinessWorker): how long, in ms, it keeps using the last
   * gateway list the Registers pushed once every Register link is down. Past that, calls that reach
   * every gateway reject with `RegisterUnavailableError` at once, until a Register answers again.
   * Default `1000` (PHP's GatewayClient refetches the list every 1–2 s); `0` fails as soon as the
   * last Register link drops.
   */
  addressCacheTtl?: number;
  /** Largest message a client may send (a line, a frame, a websocket message), in bytes. Default `10_485_760` (workerman's). */
  maxPackageSize?: number;
  /**
   * Largest packet accepted on the internal links (gateway ↔ worker), in bytes. Default
   * `maxPackageSize` + 1 MiB, so that a client message of the maximum size always fits with its
   * header, the client's session and a reply's prefix; a value set by hand must be at least
   * 64 bytes (a header) above `maxPackageSize`. A larger packet is skipped on its own (logged, counted), never by
   * closing the link; `GatewayService` rejects such a send with `PacketTooLargeError`.
   */
  innerMaxPackageSize?: number;
  /** Serve Prometheus metrics of this process's tiers over HTTP (off by default). */
  metrics?: MetricsOptions;
  /** `/healthz` and `/readyz` on their own port, and their threshold (they are on the metrics port anyway). */
  health?: HealthOptions;
  /** Register the module globally (default `true`), so GatewayService can be injected anywhere. */
  global?: boolean;
}

/**
 * A class that builds the options, for `forRootAsync({ useClass })`.
 *
 * @publicApi
 */
export interface GatewayWorkerOptionsFactory {
  createGatewayWorkerOptions(): Promise<GatewayWorkerModuleOptions> | GatewayWorkerModuleOptions;
}

/**
 * Options of `GatewayWorkerModule.forRootAsync()`.
 *
 * @publicApi
 */
export interface GatewayWorkerModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory?: (...args: any[]) => Promise<GatewayWorkerModuleOptions> | GatewayWorkerModuleOptions;
  inject?: any[];
  useClass?: Type<GatewayWorkerOptionsFactory>;
  useExisting?: Type<GatewayWorkerOptionsFactory>;
  global?: boolean;
}
