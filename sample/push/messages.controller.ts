import { Body, Controller, HttpCode, HttpStatus, Post, ValidationPipe } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PUSH_QUEUE } from './push.config.js';
import { PushMessageDto } from './push-message.dto.js';

/**
 * The web app's side of the seed's integration: the HTTP request only enqueues (as Laravel's
 * `dispatch(new YourJob($data))`), so it answers at once even when the cluster is slow or down;
 * `PushProcessor` does the push.
 */
@Controller('messages')
export class MessagesController {
  constructor(@InjectQueue(PUSH_QUEUE) private readonly queue: Queue<PushMessageDto>) {}

  /** `POST /messages {"text": "...", "uid"?: "..."}` → 202 `{"jobId": "..."}`; 400 on a bad body. */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(@Body(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true })) body: PushMessageDto): Promise<{ jobId: string }> {
    const job = await this.queue.add('push', { text: body.text, ...(body.uid !== undefined && { uid: body.uid }) }, {
      // The cluster may be restarting: the processor throws, BullMQ tries again.
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
    return { jobId: job.id! };
  }
}
