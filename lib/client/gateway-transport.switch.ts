import { Injectable } from '@nestjs/common';
import { GatewayClient } from './gateway.client.js';
import type { GatewayTransport } from './gateway-transport.interface.js';

/**
 * The `GATEWAY_TRANSPORT` provider: the GatewayClient role until a tier of this app takes over
 * with its own links (`use`), and again once that tier has stopped (`release`). The switch happens
 * twice in a worker's life, never per call.
 */
@Injectable()
export class GatewayTransportSwitch implements GatewayTransport {
  private current: GatewayTransport;

  constructor(private readonly client: GatewayClient) {
    this.current = client;
  }

  /** From now on, calls go through `transport`. */
  use(transport: GatewayTransport): void {
    this.current = transport;
  }

  /** `transport` stopped: calls go through the GatewayClient again. */
  release(transport: GatewayTransport): void {
    if (this.current === transport) this.current = this.client;
  }

  send(address: string, packet: Buffer): boolean | Promise<boolean> {
    return this.current.send(address, packet);
  }

  sendAll(packet: Buffer | ((address: string) => Buffer | null)): number | Promise<number> {
    return this.current.sendAll(packet);
  }

  addresses(): readonly string[] | Promise<readonly string[]> {
    return this.current.addresses();
  }

  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return this.current.query(address, packet, timeoutMs);
  }
}
