/**
 * The base class of every error this package throws or rejects with, so a caller can handle the
 * whole family at once:
 *
 * ```ts
 * try {
 *   await gateway.getSession(clientId);
 * } catch (err) {
 *   if (err instanceof GatewayWorkerError) logger.warn(`${err.name}: ${err.message}`);
 *   else throw err;
 * }
 * ```
 *
 * Each subclass stands for one failure, sets `name` to its class name and carries the details of
 * that failure as readonly fields (the gateway address, the client_id, the option at fault, …).
 * It is never thrown itself.
 *
 * @publicApi
 */
export abstract class GatewayWorkerError extends Error {
  override readonly name: string = 'GatewayWorkerError';

  /**
   * @param message what happened and what to do about it
   * @param options `cause`: the lower-level error this one wraps, if any
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}
