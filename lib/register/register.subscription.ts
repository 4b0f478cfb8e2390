import type { Logger } from '@nestjs/common';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import { readAddresses, workerConnectLine } from '../protocol/register-message.js';
import { RegisterLink } from './register.link.js';

/**
 * Subscribes to every Register as a worker does (`worker_connect`) and reports each gateway list
 * it broadcasts, de-duplicated. Used by BusinessWorkers and by the GatewayClient; the links
 * reconnect by themselves and re-subscribe after a Register restart.
 */
export function subscribeToRegisters(
  options: ResolvedGatewayWorkerOptions,
  tier: string,
  logger: Logger,
  onAddresses: (addresses: string[]) => void,
): RegisterLink[] {
  return options.registerAddresses.map((address) => {
    const link = new RegisterLink({
      address,
      hello: () => workerConnectLine(options.secretKey),
      onMessage: (msg) => {
        if (msg.event !== 'broadcast_addresses') return;
        const list = readAddresses(msg.addresses);
        if (list) onAddresses([...new Set(list)]);
      },
      connectTimeout: options.connectTimeout,
      maxLineSize: options.innerMaxPackageSize,
      logger,
      tier,
    });
    link.start();
    return link;
  });
}
