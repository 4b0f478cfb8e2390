import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { GatewaySocketClient, type WebSocketConstructor } from '../lib/sdk/client.js';
import { freePort, freePortRange, greeted, TextClient, waitFor, WsClient } from './support/net.js';
import { alive, repoPath, startNode } from './support/processes.js';

/** The next line about one of `ids`: other tests' clients chat on the same sample too. */
const about = (c: TextClient | WsClient, ...ids: string[]) => c.until((m) => ids.some((id) => m.startsWith(id)));

/**
 * The chat sample exactly as `npm start` runs it (`gateway-worker start` with the repository's
 * gateway-worker.config.json: one Register, two Gateway processes sharing the public ports, two
 * BusinessWorkers and the web page server), on free ports, with its own pid file.
 */
describe('chat sample (npm start), separate processes', () => {
  let sample: ReturnType<typeof startNode>;
  let stateFile: string;
  let textPort: number;
  let wsPort: number;
  let webPort: number;

  beforeAll(async () => {
    const [register, start] = [await freePort(), await freePortRange(2)];
    textPort = await freePort();
    wsPort = await freePort();
    webPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gw-chat-'));
    const config = JSON.parse(readFileSync(repoPath('gateway-worker.config.json'), 'utf8'));
    for (const t of config.tiers) t.entry = repoPath(t.entry);
    writeFileSync(join(dir, 'gateway-worker.config.json'), JSON.stringify(config));
    stateFile = join(dir, 'gateway-worker.pid.json');
    sample = startNode(
      'dist/lib/cli/gateway-worker.cli.js',
      {
      GW_REGISTER_ADDRESS: `127.0.0.1:${register}`,
      GW_TEXT_PORT: String(textPort),
      GW_WS_PORT: String(wsPort),
      GW_START_PORT: String(start),
      GW_WEB_PORT: String(webPort),
      },
      { args: ['start'], cwd: dir },
    );
    // Ready when a client is greeted: the worker has found the gateway through the Register.
    const { client } = await greeted(() => TextClient.connect(textPort), 20_000);
    client.close();
  }, 30_000);

  afterAll(async () => {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { processes: { tier: string; pid: number }[] };
    const children = state.processes.map((p) => p.pid);
    await sample.stop();
    // SIGTERM to the master stops every process gracefully (the group kill in stop() is only a safety net).
    expect(sample.output()).toContain('stopped');
    expect(state.processes.map((p) => p.tier).sort()).toEqual(['business-worker', 'business-worker', 'gateway', 'gateway', 'process', 'register']);
    // Nothing of the sample is left running.
    await waitFor(() => !alive(sample.child.pid!) && children.every((p) => !alive(p)), 'every sample process to exit', 10_000);
  }, 20_000);

  it('runs the GatewayWorker demo over telnet-style text: Hello, login, said, logout', async () => {
    const a = await greeted(() => TextClient.connect(textPort));
    expect(await about(a.client, a.id)).toBe(`${a.id} login`);
    const b = await greeted(() => TextClient.connect(textPort));
    expect(await about(b.client, b.id)).toBe(`${b.id} login`);
    expect(await about(a.client, b.id)).toBe(`${b.id} login`);
    expect(a.id).toMatch(/^7f000001[0-9a-f]{12}$/);

    a.client.send('hello');
    expect(await about(a.client, a.id)).toBe(`${a.id} said hello`);
    expect(await about(b.client, a.id)).toBe(`${a.id} said hello`);

    b.client.close();
    expect(await about(a.client, b.id)).toBe(`${b.id} logout`);
    a.client.close();
  });

  it('runs the same chat over websocket, mixed with text clients', async () => {
    const w = await greeted(() => WsClient.connect(`ws://127.0.0.1:${wsPort}`));
    expect(await about(w.client, w.id)).toBe(`${w.id} login`);
    const t = await greeted(() => TextClient.connect(textPort));
    expect(await about(t.client, t.id)).toBe(`${t.id} login`);
    expect(await about(w.client, t.id)).toBe(`${t.id} login`);

    w.client.send('hi from the browser');
    expect(await about(w.client, w.id)).toBe(`${w.id} said hi from the browser`);
    expect(await about(t.client, w.id)).toBe(`${w.id} said hi from the browser`);

    w.client.close();
    expect(await about(t.client, w.id)).toBe(`${w.id} logout`);
    t.client.close();
  });

  it('keeps an SDK client across six cuts, its reconnects landing on either gateway process (hand-overs): every line once, in order', async () => {
    const sockets: WebSocket[] = [];
    const Ctor = function (url: string, protocols?: string | string[]) {
      const ws = new WebSocket(url, protocols);
      ws.on('error', () => undefined);
      sockets.push(ws);
      return ws;
    } as unknown as WebSocketConstructor;
    const client = new GatewaySocketClient({ url: `ws://127.0.0.1:${wsPort}`, WebSocket: Ctor, reconnect: { initialDelay: 50, maxDelay: 200 } });
    const t = await greeted(() => TextClient.connect(textPort));
    const got: number[] = [];
    const said = new RegExp(`^${t.id} said m(\\d+)$`);
    client.onMessage((m) => {
      const n = said.exec(String(m));
      if (n) got.push(Number(n[1]));
    });
    const ids = new Set<string>();
    let resumed = 0;
    client.onState((s) => {
      if (s.state === 'open' && s.clientId) ids.add(s.clientId);
      if (s.resumed) resumed++;
    });
    try {
      await client.connect();
      for (let i = 1; i <= 300; i++) {
        t.client.send(`m${i}`);
        if (i % 50 === 0) {
          const before = resumed;
          (sockets.at(-1) as unknown as { _socket: { resetAndDestroy(): void } })._socket.resetAndDestroy();
          await waitFor(() => resumed > before, 'the resume', 10_000);
        }
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor(() => got.length >= 300, 'all 300 lines', 15_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(Array.from({ length: 300 }, (_, k) => k + 1));
      expect(resumed).toBe(6);
      // Both gateway processes listen on the port: a resume landing on the other one is a hand-over
      // (a new client_id); the OS decides, so how many varies.
      expect(ids.size).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
      t.client.close();
    }
  }, 60_000);

  it('serves the chat page that connects to the websocket port', async () => {
    // The page server is the last process `gateway-worker start` forks: give it a moment.
    let res: Response | null = null;
    await waitFor(async () => (res = await fetch(`http://127.0.0.1:${webPort}/`).catch(() => null)) !== null, 'the page server', 10_000);
    res = res!;
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('new GatewaySocketClient(');
    expect(html).toContain(`:${wsPort}`);
    // The client SDK the page imports is served, as a browser loads it (ESM, its imports too) — and nothing else of the build.
    for (const path of ['/sdk/client.js', '/sdk/gateway-socket.client.js', '/protocol/resume-envelope.js', '/errors/request-timeout.error.js', '/errors/gateway-worker.error.js', '/gateway-worker.messages.js']) {
      const js = await fetch(`http://127.0.0.1:${webPort}${path}`);
      expect(js.status, path).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect(await js.text()).not.toMatch(/from ['"]node:/);
    }
    for (const path of ['/gateway/gateway.server.js', '/index.js', '/sdk/../index.js']) expect((await fetch(`http://127.0.0.1:${webPort}${path}`)).status, path).toBe(404);
    // A plain HTTP request to the websocket port says what it is instead of hanging.
    const ws = await fetch(`http://127.0.0.1:${wsPort}/`);
    expect(ws.status).toBe(426);
  });
});
