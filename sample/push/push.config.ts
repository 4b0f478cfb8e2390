import type { GatewayWorkerModuleOptions } from '../../lib/index.js';

/** Name of the BullMQ queue the HTTP endpoint fills and the processor drains. */
export const PUSH_QUEUE = 'push';

/** The group that receives the server time. */
export const TIME_GROUP = 'time';

/** A positive integer from the environment, or `def`; anything else stops the app with a clear message. */
function positiveInt(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${JSON.stringify(raw)} is not a positive integer; unset it for the default ${def}.`);
  return n;
}

/**
 * The push app's configuration. It joins the chat cluster as a GatewayClient, so it shares the
 * chat's `GW_REGISTER_ADDRESS` and `GW_SECRET_KEY`; everything else has a default that runs next
 * to `npm start`.
 */
export function pushConfig(env: NodeJS.ProcessEnv = process.env) {
  const gatewayWorker: GatewayWorkerModuleOptions = {
    registerAddress: (env.GW_REGISTER_ADDRESS ?? '127.0.0.1:1236').split(',').map((a) => a.trim()),
    secretKey: env.GW_SECRET_KEY ?? '',
  };
  return {
    gatewayWorker,
    /** HTTP port of `POST /messages`. */
    httpPort: positiveInt(env, 'GW_HTTP_PORT', 3000),
    /** The Redis BullMQ keeps its queue in. */
    redisUrl: env.GW_REDIS_URL ?? 'redis://127.0.0.1:6379',
    /** How often the server time is pushed to group `time`, in ms. */
    timeInterval: positiveInt(env, 'GW_TIME_INTERVAL', 1000),
  };
}
