import { Module } from '@nestjs/common';
import { GatewayWorkerModule } from '../../../lib/index.js';
import { benchOptions } from './bench.options.js';

/** The external app of S6: GatewayWorkerModule alone, so GatewayService is the GatewayClient. */
@Module({ imports: [GatewayWorkerModule.forRoot(benchOptions())] })
export class PusherModule {}
