import { Module } from '@nestjs/common';
import { GatewayWorkerModule } from '../../../lib/index.js';
import { BenchEvents } from './bench.events.js';
import { benchOptions } from './bench.options.js';

/** The bench app: the events class plus GatewayWorkerModule; every tier process boots it. */
@Module({
  imports: [GatewayWorkerModule.forRoot(benchOptions())],
  providers: [BenchEvents],
})
export class BenchModule {}
