import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { ScheduleModule } from '@nestjs/schedule';
import { GatewayWorkerModule } from '../../lib/index.js';
import { MessagesController } from './messages.controller.js';
import { pushConfig, PUSH_QUEUE } from './push.config.js';
import { PushProcessor } from './push.processor.js';
import { TimePusher } from './time.pusher.js';

const config = pushConfig();

/**
 * An ordinary Nest HTTP app that pushes into the chat cluster: `POST /messages` enqueues a BullMQ
 * job (Redis), `PushProcessor` sends it with `GatewayService`, and `TimePusher` sends the server
 * time to group `time`. It runs no tier: `GatewayWorkerModule.forRoot({ registerAddress,
 * secretKey })` is all it needs.
 */
@Module({
  imports: [
    GatewayWorkerModule.forRoot(config.gatewayWorker),
    BullModule.forRoot({ connection: { url: config.redisUrl } }),
    BullModule.registerQueue({ name: PUSH_QUEUE }),
    ScheduleModule.forRoot(),
  ],
  controllers: [MessagesController],
  providers: [PushProcessor, TimePusher],
})
export class PushModule {}
