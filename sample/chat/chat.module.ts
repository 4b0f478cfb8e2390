import { Module } from '@nestjs/common';
import { GatewayWorkerModule } from '../../lib/index.js';
import { chatConfig } from './chat.config.js';
import { ChatEvents } from './chat.events.js';

/** The chat app: one module for all three tiers; each process boots the tier it runs. */
@Module({
  imports: [GatewayWorkerModule.forRoot(chatConfig())],
  providers: [ChatEvents],
})
export class ChatModule {}
