import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pushConfig } from './push/push.config.js';
import { PushModule } from './push/push.module.js';

/**
 * The push sample: `node dist/sample/push.main.js` next to the chat cluster (`npm start`), with
 * Redis at GW_REDIS_URL. Then `curl -X POST localhost:3000/messages -H 'content-type: application/json'
 * -d '{"text":"hello from HTTP"}'` reaches every chat client.
 */
const { httpPort, redisUrl } = pushConfig();
const app = await NestFactory.create(PushModule);
app.enableShutdownHooks();
await app.listen(httpPort);
new Logger('PushApp').log(`POST http://127.0.0.1:${httpPort}/messages {"text": "...", "uid"?: "..."}; queue on ${redisUrl}`);
