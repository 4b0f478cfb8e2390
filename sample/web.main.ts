import { createServer } from 'node:http';
import { readSdkFile, renderChatPage } from './chat/chat-page.js';
import { webPort } from './chat/chat.config.js';

/**
 * Serves the chat page (sample/web/index.html), as the demo's WebServer does on 55151 — the
 * `process` tier of `npm start`. (`npm run dev` serves it from ChatPageController instead.)
 */
const port = webPort();

createServer(async (req, res) => {
  // The client SDK the page imports.
  const js = await readSdkFile(req.url?.split('?')[0] ?? '');
  if (js !== null) return void res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' }).end(js);
  if (req.url !== '/' && !req.url?.startsWith('/?') && req.url !== '/index.html') {
    res.writeHead(404).end('Not found\n');
    return;
  }
  const { html } = await renderChatPage();
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
}).listen(port, async () => console.log(`Chat page: http://127.0.0.1:${port}/ (websocket ${(await renderChatPage()).websocket})`));
