import { ClientId, GatewayEvents, GatewayService, OnClose, OnConnect, OnMessage, Payload } from '../../lib/index.js';

/**
 * The GatewayWorker demo's `Events` class: greet the newcomer, tell everybody who joined, said
 * something, or left.
 */
@GatewayEvents()
export class ChatEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() clientId: string): Promise<void> {
    await this.gateway.sendToCurrentClient(`Hello ${clientId}`);
    await this.gateway.sendToAll(`${clientId} login`);
  }

  @OnMessage()
  async onMessage(@ClientId() clientId: string, @Payload() message: string): Promise<void> {
    await this.gateway.sendToAll(`${clientId} said ${message}`);
  }

  @OnClose()
  async onClose(@ClientId() clientId: string): Promise<void> {
    await this.gateway.sendToAll(`${clientId} logout`);
  }
}
