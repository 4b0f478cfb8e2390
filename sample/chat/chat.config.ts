import type { GatewayWorkerModuleOptions } from '../../lib/index.js';

/**
 * The chat cluster's configuration, the GatewayWorker demo's: Register on 1236, a gateway with
 * telnet-friendly text on 8282 and websocket on 7272, internal ports from 2900. Every value can be
 * overridden by an environment variable (the tests run the sample on free ports this way).
 */
export function chatConfig(env: NodeJS.ProcessEnv = process.env): GatewayWorkerModuleOptions {
  const registerAddress = env.GW_REGISTER_ADDRESS ?? '127.0.0.1:1236';
  return {
    registerAddress,
    secretKey: env.GW_SECRET_KEY ?? '',
    register: { listen: env.GW_REGISTER_LISTEN ?? `text://0.0.0.0:${registerAddress.split(':').pop()}` },
    gateway: {
      name: 'ChatGateway',
      listen: [`text://0.0.0.0:${env.GW_TEXT_PORT ?? 8282}`, `websocket://0.0.0.0:${env.GW_WS_PORT ?? 7272}`],
      lanIp: env.GW_LAN_IP ?? '127.0.0.1',
      startPort: Number(env.GW_START_PORT ?? 2900),
    },
    businessWorker: {
      name: 'ChatBusinessWorker',
    },
  };
}

/** Port of the small web server that serves the chat page. */
export const webPort = (env: NodeJS.ProcessEnv = process.env) => Number(env.GW_WEB_PORT ?? 55151);
