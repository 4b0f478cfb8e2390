import 'reflect-metadata';
import { startGatewayWorkerTier } from '../lib/index.js';
import { ChatModule } from './chat/chat.module.js';

/** The BusinessWorker tier of the chat sample: `node dist/sample/business.main.js` or `nest start business`. */
await startGatewayWorkerTier(ChatModule, 'business-worker');
