import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const page = fileURLToPath(new URL('../../../sample/web/index.html', import.meta.url));

/**
 * The chat page (sample/web/index.html) with the websocket it connects to filled in: the gateway's
 * websocket port (`wss://` when the gateway has GW_TLS_CERT), or `GW_WS_URL` when set; opened over
 * https (behind the nginx of sample/nginx/) the page uses `wss://<host>/wss`; `?ws=<url>` in the
 * page's address overrides all of these.
 */
export async function renderChatPage(env: NodeJS.ProcessEnv = process.env): Promise<{ html: string; websocket: string }> {
  const config = {
    port: Number(env.GW_WS_PORT ?? 7272),
    scheme: env.GW_TLS_CERT && env.GW_TLS_KEY ? 'wss' : 'ws',
    url: env.GW_WS_URL ?? '',
  };
  // JSON inside a <script>: `<` escaped so a URL cannot close the script element.
  const html = (await readFile(page, 'utf8')).replace('__GATEWAY_CONFIG__', JSON.stringify(config).replaceAll('<', '\\u003c'));
  return { html, websocket: config.url || `${config.scheme}://<host>:${config.port}` };
}

/**
 * The client SDK the page imports (`nestjs-gateway-worker/client`, built to dist/lib/sdk/): the SDK
 * and the few browser-safe modules it imports, by URL path — nothing else of dist/lib is served.
 */
const SDK_FILE = /^\/(sdk\/[a-z.-]+|errors\/(client-disconnected|request-failed|request-timeout|gateway-worker)\.error|protocol\/resume-envelope|gateway-worker\.messages)\.js$/;
const lib = fileURLToPath(new URL('../../lib/', import.meta.url));

/** The JavaScript of an SDK file the page loads (`/sdk/client.js`, and what it imports), or null for any other path. */
export async function readSdkFile(path: string): Promise<string | null> {
  if (!SDK_FILE.test(path)) return null;
  return readFile(lib + path.slice(1), 'utf8').catch(() => null);
}
