import type { BusinessWorkerServer } from '../business-worker/business-worker.server.js';
import type { GatewayServer } from '../gateway/gateway.server.js';
import type { RegisterServer } from '../register/register.server.js';
import type { EventLoopMonitor } from './event-loop.monitor.js';

/** An answer of `/healthz` or `/readyz`: the HTTP status and a JSON body. */
export interface HealthAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

type TierName = 'register' | 'gateway' | 'business-worker';

/**
 * Liveness and readiness of the tiers this process runs, for an orchestrator's probes:
 *
 * - live (`/healthz`): the event loop is not stalled — its delay stayed below `maxEventLoopDelay`;
 * - ready (`/readyz`): every tier this process runs can do its work — a Register listens, a
 *   gateway listens and is registered with a Register, a BusinessWorker is connected to at least
 *   one gateway and not draining. Not ready before any tier has started, and from the moment the
 *   app begins to shut down (so a load balancer stops sending before the ports close).
 */
export class HealthCheck {
  private readonly seen = new Set<TierName>();
  private stopping = false;

  constructor(
    private readonly register: RegisterServer,
    private readonly gateway: GatewayServer,
    private readonly worker: BusinessWorkerServer,
    private readonly loop: EventLoopMonitor,
    private readonly maxEventLoopDelay: number,
  ) {}

  /** From now on, `/readyz` answers 503 ("stopping"). */
  markStopping(): void {
    this.stopping = true;
  }

  liveness(): HealthAnswer {
    const delay = this.loop.delay;
    const ok = delay <= this.maxEventLoopDelay;
    return {
      status: ok ? 200 : 503,
      body: { status: ok ? 'ok' : 'event loop stalled', eventLoopDelayMs: delay, maxEventLoopDelayMs: this.maxEventLoopDelay, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) },
    };
  }

  readiness(): HealthAnswer {
    const tiers: Partial<Record<TierName, Record<string, unknown> & { ready: boolean }>> = {};
    const registerListening = this.register.port > 0;
    if (registerListening) this.seen.add('register');
    if (this.seen.has('register')) tiers.register = { ready: registerListening, listening: registerListening };

    const gatewayListening = this.gateway.isListening;
    if (gatewayListening || this.gateway.closing) this.seen.add('gateway');
    if (this.seen.has('gateway')) {
      // A gateway that can say whether a Register accepted it reports `isRegistered`; one that
      // cannot counts as registered once it listens (it registers right after).
      const registered = gatewayListening && ((this.gateway as unknown as { isRegistered?: boolean }).isRegistered ?? true);
      tiers.gateway = { ready: gatewayListening && registered, listening: gatewayListening, registered };
    }

    const workerRunning = this.worker.isRunning;
    if (workerRunning) this.seen.add('business-worker');
    if (this.seen.has('business-worker')) {
      const gateways = workerRunning ? this.worker.connectedGateways.length : 0;
      const state = workerRunning ? this.worker.stats().state : 'stopping';
      tiers['business-worker'] = { ready: state === 'running' && gateways > 0, gateways, state };
    }

    const names = Object.keys(tiers);
    const ready = !this.stopping && names.length > 0 && Object.values(tiers).every((t) => t.ready);
    const status = this.stopping ? 'stopping' : names.length === 0 ? 'starting' : ready ? 'ready' : 'not ready';
    return { status: ready ? 200 : 503, body: { status, tiers } };
  }
}
