import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, greeted, TextClient, waitFor, WsClient } from './support/net.js';
import { startNode } from './support/processes.js';

/** The next line about one of `ids`. */
const about = (c: TextClient | WsClient, ...ids: string[]) => c.until((m) => ids.some((id) => m.startsWith(id)));

/**
 * The development mode as `npm run dev` runs it (sample/dev.main.ts, which `nest start dev
 * --watch` builds and restarts): Register, Gateway, BusinessWorker and the HTTP controllers of the
 * chat in one process.
 */
describe('dev mode: the chat in one process (startGatewayWorkerTier(module, \'all\', { http }))', () => {
  let env: Record<string, string>;
  let dev: ReturnType<typeof startNode>;
  let webPort: number;

  beforeAll(async () => {
    webPort = await freePort();
    env = {
      GW_REGISTER_ADDRESS: `127.0.0.1:${await freePort()}`,
      GW_TEXT_PORT: String(await freePort()),
      GW_WS_PORT: String(await freePort()),
      GW_START_PORT: String(await freePort()),
      GW_WEB_PORT: String(webPort),
    };
    dev = startNode('dist/sample/dev.main.js', env);
    await waitFor(() => dev.output().includes('Chat (dev mode, one process)'), 'the dev process to start', 20_000);
  }, 30_000);

  afterAll(() => dev?.stop());

  it('answers a text client, a websocket client and HTTP requests from the one process', async () => {
    const t = await greeted(() => TextClient.connect(Number(env.GW_TEXT_PORT)), 10_000);
    const w = await greeted(() => WsClient.connect(`ws://127.0.0.1:${env.GW_WS_PORT}`));
    expect(await about(t.client, w.id)).toBe(`${w.id} login`);
    w.client.send('hi from the browser');
    expect(await about(t.client, w.id)).toBe(`${w.id} said hi from the browser`);
    t.client.send('hi from telnet');
    expect(await about(w.client, t.id)).toBe(`${t.id} said hi from telnet`);

    // An HTTP controller of the same app, whose GatewayService asks the gateway.
    const online = await fetch(`http://127.0.0.1:${webPort}/online`);
    expect(online.status).toBe(200);
    expect(await online.json()).toEqual({ count: 2 });
    const page = await fetch(`http://127.0.0.1:${webPort}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain(`:${env.GW_WS_PORT}`);
    // The client SDK the page imports is served here too.
    const sdk = await fetch(`http://127.0.0.1:${webPort}/sdk/client.js`);
    expect(sdk.status).toBe(200);
    expect(sdk.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`http://127.0.0.1:${webPort}/protocol/resume-envelope.js`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${webPort}/protocol/php-serialize.js`)).status).toBe(404);
    t.client.close();
    w.client.close();
    expect(dev.output()).toMatch(/Register listening on .*\n(.*\n)*.*ChatGateway .* listening on text:/);
    expect(dev.output()).not.toMatch(/ERROR|WARN/);
  });

  it('stops on SIGTERM tier by tier (worker, gateway, Register) without a warning, releasing every port, so a watch restart binds them again at once', async () => {
    const { client } = await greeted(() => TextClient.connect(Number(env.GW_TEXT_PORT)), 10_000);
    await dev.stop();
    client.close();
    expect(dev.child.exitCode ?? dev.child.signalCode).not.toBeNull();
    const out = dev.output();
    expect(out).not.toMatch(/ERROR|WARN/);
    const drained = out.indexOf('finished draining and left');
    expect(drained).toBeGreaterThan(0);
    // The Register goes last: if its "gateway left" line made it out before the process ended
    // (its output is a pipe, written asynchronously), it comes after the drain.
    const left = out.indexOf('Register: gateway', out.lastIndexOf('joined'));
    if (left >= 0) expect(left).toBeGreaterThan(drained);
    const again = startNode('dist/sample/dev.main.js', env);
    try {
      await waitFor(() => again.output().includes('Chat (dev mode, one process)') || again.child.exitCode !== null, 'the second start', 20_000);
      expect(again.output()).not.toMatch(/EADDRINUSE|ERROR/);
      const { client } = await greeted(() => TextClient.connect(Number(env.GW_TEXT_PORT)), 10_000);
      client.close();
      expect((await fetch(`http://127.0.0.1:${webPort}/online`)).status).toBe(200);
    } finally {
      await again.stop();
    }
  }, 40_000);
});
