import type { GatewayWorkerModuleOptions } from '../../../lib/index.js';

/** The harness passes the cluster's options as JSON in this variable. */
export const OPTIONS_ENV = 'BENCH_GW_OPTIONS';

/** The module options the harness chose for this process. */
export function benchOptions(): GatewayWorkerModuleOptions {
  const json = process.env[OPTIONS_ENV];
  if (!json) throw new Error(`${OPTIONS_ENV} is not set: start this process through the bench harness`);
  return JSON.parse(json) as GatewayWorkerModuleOptions;
}
