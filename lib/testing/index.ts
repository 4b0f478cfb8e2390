/**
 * `nestjs-gateway-worker/testing`: a GatewayService test double and a Nest module that provides
 * it, for unit tests of code that pushes through GatewayService.
 */
export { GatewayWorkerTestingModule } from './gateway-worker-testing.module.js';
export {
  GatewayServiceDouble,
  testClientId,
  type GatewayDelivery,
  type GatewayServiceMethod,
  type RecordedGatewayCall,
  type TestClientSetup,
} from './gateway-service.double.js';
