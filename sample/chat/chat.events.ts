import { ClientId, Ctx, GatewayEventContext, GatewayEvents, GatewayService, OnClose, OnConnect, OnMessage, Payload } from '../../lib/index.js';

/** The group of websocket clients (the chat page), which also get the online count. */
const WEB = 'web';

/**
 * The GatewayWorker demo's `Events` class: greet the newcomer, tell everybody who joined, said
 * something, or left. Websocket clients (the page) also get `{"type":"online","count":N}` after
 * every login and logout; telnet clients see exactly the demo's lines.
 */
@GatewayEvents()
export class ChatEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() clientId: string, @Ctx() ctx: GatewayEventContext): Promise<void> {
    if (ctx.protocol === 'websocket') await this.gateway.joinGroup(clientId, WEB);
    await this.gateway.sendToCurrentClient(`Hello ${clientId}`);
    await this.gateway.sendToAll(`${clientId} login`);
    await this.sendOnlineCount();
  }

  @OnMessage()
  async onMessage(@ClientId() clientId: string, @Payload() message: string): Promise<void> {
    await this.gateway.sendToAll(`${clientId} said ${message}`);
  }

  @OnClose()
  async onClose(@ClientId() clientId: string): Promise<void> {
    await this.gateway.sendToAll(`${clientId} logout`);
    await this.sendOnlineCount();
  }

  /** The number of clients on every gateway, to the pages (a JSON line the page understands). */
  private async sendOnlineCount(): Promise<void> {
    let count: number;
    try {
      count = await this.gateway.getAllClientCount();
    } catch {
      return; // A gateway that cannot be asked right now: the page keeps its last count.
    }
    await this.gateway.sendToGroup(WEB, JSON.stringify({ type: 'online', count }));
  }
}
