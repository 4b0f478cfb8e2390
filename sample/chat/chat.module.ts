import { Module } from '@nestjs/common';
import { GatewayWorkerModule } from '../../lib/index.js';
import { chatConfig } from './chat.config.js';
import { ChatEvents } from './chat.events.js';
import { NestChatGateway } from './nest-chat.gateway.js';

/**
 * The chat app: one module for all three tiers; each process boots the tier it runs. Two chats
 * share the cluster: the GatewayWorker demo's (ChatEvents, PHP-style, plain text lines) and the
 * same chat as a `@nestjs/websockets` gateway (NestChatGateway, `{"event", "data"}` JSON).
 */
@Module({
  imports: [GatewayWorkerModule.forRoot(chatConfig())],
  providers: [ChatEvents, NestChatGateway],
})
export class ChatModule {}
