import 'reflect-metadata';
import { startGatewayWorkerTier } from '../lib/index.js';
import { ChatModule } from './chat/chat.module.js';

/** The Register tier of the chat sample: `node dist/sample/register.main.js` or `nest start register`. */
await startGatewayWorkerTier(ChatModule, 'register');
