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
