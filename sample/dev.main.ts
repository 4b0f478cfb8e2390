import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { startGatewayWorkerTier } from '../lib/index.js';
import { ChatPageController } from './chat/chat-page.controller.js';
import { webPort } from './chat/chat.config.js';
import { ChatModule } from './chat/chat.module.js';

/** The chat app plus its HTTP controllers. */
@Module({ imports: [ChatModule], controllers: [ChatPageController] })
class ChatDevModule {}

/**
 * The chat sample in one process for development (`npm run dev`, which is `nest start dev --watch`):
 * Register, Gateway and BusinessWorker of ChatModule, and the HTTP controllers (the chat page on
 * GW_WEB_PORT, `GET /online`). Same environment variables as the separate processes.
 */
const app = await startGatewayWorkerTier(ChatDevModule, 'all', { http: { port: webPort() } });
console.log(`Chat (dev mode, one process): http://127.0.0.1:${webPort()}/ — ${await app.getUrl()}`);
