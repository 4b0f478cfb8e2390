import { ConfigurableModuleBuilder } from '@nestjs/common';
import { GATEWAY_WORKER_RAW_OPTIONS } from './gateway-worker.constants.js';
import type { GatewayWorkerModuleOptions } from './interfaces/gateway-worker-options.interface.js';

export const {
  ConfigurableModuleClass: GatewayWorkerConfigurableModule,
  OPTIONS_TYPE: GATEWAY_WORKER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: GATEWAY_WORKER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<GatewayWorkerModuleOptions>({ optionsInjectionToken: GATEWAY_WORKER_RAW_OPTIONS })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createGatewayWorkerOptions')
  .setExtras({ global: true }, (definition, extras) => ({ ...definition, global: extras.global }))
  .build();
