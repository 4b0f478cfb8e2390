import type { Logger } from '@nestjs/common';
import { slowClientClosed, slowClientDropped } from '../gateway-worker.messages.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import type { ClientConnection, ClientSendLimit } from './client-connection.js';
import type { GatewayCounters } from './gateway-counters.js';

/**
 * The send-buffer limit of a gateway's clients and `slowClientPolicy`: a message that does not
 * fit a client's buffer is dropped and counted (`'drop'`, GatewayWorker's way) or the client is
 * closed (`'close'`; websocket close code 1008 with the reason). Either way it is logged
 * (rate-limited) and counted.
 */
export class SlowClients implements ClientSendLimit {
  constructor(
    readonly limit: number,
    private readonly policy: 'drop' | 'close',
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    private readonly clientIdOf: (client: ClientConnection) => string,
  ) {}

  sent(): void {
    this.counters.messagesOut++;
  }

  full(client: ClientConnection): void {
    this.counters.sendFailures++;
    if (this.policy === 'drop') {
      this.counters.limits.slowClientDrop++;
      this.limiter.warn(this.logger, 'slow-client', slowClientDropped(this.clientIdOf(client), this.limit));
      return;
    }
    if (client.closed) return;
    this.counters.limits.slowClientClose++;
    this.logger.warn(slowClientClosed(this.clientIdOf(client), this.limit));
    if (client.ws) {
      client.ws.close(1008, 'send buffer full: the client reads too slowly');
      // A client too slow to read is too slow to finish the close handshake.
      setTimeout(() => client.socket.destroy(), 1000).unref();
    } else client.socket.destroy();
  }
}
