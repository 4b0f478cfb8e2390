import { rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer, GatewayWorkerOptionsError, TlsCertificateError } from '../lib/index.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';
import { CapturingLogger, boot, startCluster, type TestCluster } from './support/cluster.js';
import { connectTlsText, connectWs, generateCertificate, type TestCertificate } from './support/edge.js';
import { freePort, greeted, sleep, waitFor } from './support/net.js';
import { testProviders } from './support/test-events.js';

/** The first error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('TLS in the gateway (wss:// and text over TLS)', () => {
  let cert: TestCertificate;
  let other: TestCertificate;
  let cluster: TestCluster;

  beforeAll(async () => {
    cert = generateCertificate();
    other = generateCertificate('other');
    cluster = await startCluster({
      gateways: [
        {
          listen: ['wss://127.0.0.1:0', 'text+tls://127.0.0.1:0', 'websocket://127.0.0.1:0'],
          tls: { cert: cert.certPath, key: cert.keyPath },
        },
      ],
      providers: testProviders,
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
    for (const c of [cert, other]) if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  it('serves a wss:// client with the certificate from gateway.tls (paths)', async () => {
    const { client, id } = await greeted(() => connectWs(`wss://127.0.0.1:${cluster.port(0, 0)}`, { ca: cert.cert }));
    client.send('echo over wss');
    expect(await client.until((m) => m === 'over wss')).toBe('over wss');
    expect(cluster.gateways[0]!.tables.clients.get(parseInt(id.slice(12), 16))?.protocol).toBe('websocket');
    client.close();
  });

  it('serves a TLS text client (text+tls://), line framing inside TLS', async () => {
    const { client } = await greeted(() => connectTlsText(cluster.port(0, 1), { ca: cert.cert }));
    expect((client.socket as TLSSocket).authorized).toBe(true);
    client.send('echo over tls');
    expect(await client.until((m) => m === 'over tls')).toBe('over tls');
    client.close();
  });

  it('keeps a plain websocket:// listener beside the TLS ones, and refuses TLS from an untrusting client', async () => {
    const { client } = await greeted(() => connectWs(`ws://127.0.0.1:${cluster.port(0, 2)}`));
    client.close();
    // A client that does not trust this certificate fails its handshake; the gateway keeps serving.
    const err = await rejection(connectWs(`wss://127.0.0.1:${cluster.port(0, 0)}`, { ca: other.cert }));
    expect(err.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
    // Plain text sent to the TLS text port is not a TLS handshake: the connection is dropped, no client appears.
    await waitFor(() => cluster.gateways[0]!.clientCount === 0, 'the earlier clients to be gone');
    const raw = netConnect({ host: '127.0.0.1', port: cluster.port(0, 1) });
    raw.on('error', () => undefined);
    raw.write('hello\r\n');
    await new Promise((r) => raw.once('close', r));
    expect(cluster.gateways[0]!.clientCount).toBe(0);
  });

  it("accepts PEM contents instead of paths, and transport: 'ssl' makes every listener TLS", async () => {
    const logger = new CapturingLogger();
    const app = await boot(
      { registerAddress: `127.0.0.1:${await freePort()}`, gateway: { listen: ['websocket://127.0.0.1:0', 'text://127.0.0.1:0'], startPort: 0, transport: 'ssl', tls: { cert: cert.cert, key: Buffer.from(cert.key) } } },
      'gateway',
      logger,
    );
    try {
      for (const port of app.get(GatewayServer).publicPorts) {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: cert.cert });
        await new Promise<void>((resolve, reject) => {
          socket.once('secureConnect', resolve);
          socket.once('error', reject);
        });
        expect(socket.authorized).toBe(true);
        expect(socket.getPeerCertificate().subject.CN).toBe('localhost');
        socket.destroy();
      }
      expect(logger.find('log', 'websocket+tls://127.0.0.1:').length).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('stops startup with the path in the message when the certificate file is missing', async () => {
    const missing = `${cert.dir}/no-such-cert.pem`;
    const port = await freePort();
    const err = await rejection(
      boot({ registerAddress: `127.0.0.1:${await freePort()}`, gateway: { listen: `wss://127.0.0.1:${port}`, startPort: 0, tls: { cert: missing, key: cert.keyPath } } }, 'gateway', new CapturingLogger()),
    );
    expect(err).toBeInstanceOf(TlsCertificateError);
    expect(err.message).toContain(missing);
    expect(err.message).toContain('gateway.tls.cert');
    expect(err.message).toMatch(/ENOENT/);
    // Nothing was left listening on the public port.
    await sleep(50);
    const probe = netConnect({ host: '127.0.0.1', port });
    const refused = await new Promise<boolean>((r) => {
      probe.once('connect', () => r(false));
      probe.once('error', () => r(true));
    });
    probe.destroy();
    expect(refused).toBe(true);
  });

  it('stops startup when the key does not match the certificate', async () => {
    const err = await rejection(
      boot({ registerAddress: `127.0.0.1:${await freePort()}`, gateway: { listen: 'wss://127.0.0.1:0', startPort: 0, tls: { cert: cert.certPath, key: other.keyPath } } }, 'gateway', new CapturingLogger()),
    );
    expect(err).toBeInstanceOf(TlsCertificateError);
    expect(err.message).toMatch(/key values mismatch|not usable/);
    expect(err.message).toContain(other.keyPath);
  });

  it('refuses TLS listeners without a certificate, and a certificate no listener uses, at validation', () => {
    const problems = (gateway: object) => {
      try {
        resolveGatewayWorkerOptions({ gateway: gateway as never });
      } catch (err) {
        expect(err).toBeInstanceOf(GatewayWorkerOptionsError);
        return (err as GatewayWorkerOptionsError).problems;
      }
      return [];
    };
    expect(problems({ listen: 'wss://0.0.0.0:443' })).toEqual(['gateway.listen "wss://0.0.0.0:443" uses TLS but gateway.tls (cert and key) is missing']);
    expect(problems({ listen: 'websocket://0.0.0.0:7272', tls: { cert: 'c.pem', key: 'k.pem' } })[0]).toMatch(/no listener uses TLS/);
    expect(problems({ listen: 'text+tls://0.0.0.0:8282', tls: { cert: 'c.pem' } })).toEqual(['gateway.tls needs cert and key (or pfx)']);
    const ok = resolveGatewayWorkerOptions({ gateway: { listen: ['wss://0.0.0.0:443', 'frame+ssl://0.0.0.0:9000', 'text://0.0.0.0:8282'], tls: { cert: 'c.pem', key: 'k.pem' } } });
    expect(ok.gateway!.listen.map((l) => [l.protocol, l.tls === true])).toEqual([
      ['websocket', true],
      ['frame', true],
      ['text', false],
    ]);
  });
});
