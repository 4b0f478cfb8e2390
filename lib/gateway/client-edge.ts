import type { Logger } from '@nestjs/common';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { WebSocketServer } from 'ws';
import { listenFailed, stalledFrame } from '../gateway-worker.messages.js';
import type { ListenAddress } from '../interfaces/resolved-options.interface.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import type { ClientConnection } from './client-connection.js';
import type { ClientLifecycle } from './client-lifecycle.js';
import type { GatewayCounters } from './gateway-counters.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import type { PendingHandshakes } from './pending-handshakes.js';
import { createStreamListener } from './stream.listener.js';
import { TrustedProxies } from './trusted-proxies.js';
import { createWebSocketListener, type WebSocketListenerOptions } from './websocket.listener.js';
import { RESUME_SUBPROTOCOL } from '../protocol/resume-envelope.js';

/** How long close() lets clients see a clean close before cutting the rest. */
const CLOSE_GRACE = 2_000;

/** The settings of a gateway's public side. */
export interface ClientEdgeOptions extends HeartbeatOptions {
  name: string;
  listen: ListenAddress[];
  /** Loaded TLS options, for the listeners that use TLS. */
  tls: TlsOptions | null;
  trustedProxies: string[];
  maxPackageSize: number;
  webSocketPingIsActivity: boolean;
  /** 0: never. */
  stalledFrameTimeout: number;
  /** This gateway's `"<lanIp>:<lanPort>"` (a resume naming another gateway is a hand-over). */
  address: WebSocketListenerOptions['address'];
  /** Takes a client over from another gateway. */
  handover: WebSocketListenerOptions['handover'];
}

/**
 * The public side of a gateway: its listeners (text, frame, tcp, websocket, with TLS), the
 * heartbeat and the sweep for half-sent frames. What happens to each client is its lifecycle's
 * business; this part owns the servers and the timers' rules.
 */
export class ClientEdge {
  private readonly servers: (NetServer | HttpServer)[] = [];
  private wss: WebSocketServer | null = null;
  private heartbeat: Heartbeat | null = null;

  constructor(
    private readonly lifecycle: ClientLifecycle,
    private readonly clients: ReadonlyMap<number, ClientConnection>,
    private readonly pending: PendingHandshakes,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    private readonly options: ClientEdgeOptions,
  ) {}

  /** The public ports actually listened on, in the order of `listen`. */
  get publicPorts(): number[] {
    return this.servers.map((s) => {
      const a = s.address();
      return a && typeof a === 'object' ? a.port : 0;
    });
  }

  /** The listening servers. */
  get publicServers(): (NetServer | HttpServer)[] {
    return [...this.servers];
  }

  /** `protocol[+tls]://host:port` of each listener, with the actual ports. */
  describe(): string[] {
    const ports = this.publicPorts;
    return this.options.listen.map((l, i) => `${l.protocol}${l.tls ? '+tls' : ''}://${l.host}:${ports[i]}`);
  }

  /** Opens every listener, then starts the heartbeat. */
  async listen(): Promise<void> {
    const o = this.options;
    const trustedProxies = new TrustedProxies(o.trustedProxies);
    for (const l of o.listen) {
      const tls = l.tls ? o.tls : null;
      const server =
        l.protocol === 'websocket'
          ? createWebSocketListener(this.lifecycle, l, {
              wss: this.webSocketServer(),
              tls,
              trustedProxies,
              pending: this.pending,
              pingIsActivity: o.webSocketPingIsActivity,
              logger: this.logger,
              address: o.address,
              handover: o.handover,
            })
          : createStreamListener(this.lifecycle, l, o.maxPackageSize, tls);
      this.servers.push(server);
      await listenOn(server, l.host, l.port, `${o.name} ${l.uri}`);
    }
    // A silent client's connection is cut, not closed for good: an opted-in one may resume.
    this.heartbeat = new Heartbeat(o, this.clients, (client) => client.cut());
    this.heartbeat.start();
  }

  /** Closes clients whose frame has been half-sent longer than `stalledFrameTimeout`. */
  sweep(now = Date.now()): void {
    const timeout = this.options.stalledFrameTimeout;
    if (timeout === 0) return;
    const deadline = now - timeout;
    for (const c of this.clients.values()) {
      // A client we stopped reading cannot finish its frame: not stalled by its own doing.
      if (c.paused || c.parked) {
        c.partialSince = 0;
        continue;
      }
      // ws parses websocket frames itself: ask its receiver whether it holds part of one (an
      // internal of ws 8, read defensively), and time it from the first sweep that sees it.
      if (c.ws) {
        const r = (c.ws as unknown as { _receiver?: { _bufferedBytes?: number; _state?: number; _fragments?: unknown[] } })._receiver;
        // Mid-frame: bytes held, a header read but not its payload (state ≠ GET_INFO), or a fragmented message begun.
        const partial = !!r && ((r._bufferedBytes ?? 0) > 0 || (r._state ?? 0) !== 0 || (r._fragments?.length ?? 0) > 0);
        c.partialSince = partial ? c.partialSince || now : 0;
      }
      if (c.partialSince !== 0 && c.partialSince < deadline) {
        this.counters.limits.stalledFrame++;
        this.limiter.warn(this.logger, `stalled:${c.socket.remoteAddress}`, stalledFrame(`client ${this.lifecycle.clientIdOf(c)} (${c.socket.remoteAddress})`, timeout));
        c.cut();
      }
    }
  }

  /**
   * Stops accepting and closes every client cleanly (websocket clients get a close frame; the
   * workers get their ON_CLOSE events), cutting those that do not finish within a grace period.
   */
  async close(): Promise<void> {
    this.lifecycle.closing = true;
    this.heartbeat?.stop();
    this.pending.clear();
    for (const s of this.servers) s.close();
    for (const c of [...this.clients.values()]) c.kick(null, 1001);
    await waitUntil(() => this.clients.size === 0, CLOSE_GRACE);
    for (const c of this.clients.values()) c.socket.destroy();
    this.wss?.close();
    this.servers.length = 0;
  }

  /** The one `ws` server of this gateway: it only frames and parses, the listeners own the sockets. */
  private webSocketServer(): WebSocketServer {
    return (this.wss ??= new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: this.options.maxPackageSize,
      skipUTF8Validation: true,
      // ws's default (the first offered), except that the resume envelope wins when offered.
      handleProtocols: (protocols: Set<string>) => (protocols.has(RESUME_SUBPROTOCOL) ? RESUME_SUBPROTOCOL : (protocols.values().next().value ?? false)),
    }));
  }
}

/** Listens, turning a failure into an error that names the listener and what to do. */
export function listenOn(server: NetServer | HttpServer, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(listenFailed(what, `${host}:${port}`, err.message)));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Resolves when `cond` holds or `ms` have passed. */
export async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
