import { Controller, Get, Header } from '@nestjs/common';
import { GatewayService } from '../../lib/index.js';
import { renderChatPage } from './chat-page.js';

/**
 * HTTP next to the chat in the development mode (`npm run dev`, sample/dev.main.ts): the chat page,
 * and how many clients are online — `GatewayService` asks the gateways, as from any handler.
 */
@Controller()
export class ChatPageController {
  constructor(private readonly gateway: GatewayService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async page(): Promise<string> {
    return (await renderChatPage()).html;
  }

  @Get('online')
  async online(): Promise<{ count: number }> {
    return { count: await this.gateway.getAllClientCount() };
  }
}
