import { Controller, Get, Header, NotFoundException, Req, Res } from '@nestjs/common';
import { GatewayService } from '../../lib/index.js';
import { readSdkFile, renderChatPage } from './chat-page.js';

/**
 * HTTP next to the chat in the development mode (`npm run dev`, sample/dev.main.ts): the chat page
 * and the client SDK it loads, and how many clients are online — `GatewayService` asks the gateways, as from any handler.
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

  /** The client SDK the page imports (`/sdk/client.js` and the few files it imports). */
  @Get(['sdk/:file', 'errors/:file', 'protocol/:file', 'gateway-worker.messages.js'])
  async sdk(@Req() req: { path: string }, @Res({ passthrough: true }) res: { setHeader(name: string, value: string): void }): Promise<string> {
    const js = await readSdkFile(req.path);
    if (js === null) throw new NotFoundException();
    // Set here, not with @Header: a 404 is JSON.
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    return js;
  }
}
