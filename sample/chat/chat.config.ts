import type { GatewayWorkerModuleOptions } from '../../lib/index.js';

/**
 * The chat cluster's configuration, the GatewayWorker demo's: Register on 1236, a gateway with
 * telnet-friendly text on 8282 and websocket on 7272, internal ports from 2900. Every value can be
 * overridden by an environment variable (the tests run the sample on free ports this way).
 *
 * The client edge, also from the environment: `GW_TLS_CERT` + `GW_TLS_KEY` (PEM paths) make the
 * websocket port `wss://`; `GW_TRUSTED_PROXIES` (comma-separated, e.g. `127.0.0.1` behind the nginx
 * of sample/nginx/) gives handlers the browser's address; `GW_PING_INTERVAL` (seconds),
 * `GW_PING_LIMIT` and `GW_PING_DATA` turn on the heartbeat; `GW_RESUME_WINDOW` (ms, default 30000;
 * 0 = off) is how long a page whose connection broke is kept for its resume.
 */
export function chatConfig(env: NodeJS.ProcessEnv = process.env): GatewayWorkerModuleOptions {
  const registerAddress = env.GW_REGISTER_ADDRESS ?? '127.0.0.1:1236';
  const tls = env.GW_TLS_CERT && env.GW_TLS_KEY ? { cert: env.GW_TLS_CERT, key: env.GW_TLS_KEY } : null;
  return {
    registerAddress,
    secretKey: env.GW_SECRET_KEY ?? '',
    register: { listen: env.GW_REGISTER_LISTEN ?? `text://0.0.0.0:${registerAddress.split(':').pop()}` },
    gateway: {
      name: 'ChatGateway',
      listen: [`text://0.0.0.0:${env.GW_TEXT_PORT ?? 8282}`, `${tls ? 'wss' : 'websocket'}://0.0.0.0:${env.GW_WS_PORT ?? 7272}`],
      lanIp: env.GW_LAN_IP ?? '127.0.0.1',
      startPort: Number(env.GW_START_PORT ?? 2900),
      ...(tls && { tls }),
      trustedProxies: env.GW_TRUSTED_PROXIES ? env.GW_TRUSTED_PROXIES.split(',').map((s) => s.trim()) : [],
      pingInterval: Number(env.GW_PING_INTERVAL ?? 0),
      pingNotResponseLimit: Number(env.GW_PING_LIMIT ?? 0),
      pingData: env.GW_PING_DATA ?? '',
      // The page (the SDK) resumes within this window: same client_id, no message missed.
      resumeWindow: Number(env.GW_RESUME_WINDOW ?? 30_000),
    },
    businessWorker: {
      name: 'ChatBusinessWorker',
    },
  };
}

/** Port of the small web server that serves the chat page. */
export const webPort = (env: NodeJS.ProcessEnv = process.env) => Number(env.GW_WEB_PORT ?? 55151);
