import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BusinessWorkerServer } from '../business-worker/business-worker.server.js';
import { GatewayServer } from '../gateway/gateway.server.js';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import { healthEndpoints, metricsEndpoint } from '../gateway-worker.messages.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { RegisterServer } from '../register/register.server.js';
import { EventLoopMonitor } from './event-loop.monitor.js';
import { HealthCheck, type HealthAnswer } from './health.check.js';

/** A counter fed from a running total read at scrape time (no per-message work). */
function totalCounter(registry: Registry, name: string, help: string, read: () => Record<string, number>): void {
  const last = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: ['tier'],
    registers: [registry],
    collect() {
      for (const [tier, value] of Object.entries(read())) {
        const delta = value - (last.get(tier) ?? 0);
        if (delta > 0) this.inc({ tier }, delta);
        last.set(tier, value);
      }
    },
  });
}

/**
 * Prometheus metrics of the tiers running in this process (prom-client, in a registry of its own):
 * connections, messages in and out, send failures, buffered bytes, worker events handled and their
 * duration. Exposed over HTTP when the `metrics` option is set (opt-in), or read with `metrics()`.
 * Counters are read from the servers' own totals at scrape time, so the hot paths only add numbers.
 *
 * The same HTTP server answers the health checks `/healthz` and `/readyz` (see HealthCheck), which
 * the `health` option can also serve on a port of their own. The servers stay open until the app
 * has shut down, so `/readyz` answers 503 ("stopping") while the tiers close.
 *
 * @publicApi
 */
@Injectable()
export class GatewayWorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  /** The registry, to merge into an app's own (`Registry.merge`) or scrape directly. */
  readonly registry = new Registry();
  /** Handler durations, observed by the BusinessWorker for each event. */
  readonly eventDuration: Histogram<'event'>;
  /** Liveness and readiness of this process's tiers, as `/healthz` and `/readyz` answer them. */
  readonly health: HealthCheck;
  private readonly logger = new Logger('GatewayWorkerMetrics');
  private readonly loop = new EventLoopMonitor();
  private http: HttpServer | null = null;
  private healthHttp: HttpServer | null = null;

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    register: RegisterServer,
    gateway: GatewayServer,
    worker: BusinessWorkerServer,
  ) {
    this.health = new HealthCheck(register, gateway, worker, this.loop, options.health.maxEventLoopDelay);
    const r = this.registry;
    const gw = () => (gateway.isListening ? gateway.counters : null);
    const bw = () => (worker.isRunning ? worker.counters : null);
    const byTier = (g: (c: GatewayServer['counters']) => number, w: (c: BusinessWorkerServer['counters']) => number) => () => {
      const out: Record<string, number> = {};
      const gc = gw();
      const wc = bw();
      if (gc) out.gateway = g(gc);
      if (wc) out['business-worker'] = w(wc);
      return out;
    };
    new Gauge({
      name: 'gateway_worker_connections',
      help: 'Client connections (gateway) or gateway links (business worker)',
      labelNames: ['tier'],
      registers: [r],
      collect() {
        if (gateway.isListening) this.set({ tier: 'gateway' }, gateway.clientCount);
        if (worker.isRunning) this.set({ tier: 'business-worker' }, worker.connectedGateways.length);
      },
    });
    new Gauge({
      name: 'gateway_worker_buffered_bytes',
      help: 'Bytes queued in send buffers (client sockets and internal links)',
      labelNames: ['tier'],
      registers: [r],
      collect() {
        if (gateway.isListening) this.set({ tier: 'gateway' }, gateway.bufferedBytes);
        if (worker.isRunning) this.set({ tier: 'business-worker' }, worker.bufferedBytes);
      },
    });
    totalCounter(r, 'gateway_worker_messages_in_total', 'Messages received: from clients (gateway), events from gateways (business worker)', byTier((c) => c.messagesIn, (c) => c.eventsIn));
    totalCounter(r, 'gateway_worker_messages_out_total', 'Messages sent: deliveries to clients (gateway), commands to gateways (business worker)', byTier((c) => c.messagesOut, (c) => c.commandsOut));
    totalCounter(r, 'gateway_worker_send_failures_total', 'Messages dropped because a send buffer was full or a link was down', byTier((c) => c.sendFailures, (c) => c.sendFailures));
    totalCounter(r, 'gateway_worker_events_lost_total', 'Events a worker received but never confirmed before it disconnected', byTier((c) => c.eventsLost, () => 0));
    totalCounter(r, 'gateway_worker_events_handled_total', 'Client events handled by business worker handlers', byTier(() => 0, (c) => c.eventsHandled));
    // Resumable clients (gateway.resumeWindow): waiting now, bytes held, and what happened to them.
    new Gauge({
      name: 'gateway_worker_resume_waiting_clients',
      help: 'Clients whose connection broke, kept for resumeWindow',
      registers: [r],
      collect() {
        if (gateway.isListening) this.set(gateway.resumeStats.waiting);
      },
    });
    new Gauge({
      name: 'gateway_worker_resume_buffered_bytes',
      help: 'Bytes of unacknowledged messages held for resumable clients',
      registers: [r],
      collect() {
        if (gateway.isListening) this.set(gateway.resumeStats.bytes);
      },
    });
    const resumeLast = new Map<string, number>();
    new Counter({
      name: 'gateway_worker_resume_total',
      help: 'Resumable clients: parked, resumes, handovers (in), handedOff (out), expiries, overflows, refused',
      labelNames: ['kind'],
      registers: [r],
      collect() {
        if (!gateway.isListening) return;
        for (const [kind, value] of Object.entries(gateway.counters.resume)) {
          const delta = value - (resumeLast.get(kind) ?? 0);
          if (delta > 0) this.inc({ kind }, delta);
          resumeLast.set(kind, value);
        }
      },
    });
    // Every limit that bites, by name: drops per reason, flow-control pauses, hung workers, refused peers.
    const limitsSeen = new Map<string, number>();
    new Counter({
      name: 'gateway_worker_limit_hits_total',
      help: 'Times a limit bit, by tier and limit (e.g. slowClientDrop, flowControlPause, workerHung, protectedMode, refusedPeers)',
      labelNames: ['tier', 'limit'],
      registers: [r],
      collect() {
        const hits: [string, string, number][] = [];
        if (gateway.isListening) for (const [limit, n] of Object.entries(gateway.counters.limits)) hits.push(['gateway', limit, n]);
        if (worker.isRunning) hits.push(['business-worker', 'maxQueuedEvents', worker.counters.readPauses], ['business-worker', 'eventTimeout', worker.counters.eventTimeouts]);
        if (register.port > 0) {
          const c = register.counters;
          hits.push(['register', 'protectedMode', c.refusedPeers]);
          for (const [limit, n] of Object.entries(c.closedForLimit)) hits.push(['register', limit, n]);
        }
        for (const [tier, limit, n] of hits) {
          const key = `${tier}/${limit}`;
          const delta = n - (limitsSeen.get(key) ?? 0);
          if (delta > 0) this.inc({ tier, limit }, delta);
          limitsSeen.set(key, n);
        }
      },
    });
    new Gauge({
      name: 'gateway_worker_paused_clients',
      help: 'Clients whose socket is not being read (flow control, or their events waiting for a worker)',
      registers: [r],
      collect() {
        if (gateway.isListening) this.set(gateway.pausedClients);
      },
    });
    new Gauge({
      name: 'gateway_worker_queued_events',
      help: 'Events a business worker has received and not yet handled',
      registers: [r],
      collect() {
        if (worker.isRunning) this.set(worker.queuedEvents);
      },
    });
    this.eventDuration = new Histogram({
      name: 'gateway_worker_event_duration_seconds',
      help: 'Time from an event reaching its handler to the handler settling',
      labelNames: ['event'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [r],
    });
    // Timing every event costs a clock read and a histogram update: only when metrics are served.
    if (options.metrics) worker.observeEventDuration = (event, seconds) => this.eventDuration.observe({ event }, seconds);
  }

  /** The metrics in Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  async onApplicationBootstrap(): Promise<void> {
    const m = this.options.metrics;
    const h = this.options.health;
    if (m || h.port !== null) this.loop.start();
    if (m) {
      this.http = await this.serve(m.port, m.host, async (path, res) => {
        if (path !== m.path) return false;
        res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(await this.metrics());
        return true;
      });
      this.logger.log(metricsEndpoint(m.host, portOf(this.http), m.path));
    }
    if (h.port !== null) {
      this.healthHttp = await this.serve(h.port, h.host, async () => false);
      this.logger.log(healthEndpoints(h.host, portOf(this.healthHttp)));
    }
  }

  /** An HTTP server answering the health checks, and whatever `route` takes; 404 otherwise. */
  private async serve(port: number, host: string, route: (path: string, res: ServerResponse) => Promise<boolean>): Promise<HttpServer> {
    const answer = (res: ServerResponse, a: HealthAnswer) =>
      res.writeHead(a.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(a.body) + '\n');
    const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
      const path = req.url?.split('?')[0] ?? '';
      if (path === '/healthz') return answer(res, this.health.liveness());
      if (path === '/readyz') return answer(res, this.health.readiness());
      if (!(await route(path, res))) res.writeHead(404).end('Not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject).listen(port, host, () => resolve());
    });
    return server;
  }

  /** The port the metrics endpoint listens on (0 when disabled). */
  get port(): number {
    return portOf(this.http);
  }

  /** The port of the health-only endpoint (`health.port`; 0 when not set). */
  get healthPort(): number {
    return portOf(this.healthHttp);
  }

  /** Shutdown begins: not ready any more, while the endpoints keep answering. */
  onModuleDestroy(): void {
    this.health.markStopping();
  }

  /** Everything has closed: so do the endpoints. */
  async onApplicationShutdown(): Promise<void> {
    this.loop.stop();
    for (const server of [this.http, this.healthHttp]) {
      server?.closeAllConnections();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    }
    this.http = null;
    this.healthHttp = null;
  }
}

function portOf(server: HttpServer | null): number {
  const a = server?.address();
  return a && typeof a === 'object' ? a.port : 0;
}
