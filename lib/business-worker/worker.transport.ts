import type { GatewayQueryPool } from '../client/gateway-query.pool.js';
import type { GatewayTransport } from '../client/gateway-transport.interface.js';
import { withoutBinaryFlag } from '../client/binary-flag.js';
import type { GatewayLinks } from './gateway-links.js';
import type { GatewayLink } from './gateway.link.js';

/**
 * GatewayService's transport inside a BusinessWorker: commands go on the worker's own gateway
 * links, in order with the events' confirmations; queries on a pool of client connections.
 */
export class WorkerTransport implements GatewayTransport {
  constructor(
    private readonly links: GatewayLinks,
    private readonly pool: GatewayQueryPool,
  ) {
    // A gateway the Register dropped is forgotten at once, query link included.
    links.on('addresses', (addresses) => pool.retain(addresses));
  }

  send(address: string, packet: Buffer): boolean {
    const link = this.links.byAddress.get(address);
    return this.links.send(address, link?.speaksExtensions ? packet : withoutBinaryFlag(packet));
  }

  sendAll(packet: Buffer | ((address: string) => Buffer | null)): number {
    return this.links.sendAll((link: GatewayLink) => {
      const p = typeof packet === 'function' ? packet(link.address) : packet;
      return p && !link.speaksExtensions ? withoutBinaryFlag(p) : p;
    });
  }

  addresses(): readonly string[] {
    return this.links.addresses;
  }

  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return this.pool.get(address).request(packet, timeoutMs);
  }

  /** The worker stopped: closes the query connections. */
  close(): void {
    this.pool.close();
  }
}
