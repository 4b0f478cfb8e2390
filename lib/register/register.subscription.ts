import type { Logger } from '@nestjs/common';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { readAddresses, workerConnectLine } from '../protocol/register-message.js';
import { RegisterLink } from './register.link.js';

/** Optional extras of a Register subscription. */
export interface RegisterSubscriptionHooks {
  /** A Register link dropped, or a connect to it failed (it is retried every second). */
  onDown?: (register: string, reason: string) => void;
  /** Let the process exit while only these links are open (see `RegisterLinkOptions.unref`). */
  unref?: boolean;
}

/**
 * Subscribes to every Register as a worker does (`worker_connect`) and reports each gateway list
 * it broadcasts, de-duplicated, with the address of the Register that sent it. Used by
 * BusinessWorkers and by the GatewayClient; the links reconnect by themselves and re-subscribe
 * after a Register restart.
 */
export function subscribeToRegisters(
  options: ResolvedGatewayWorkerOptions,
  tier: string,
  logger: Logger,
  onAddresses: (addresses: string[], register: string) => void,
  hooks: RegisterSubscriptionHooks = {},
): RegisterLink[] {
  return options.registerAddresses.map((address) => {
    const link = new RegisterLink({
      address,
      hello: () => workerConnectLine(options.secretKey),
      onMessage: (msg) => {
        if (msg.event !== 'broadcast_addresses') return;
        const list = readAddresses(msg.addresses);
        if (list) onAddresses([...new Set(list)], address);
      },
      ...(hooks.onDown && { onClose: (reason: string) => hooks.onDown!(address, reason) }),
      connectTimeout: options.connectTimeout,
      maxLineSize: options.innerMaxPackageSize,
      logger,
      tier,
      unref: hooks.unref,
    });
    link.start();
    return link;
  });
}
