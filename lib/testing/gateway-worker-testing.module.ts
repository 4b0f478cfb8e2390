import { Module, type DynamicModule } from '@nestjs/common';
import { GatewayService } from '../gateway.service.js';
import { GatewayServiceDouble } from './gateway-service.double.js';

/**
 * For unit tests of code that injects `GatewayService`: provides a `GatewayServiceDouble` under
 * the `GatewayService` token (no Register, gateway or socket involved). Get the double with
 * `moduleRef.get(GatewayServiceDouble)` to set up clients and check the calls.
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [GatewayWorkerTestingModule.forRoot()],
 *   providers: [NotificationService],
 * }).compile();
 * ```
 *
 * For a module that imports `GatewayWorkerModule` itself, override the token instead:
 * `.overrideProvider(GatewayService).useValue(new GatewayServiceDouble())`.
 *
 * @publicApi
 */
@Module({})
export class GatewayWorkerTestingModule {
  /** The module, global unless `global: false` (as GatewayWorkerModule is). */
  static forRoot(options: { global?: boolean } = {}): DynamicModule {
    return {
      module: GatewayWorkerTestingModule,
      global: options.global ?? true,
      providers: [GatewayServiceDouble, { provide: GatewayService, useExisting: GatewayServiceDouble }],
      exports: [GatewayServiceDouble, GatewayService],
    };
  }
}
