import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { GatewayService } from '../../lib/index.js';
import { pushConfig, TIME_GROUP } from './push.config.js';

/**
 * The seed's "timed push" (Workerman's `Timer::add` in onWorkerStart): every `GW_TIME_INTERVAL`
 * ms, the server time goes to the members of group `time`. Any app can do this with
 * `@nestjs/schedule`; it does not need to be a BusinessWorker.
 */
@Injectable()
export class TimePusher {
  private readonly logger = new Logger(TimePusher.name);
  private failing = false;

  constructor(private readonly gateway: GatewayService) {}

  @Interval('server-time', pushConfig().timeInterval)
  async pushTime(): Promise<void> {
    try {
      await this.gateway.sendToGroup(TIME_GROUP, `time ${new Date().toISOString()}`);
      if (this.failing) this.logger.log('server time pushes work again');
      this.failing = false;
    } catch (err) {
      // One line per outage, not one per tick.
      if (!this.failing) this.logger.warn(`server time not pushed: ${(err as Error).message}`);
      this.failing = true;
    }
  }
}
