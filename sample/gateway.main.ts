import 'reflect-metadata';
import { startGatewayWorkerTier } from '../lib/index.js';
import { ChatModule } from './chat/chat.module.js';

/** The Gateway tier of the chat sample: `node dist/sample/gateway.main.js` or `nest start gateway`. */
await startGatewayWorkerTier(ChatModule, 'gateway');
