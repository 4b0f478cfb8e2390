import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { GATEWAY_WORKER_OPTIONS } from '../gateway-worker.constants.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { GatewayAddressCache } from './gateway-address.cache.js';
import { GatewayQueryPool } from './gateway-query.pool.js';
import type { GatewayTransport } from './gateway-transport.interface.js';
import { withoutBinaryFlag } from './binary-flag.js';

/**
 * The GatewayClient role (PHP's `workerman/gatewayclient`): how `GatewayService` reaches the
 * cluster from an app that is not a BusinessWorker — an HTTP app, a queue job, a cron task.
 *
 * Unlike PHP, which asks the Register every second or two and opens a new TCP connection per
 * call and gateway, it subscribes to every Register once (each pushes its gateway list on every
 * change; see `GatewayAddressCache` for what happens while they are down) and keeps one
 * authorized connection per gateway for commands and queries (see `GatewayQueryLink` for
 * timeouts and the single retry). It starts on first use.
 *
 * What callers see:
 * - calls for one client_id (sendToClient, bindUid, joinGroup, isOnline, getSession, …) go
 *   straight to the gateway named in the client_id, with or without a Register; an unreachable
 *   gateway makes a send resolve to false and a query reject with `GatewayUnreachableError`;
 * - calls that reach every gateway (sendToAll, sendToUid, sendToGroup, ungroup, counts and
 *   lists) need the gateway list: they reject with `RegisterUnavailableError` when no Register
 *   answers. A gateway that cannot be reached is skipped (a send counts only the gateways that
 *   took it; a query's result is partial, see `QueryOptions.partial`).
 */
@Injectable()
export class GatewayClient implements GatewayTransport, OnModuleDestroy {
  private readonly logger = new Logger('GatewayClient');
  private readonly pool: GatewayQueryPool;
  private readonly cache: GatewayAddressCache;

  constructor(@Inject(GATEWAY_WORKER_OPTIONS) options: ResolvedGatewayWorkerOptions) {
    this.pool = new GatewayQueryPool(options, this.logger);
    // A gateway the Registers dropped is forgotten at once, its connection included.
    this.cache = new GatewayAddressCache(options, this.logger, (list) => this.pool.retain(list));
  }

  /**
   * The gateway addresses the Registers announce; waits for the first list (at most
   * connectTimeout) on first use.
   * @throws RegisterUnavailableError when no Register answers
   */
  addresses(): Promise<readonly string[]> {
    return this.cache.get();
  }

  /** Gateways with an open connection from this app. */
  get connectedGateways(): string[] {
    return this.pool.addresses.filter((a) => this.pool.get(a).connected);
  }

  /**
   * Sends a command to one gateway; false when it cannot be reached. Never rejects. Binary
   * messages go without FLAG_BINARY: this role does not know whether a gateway is PHP's.
   */
  send(address: string, packet: Buffer): Promise<boolean> {
    return this.pool.get(address).send(withoutBinaryFlag(packet));
  }

  /**
   * Sends a command to every gateway; resolves to how many took it.
   * @throws RegisterUnavailableError when no Register answers
   */
  async sendAll(packet: Buffer | ((address: string) => Buffer | null)): Promise<number> {
    const addresses = await this.addresses();
    const sent = await Promise.all(
      addresses.map((address) => {
        const p = typeof packet === 'function' ? packet(address) : packet;
        return p ? this.pool.get(address).send(withoutBinaryFlag(p)) : false;
      }),
    );
    return sent.filter(Boolean).length;
  }

  /** Sends a query to one gateway and resolves with the serialized reply. */
  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return this.pool.get(address).request(packet, timeoutMs);
  }

  onModuleDestroy(): void {
    this.cache.stop();
    this.pool.close();
  }
}
