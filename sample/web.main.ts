import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { webPort } from './chat/chat.config.js';

/**
 * Serves the chat page (sample/web/index.html), as the demo's WebServer does on 55151. The page
 * connects to the gateway's websocket port, given to it in the query string.
 */
const page = fileURLToPath(new URL('../../sample/web/index.html', import.meta.url));
const wsPort = Number(process.env.GW_WS_PORT ?? 7272);
const port = webPort();

createServer(async (req, res) => {
  if (req.url !== '/' && !req.url?.startsWith('/?') && req.url !== '/index.html') {
    res.writeHead(404).end('Not found\n');
    return;
  }
  const html = (await readFile(page, 'utf8')).replace('__WS_PORT__', String(wsPort));
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
}).listen(port, () => console.log(`Chat page: http://127.0.0.1:${port}/ (websocket port ${wsPort})`));
