import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createServer, type Server as HttpServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BusinessWorkerServer } from '../business-worker/business-worker.server.js';
import { GatewayServer } from '../gateway/gateway.server.js';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';

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
 * @publicApi
 */
@Injectable()
export class GatewayWorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  /** The registry, to merge into an app's own (`Registry.merge`) or scrape directly. */
  readonly registry = new Registry();
  /** Handler durations, observed by the BusinessWorker for each event. */
  readonly eventDuration: Histogram<'event'>;
  private readonly logger = new Logger('GatewayWorkerMetrics');
  private http: HttpServer | null = null;

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    gateway: GatewayServer,
    worker: BusinessWorkerServer,
  ) {
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
    if (!m) return;
    this.http = createServer(async (req, res) => {
      if (req.url?.split('?')[0] !== m.path) return void res.writeHead(404).end('Not found\n');
      res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(await this.metrics());
    });
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject).listen(m.port, m.host, () => resolve());
    });
    const a = this.http.address() as { port: number };
    this.logger.log(`Prometheus metrics on http://${m.host}:${a.port}${m.path}`);
  }

  /** The port the metrics endpoint listens on (0 when disabled). */
  get port(): number {
    const a = this.http?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  async onModuleDestroy(): Promise<void> {
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    this.http = null;
  }
}
