import type { BusinessWorkerServer } from '../business-worker/business-worker.server.js';
import type { GatewayTransport } from './gateway-transport.interface.js';
import type { GatewayQueryPool } from './gateway-query.pool.js';

/** GatewayService's transport inside a running BusinessWorker. */
export class WorkerTransport implements GatewayTransport {
  constructor(
    private readonly worker: BusinessWorkerServer,
    private readonly pool: GatewayQueryPool,
  ) {
    // A gateway the Register dropped is forgotten at once, query link included.
    worker.on('addresses', (addresses) => pool.retain(addresses));
  }

  send(address: string, packet: Buffer): boolean {
    return this.worker.sendToGateway(address, packet);
  }

  sendAll(packet: Buffer | ((address: string) => Buffer | null)): number {
    return this.worker.sendToAllGateways(packet);
  }

  addresses(): readonly string[] {
    return this.worker.gatewayAddresses;
  }

  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
    return this.pool.get(address).request(packet, timeoutMs);
  }
}
