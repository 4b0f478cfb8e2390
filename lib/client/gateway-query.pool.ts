import type { Logger } from '@nestjs/common';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { GatewayQueryLink } from './gateway-query.link.js';

/** One persistent client connection per gateway address, created on first use. */
export class GatewayQueryPool {
  private readonly links = new Map<string, GatewayQueryLink>();

  /** @param logger where failed sends are reported (once per outage and gateway) */
  constructor(
    private readonly options: ResolvedGatewayWorkerOptions,
    private readonly logger?: Logger,
  ) {}

  /** The link to `address`, opened on first use. */
  get(address: string): GatewayQueryLink {
    let link = this.links.get(address);
    if (!link) {
      link = new GatewayQueryLink({
        address,
        secretKey: this.options.secretKey,
        connectTimeout: this.options.connectTimeout,
        maxPacketSize: this.options.innerMaxPackageSize,
        logger: this.logger,
      });
      this.links.set(address, link);
    }
    return link;
  }

  /** Addresses that have a link (open or not). */
  get addresses(): string[] {
    return [...this.links.keys()];
  }

  /** Closes the links to gateways not in `addresses` (they left the cluster). */
  retain(addresses: readonly string[]): void {
    for (const [address, link] of this.links) {
      if (!addresses.includes(address)) {
        link.close('the gateway left the cluster (the Register dropped it)');
        this.links.delete(address);
      }
    }
  }

  /** Closes every link. */
  close(): void {
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
