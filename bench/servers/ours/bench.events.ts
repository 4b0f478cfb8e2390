import { ClientId, GatewayEvents, GatewayService, OnConnect, OnMessage, Payload } from '../../../lib/index.js';
import { BROADCAST, ECHO, hello, LOGIN } from '../../app-protocol.js';

/** Greet each connection from `@OnConnect` (S2)? Set by the harness. */
const greet = process.env.BENCH_HELLO === '1';

/**
 * The app of app-protocol.ts as GatewayWorker handlers: what a user of this module writes. It runs
 * in the BusinessWorker process; every send goes back through the gateway.
 */
@GatewayEvents()
export class BenchEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() clientId: string): Promise<void> {
    if (greet) await this.gateway.sendToCurrentClient(hello(clientId));
  }

  @OnMessage()
  async onMessage(@ClientId() clientId: string, @Payload() message: string): Promise<void> {
    const op = message[0];
    const rest = message.slice(2);
    if (op === ECHO) await this.gateway.sendToCurrentClient(rest);
    else if (op === BROADCAST) await this.gateway.sendToAll(rest);
    else if (op === LOGIN) {
      const [uid, group] = rest.split(' ');
      await this.gateway.bindUid(clientId, uid!);
      await this.gateway.joinGroup(clientId, group!);
    }
  }
}
