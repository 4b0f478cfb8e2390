/**
 * How GatewayService reaches the gateways. Inside a BusinessWorker, commands go over the worker's
 * own gateway links; in any other app, over the GatewayClient's links. Queries always use
 * dedicated client connections (a worker connection also carries events, so replies could not be
 * told apart from them).
 *
 * Send packets of binary messages carry `FLAG_BINARY`; a transport clears it toward any gateway
 * that is not known to speak the TypeScript extensions, so a PHP gateway gets PHP's bytes.
 */
export interface GatewayTransport {
  /** Sends a command to one gateway; false when it cannot be handed over (not connected). */
  send(address: string, packet: Buffer): boolean | Promise<boolean>;
  /** Sends a command to every gateway (a packet per address, or null to skip one); resolves to how many took it. */
  sendAll(packet: Buffer | ((address: string) => Buffer | null)): number | Promise<number>;
  /** Every gateway address to fan queries out to. */
  addresses(): readonly string[] | Promise<readonly string[]>;
  /** Sends a query and resolves with the serialized reply. */
  query(address: string, packet: Buffer, timeoutMs: number): Promise<Buffer>;
}

/**
 * DI token of the {@link GatewayTransport} `GatewayService` uses: the GatewayClient, switched to the
 * worker's gateway links while this app runs a BusinessWorker (from `listen()` until it has fully
 * stopped, so a draining worker's handlers still send on its own links).
 */
export const GATEWAY_TRANSPORT = Symbol('GATEWAY_TRANSPORT');
