import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientId, Ctx, GatewayEventContext, GatewayEvents, GatewayService, OnConnect, OnMessage, Payload } from '../lib/index.js';
import { repoPath } from './support/processes.js';
import { connectWs, generateCertificate, type TestCertificate } from './support/edge.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { startNginx, type TestNginx } from './support/nginx.js';
import { freePort, greeted, WsClient } from './support/net.js';

/** A chat that says where each message came from, as the handler sees it. */
@GatewayEvents()
class AddressChat {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() id: string): Promise<void> {
    await this.gateway.sendToCurrentClient(`Hello ${id}`);
  }

  @OnMessage()
  async onMessage(@ClientId() id: string, @Payload() message: string, @Ctx() ctx: GatewayEventContext): Promise<void> {
    await this.gateway.sendToAll(`${id} said ${message} from ${ctx.remoteAddress}`);
  }
}

/** The next line about `id`. */
const about = (c: WsClient, id: string) => c.until((m) => m.startsWith(id));

describe('wss:// through a real nginx (sample/nginx/wss-location.conf) to the gateway', () => {
  let cert: TestCertificate;
  let cluster: TestCluster;
  let nginx: TestNginx;

  beforeAll(async () => {
    cert = generateCertificate('nginx');
    cluster = await startCluster({
      gateways: [{ listen: ['websocket://127.0.0.1:0'], trustedProxies: ['127.0.0.1'] }],
      providers: [AddressChat],
    });
    const port = await freePort();
    // The shipped location block, included verbatim; only the upstream and the TLS server are the test's.
    nginx = await startNginx(
      port,
      `  upstream gateway_websocket { server 127.0.0.1:${cluster.port(0)}; }
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    include ${repoPath('sample/nginx/wss-location.conf')};
  }`,
    );
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await cluster?.close();
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
  });

  it('chats over wss://…/wss, and handlers see each browser\'s address from X-Real-IP', async () => {
    const url = `wss://127.0.0.1:${nginx.port}/wss`;
    // Two "browsers" on different loopback addresses; nginx itself connects from 127.0.0.1.
    const a = await greeted(() => connectWs(url, { ca: cert.cert, localAddress: '127.0.0.5' }));
    const b = await greeted(() => connectWs(url, { ca: cert.cert, localAddress: '127.0.0.6' }));
    a.client.send('hello through nginx');
    expect(await about(a.client, a.id)).toBe(`${a.id} said hello through nginx from 127.0.0.5`);
    expect(await about(b.client, a.id)).toBe(`${a.id} said hello through nginx from 127.0.0.5`);
    b.client.send('hi');
    expect(await about(a.client, b.id)).toBe(`${b.id} said hi from 127.0.0.6`);
    a.client.close();
    b.client.close();
  });

  it('ignores X-Real-IP from a client that is not a trusted proxy', async () => {
    const direct = await greeted(() => connectWs(`ws://127.0.0.1:${cluster.port(0)}/`, { localAddress: '127.0.0.7', headers: { 'X-Real-IP': '203.0.113.9', 'X-Forwarded-For': '203.0.113.9' } }));
    direct.client.send('forged');
    expect(await about(direct.client, direct.id)).toBe(`${direct.id} said forged from 127.0.0.7`);
    direct.client.close();
  });
});
