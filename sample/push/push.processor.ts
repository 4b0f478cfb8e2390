import { Logger } from '@nestjs/common';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { GatewayService } from '../../lib/index.js';
import { PUSH_QUEUE } from './push.config.js';
import type { PushMessageDto } from './push-message.dto.js';

/**
 * The queue job of the seed (`Gateway::sendToAll(...)` in a Laravel job): pushes the text to every
 * client, or to the connections of one uid. `GatewayService` works here as the GatewayClient —
 * the same calls as inside a BusinessWorker handler.
 */
@Processor(PUSH_QUEUE)
export class PushProcessor extends WorkerHost {
  private readonly logger = new Logger(PushProcessor.name);

  constructor(private readonly gateway: GatewayService) {
    super();
  }

  async process(job: Job<PushMessageDto>): Promise<{ delivered: boolean }> {
    const { text, uid } = job.data;
    // Rejects with RegisterUnavailableError while no Register answers: the job fails and is retried.
    const delivered = uid === undefined ? await this.gateway.sendToAll(text) : await this.gateway.sendToUid(uid, text);
    // false: no gateway took it (none reachable); fail the attempt so BullMQ retries it.
    if (!delivered) throw new Error(`job ${job.id}: no gateway could be reached; will retry`);
    this.logger.log(`job ${job.id}: pushed to ${uid === undefined ? 'everybody' : `uid ${uid}`}`);
    return { delivered };
  }
}
