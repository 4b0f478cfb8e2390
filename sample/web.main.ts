import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { webPort } from './chat/chat.config.js';

/**
 * Serves the chat page (sample/web/index.html), as the demo's WebServer does on 55151. The page
 * connects to the gateway's websocket port (`wss://` when the gateway has GW_TLS_CERT), or to
 * `GW_WS_URL` when set; opened over https (behind the nginx of sample/nginx/) it uses
 * `wss://<host>/wss`; `?ws=<url>` in the page's address overrides all of these.
 */
const page = fileURLToPath(new URL('../../sample/web/index.html', import.meta.url));
const config = {
  port: Number(process.env.GW_WS_PORT ?? 7272),
  scheme: process.env.GW_TLS_CERT && process.env.GW_TLS_KEY ? 'wss' : 'ws',
  url: process.env.GW_WS_URL ?? '',
};
const port = webPort();

/**
 * The client SDK for the page (`nestjs-gateway-worker/client`, built to dist/lib/sdk/): the SDK
 * and the few browser-safe modules it imports, nothing else of dist/lib.
 */
const SDK_FILE = /^\/(sdk\/[a-z.-]+|errors\/(client-disconnected|request-failed|request-timeout)\.error|protocol\/resume-envelope|gateway-worker\.messages)\.js$/;
const lib = fileURLToPath(new URL('../lib/', import.meta.url));

createServer(async (req, res) => {
  const path = req.url?.split('?')[0] ?? '';
  if (SDK_FILE.test(path)) {
    const js = await readFile(lib + path.slice(1), 'utf8').catch(() => null);
    if (js === null) return void res.writeHead(404).end('Not found\n');
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' }).end(js);
    return;
  }
  if (req.url !== '/' && !req.url?.startsWith('/?') && req.url !== '/index.html') {
    res.writeHead(404).end('Not found\n');
    return;
  }
  // JSON inside a <script>: `<` escaped so a URL cannot close the script element.
  const html = (await readFile(page, 'utf8')).replace('__GATEWAY_CONFIG__', JSON.stringify(config).replaceAll('<', '\\u003c'));
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
}).listen(port, () => console.log(`Chat page: http://127.0.0.1:${port}/ (websocket ${config.url || `${config.scheme}://<host>:${config.port}`})`));
