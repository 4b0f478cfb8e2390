import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import type { RegisterLink } from '../register/register.link.js';
import { subscribeToRegisters } from '../register/register.subscription.js';
import { GatewayQueryPool } from './gateway-query.pool.js';
import type { GatewayTransport } from './gateway-transport.interface.js';

/**
 * The GatewayClient role (PHP's `workerman/gatewayclient`) for apps that are not a BusinessWorker:
 * an HTTP app or a queue job pushing into the cluster. Unlike PHP, which asks the Register and
 * opens a new TCP connection per call, it subscribes to the Register once (its address list is
 * pushed on every change, so a departed gateway is forgotten at once) and keeps one authorized
 * connection per gateway for commands and queries. It starts on first use.
 */
@Injectable()
export class GatewayClient implements GatewayTransport, OnModuleDestroy {
  private readonly logger = new Logger('GatewayClient');
  private readonly pool: GatewayQueryPool;
  private links: RegisterLink[] | null = null;
  private known: string[] = [];
  private ready: Promise<void> | null = null;
  private markReady: (() => void) | null = null;

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions) {
    this.pool = new GatewayQueryPool(options);
  }

  /** Gateway addresses, waiting (up to connectTimeout) for the Register's first answer. */
  async addresses(): Promise<readonly string[]> {
    this.start();
    await Promise.race([this.ready, new Promise((r) => setTimeout(r, this.options.connectTimeout).unref())]);
    return this.known;
  }

  send(address: string, packet: Buffer): boolean {
    this.pool.get(address).send(packet);
    return true;
  }

  async sendAll(packet: Buffer | ((address: string) => Buffer | null)): Promise<number> {
    let n = 0;
    for (const address of await this.addresses()) {
      const p = typeof packet === 'function' ? packet(address) : packet;
      if (p) {
        this.pool.get(address).send(p);
        n++;
      }
    }
    return n;
  }

  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return this.pool.get(address).request(packet, timeoutMs);
  }

  onModuleDestroy(): void {
    for (const link of this.links ?? []) link.stop();
    this.links = null;
    this.pool.close();
  }

  private start(): void {
    if (this.links) return;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.links = subscribeToRegisters(this.options, 'GatewayClient', this.logger, (list) => {
      this.known = list;
      this.pool.retain(list);
      this.markReady?.();
    });
  }
}
