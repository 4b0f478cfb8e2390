import type { INestMicroservice } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayService,
  GatewayUnreachableError,
  GatewayWorkerModule,
  NoCurrentClientError,
  PartialResultError,
  QueryTimeoutError,
  RegisterUnavailableError,
  type GatewayWorkerModuleOptions,
} from '../lib/index.js';
import { gatewayConnectLine } from '../lib/protocol/register-message.js';
import { GatewayClient } from '../lib/client/gateway.client.js';
import { GatewayQueryLink } from '../lib/client/gateway-query.link.js';
import { boot, startCluster, type TestCluster } from './support/cluster.js';
import { freePort, greeted, sleep, TextClient, waitFor } from './support/net.js';
import { startNode } from './support/processes.js';
import { testProviders } from './support/test-events.js';

const SECRET = 'client-secret';

/** An "external app": GatewayWorkerModule and nothing else, no tier started (a web app, a queue worker). */
interface ExternalApp {
  moduleRef: TestingModule;
  service: GatewayService;
  client: GatewayClient;
}

/** Everything a client receives for `ms`, to check that nothing (else) arrived. */
async function quiet(c: TextClient, ms = 150): Promise<string[]> {
  await sleep(ms);
  return c.drain();
}

/** How long a promise takes to settle, and how. */
async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - t0, value };
  } catch (error) {
    return { ms: Date.now() - t0, error };
  }
}

describe('GatewayService outside a BusinessWorker (the GatewayClient)', () => {
  let cluster: TestCluster;
  let register: INestMicroservice;
  const apps: ExternalApp[] = [];
  let ext: ExternalApp;
  const clients: { client: TextClient; id: string }[] = [];
  const c = (i: number) => clients[i]!.client;
  const id = (i: number) => clients[i]!.id;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  async function externalApp(options: GatewayWorkerModuleOptions): Promise<ExternalApp> {
    const moduleRef = await Test.createTestingModule({ imports: [GatewayWorkerModule.forRoot(options)] })
      .setLogger(cluster.logger)
      .compile();
    const app = { moduleRef, service: moduleRef.get(GatewayService), client: moduleRef.get(GatewayClient) };
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    cluster = await startCluster({
      lanIps: ['127.0.0.1', '127.0.0.2'],
      listen: (ip) => [`text://${ip}:0`],
      workers: 1,
      secretKey: SECRET,
      providers: testProviders,
    });
    register = cluster.register;
    // Clients 0, 1 on the first gateway; 2, 3 on the second.
    clients.push(await greeted(() => TextClient.connect(cluster.port(0))));
    clients.push(await greeted(() => TextClient.connect(cluster.port(0))));
    clients.push(await greeted(() => TextClient.connect(cluster.port(1), '127.0.0.2')));
    clients.push(await greeted(() => TextClient.connect(cluster.port(1), '127.0.0.2')));
    // Two register addresses: the first has nothing listening; any one answering is enough.
    ext = await externalApp({ registerAddress: [`127.0.0.1:${await freePort()}`, cluster.registerAddress], secretKey: SECRET, queryTimeout: 2000 });
  }, 30_000);

  afterAll(async () => {
    for (const { client } of clients) client.close();
    for (const app of apps) await app.moduleRef.close();
    for (const app of [...cluster.workers, ...cluster.gatewayApps, register]) await app.close();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  }, 30_000);

  it('finds the gateways through the second register address when the first is down', async () => {
    expect([...(await ext.client.addresses())].sort()).toEqual([cluster.gateway(0).address, cluster.gateway(1).address].sort());
    expect(await ext.service.getAllClientCount()).toBe(4);
    // It is not a worker: it keeps plain client connections to both gateways, no worker link.
    expect(ext.client.connectedGateways.sort()).toEqual([cluster.gateway(0).address, cluster.gateway(1).address].sort());
    expect(cluster.gateway(0).workerKeys).toEqual(['127.0.0.1:TestWorker:0']);
  });

  it('sends to all, to every connection of a uid and to a group, on both gateways', async () => {
    const svc = ext.service;
    expect(await svc.sendToAll('from the web app')).toBe(true);
    for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('from the web app');

    for (const i of [0, 1, 3]) await svc.bindUid(id(i), 'u7');
    await waitFor(async () => (await svc.getClientIdByUid('u7')).length === 3, 'three u7 bindings');
    expect(await svc.sendToUid('u7', 'for u7')).toBe(true);
    for (const i of [0, 1, 3]) expect(await c(i).next()).toBe('for u7');
    expect(await quiet(c(2))).toEqual([]);

    for (const i of [1, 2]) await svc.joinGroup(id(i), 'room');
    await waitFor(async () => (await svc.getClientCountByGroup('room')) === 2, 'two members in room');
    expect(await svc.sendToGroup('room', 'to room')).toBe(true);
    expect(await c(1).next()).toBe('to room');
    expect(await c(2).next()).toBe('to room');
    expect(await svc.sendToClient(id(3), 'just you')).toBe(true);
    expect(await c(3).next()).toBe('just you');
    for (const i of [0, 3]) expect(await quiet(c(i), 50)).toEqual([]);

  });

  it('answers presence queries exactly as a BusinessWorker does', async () => {
    const outside = ext.service;
    const inside = cluster.service(0);
    await outside.updateSession(id(2), { plan: 'pro', tags: ['a'] });
    await waitFor(async () => (await inside.getSession(id(2)))?.plan === 'pro', 'the session update');
    const ghost = id(0).slice(0, 12) + 'ffffff00';
    for (const who of [id(0), id(1), id(2), id(3), ghost]) {
      expect(await outside.isOnline(who)).toBe(await inside.isOnline(who));
      expect(await outside.getSession(who)).toEqual(await inside.getSession(who));
    }
    expect(await outside.isOnline(ghost)).toBe(false);
    expect(await outside.getSession(ghost)).toBeNull();
    expect(await outside.getSession(id(2))).toMatchObject({ plan: 'pro', tags: ['a'] });
    expect(await outside.getAllClientCount()).toBe(await inside.getAllClientCount());
    expect(await outside.getAllClientCount()).toBe(4);
    expect((await outside.getClientIdByUid('u7')).sort()).toEqual((await inside.getClientIdByUid('u7')).sort());
    expect((await outside.getClientIdByUid('u7')).sort()).toEqual([id(0), id(1), id(3)].sort());
    expect(await outside.isUidOnline('u7')).toBe(await inside.isUidOnline('u7'));
    expect(await outside.isUidOnline('nobody')).toBe(false);
    expect(await outside.getClientCountByGroup('room')).toBe(await inside.getClientCountByGroup('room'));
  });

  it('refuses current-client calls with an error that says they need a handler', async () => {
    await expect(ext.service.sendToCurrentClient('x')).rejects.toThrow(NoCurrentClientError);
    await expect(ext.service.closeCurrentClient()).rejects.toThrow(/outside a @OnConnect\/@OnMessage\/@OnClose handler/);
  });

  it('applies the secret key: with a wrong one the Register and the gateways refuse it, and it says so quickly', async () => {
    const wrong = await externalApp({ registerAddress: cluster.registerAddress, secretKey: 'wrong', connectTimeout: 1500 });
    const count = await timed(wrong.service.getAllClientCount());
    expect(count.error).toBeInstanceOf(RegisterUnavailableError);
    expect((count.error as Error).message).toMatch(/secretKey/);
    // Bounded by connectTimeout, and shorter: the Register closed the link, nothing to wait for.
    expect(count.ms).toBeLessThan(1500);
    const online = await timed(wrong.service.isOnline(id(0)));
    expect(online.error).toBeInstanceOf(GatewayUnreachableError);
    expect((online.error as Error).message).toMatch(/secret key is wrong/);
    expect(cluster.logger.find('warn', 'client connection from 127.0.0.1').length).toBeGreaterThan(0);
  });

  it('reports a gateway that does not answer in time as a timeout or a partial result, without hanging', async () => {
    // A "gateway" that accepts connections and never answers, announced to the Register.
    const muteConnections: Socket[] = [];
    const mute = createServer((s) => muteConnections.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const muteAddress = `127.0.0.1:${(mute.address() as { port: number }).port}`;
    const announce = connect({ host: '127.0.0.1', port: Number(cluster.registerAddress.split(':')[1]) });
    announce.write(gatewayConnectLine(muteAddress, SECRET));
    try {
      await waitFor(async () => (await ext.client.addresses()).includes(muteAddress), 'the mute gateway to be announced');
      const partial = await timed(ext.service.getAllClientCount({ timeout: 300 }));
      expect(partial.value).toBe(4);
      expect(partial.ms).toBeLessThan(1500);
      expect(cluster.logger.find('warn', `(): gateways ${muteAddress} (Gateway ${muteAddress} did not answer within 300 ms`).length).toBeGreaterThan(0);

      const strict = await timed(ext.service.getAllClientCount({ timeout: 300, partial: 'throw' }));
      expect(strict.error).toBeInstanceOf(PartialResultError);
      const err = strict.error as PartialResultError;
      expect(err.partialValue).toBe(4);
      expect(err.failures.map((f) => f.address)).toEqual([muteAddress]);
      expect(err.failures[0]!.error).toBeInstanceOf(QueryTimeoutError);

      // A single-gateway query times out with a typed error (a client_id of the mute gateway).
      const muteId = '7f000001' + Number(muteAddress.split(':')[1]).toString(16).padStart(4, '0') + '00000001';
      const one = await timed(ext.service.isOnline(muteId, { timeout: 200 }));
      expect(one.error).toBeInstanceOf(QueryTimeoutError);
      expect(one.ms).toBeLessThan(1000);
      // Pushes still reach everybody else.
      expect(await ext.service.sendToAll('despite the mute one')).toBe(true);
      for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('despite the mute one');
      expect(ext.client.connectedGateways).toContain(muteAddress);
    } finally {
      // It leaves the Register (still running, its connection from the client still open).
      announce.destroy();
    }
    try {
      await waitFor(async () => (await ext.client.addresses()).length === 2, 'the mute gateway to leave the list');
      // The client closed its connection to the gateway the Register dropped.
      await waitFor(() => !ext.client.connectedGateways.includes(muteAddress), 'the link to the dropped gateway to close', 1000);
      expect(await ext.service.getAllClientCount({ partial: 'throw' })).toBe(4);
    } finally {
      for (const s of muteConnections) s.destroy();
      mute.close();
    }
  });

  it('sends a command again once when its persistent connection turns out to be broken', async () => {
    // A gateway stand-in that stops reading on its first connection, then resets it.
    const received: Buffer[][] = [];
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => {
      const chunks: Buffer[] = [];
      received.push(chunks);
      sockets.push(s);
      s.on('data', (d) => chunks.push(d));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const link = new GatewayQueryLink({ address, secretKey: '', connectTimeout: 1000, maxPacketSize: 1 << 20 });
    try {
      expect(await link.send(Buffer.from('first'))).toBe(true);
      await waitFor(() => received[0]?.length === 1, 'the first command');
      sockets[0]!.pause();
      // Too big to be handed to the kernel at once while the peer does not read.
      const big = Buffer.alloc(32 << 20, 7);
      const sending = link.send(big);
      await sleep(200);
      sockets[0]!.resetAndDestroy();
      expect(await sending).toBe(true);
      await waitFor(() => (received[1] ?? []).reduce((n, b) => n + b.length, 0) === big.length, 'the command on a fresh connection', 10_000);
      expect(received).toHaveLength(2);
    } finally {
      link.close();
      server.close();
    }
  });

  it('sends a query again once when its persistent connection breaks before the reply', async () => {
    // A gateway stand-in whose first connection is reset when the query arrives; later ones answer i:1;
    let connections = 0;
    const server = createServer((s) => {
      const n = ++connections;
      s.on('error', () => undefined);
      s.on('data', (d) => {
        if (!d.includes('query')) return;
        if (n === 1) s.resetAndDestroy();
        else s.write(Buffer.from('00000004693a313b', 'hex'));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const link = new GatewayQueryLink({ address, secretKey: '', connectTimeout: 1000, maxPacketSize: 1 << 20 });
    try {
      expect(await link.send(Buffer.from('warm-up'))).toBe(true);
      await waitFor(() => link.connected, 'the link to be up');
      const reply = await timed(link.request(Buffer.from('query'), 2000));
      expect(reply.error).toBeUndefined();
      expect(reply.value?.toString()).toBe('i:1;');
      expect(connections).toBe(2);
    } finally {
      link.close();
      server.close();
    }
  });

  it('drops a gateway killed mid-use; the others still receive pushes, and calls to it neither hang nor throw', async () => {
    // A third gateway as a real process (the chat sample's gateway tier), killed with SIGKILL.
    const [textPort, wsPort, startPort] = [await freePort(), await freePort(), await freePort('127.0.0.3')];
    const gw = startNode('dist/sample/gateway.main.js', {
      GW_REGISTER_ADDRESS: cluster.registerAddress,
      GW_SECRET_KEY: SECRET,
      GW_LAN_IP: '127.0.0.3',
      GW_TEXT_PORT: String(textPort),
      GW_WS_PORT: String(wsPort),
      GW_START_PORT: String(startPort),
    });
    const deadAddress = `127.0.0.3:${startPort}`;
    try {
      const victim = await greeted(() => TextClient.connect(textPort), 20_000);
      await waitFor(async () => (await ext.client.addresses()).includes(deadAddress), 'the third gateway to be announced');
      expect(await ext.service.sendToAll('three gateways')).toBe(true);
      for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('three gateways');
      expect(await victim.client.next()).toBe('three gateways');
      expect(ext.client.connectedGateways).toContain(deadAddress);

      gw.child.kill('SIGKILL');
      // Right away, before or after the Register notices: it resolves, the others get it.
      const right = await timed(ext.service.sendToAll('right after the kill'));
      expect(right.error).toBeUndefined();
      expect(right.value).toBe(true);
      expect(right.ms).toBeLessThan(2000);
      for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('right after the kill');

      await waitFor(async () => !(await ext.client.addresses()).includes(deadAddress), 'the Register to drop the killed gateway', 5000);
      expect(ext.client.connectedGateways).not.toContain(deadAddress);
      expect(await ext.service.sendToAll('after the kill')).toBe(true);
      for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('after the kill');
      expect(await ext.service.getAllClientCount({ partial: 'throw' })).toBe(4);

      // Calls for a client of the dead gateway: false / a typed error, fast.
      const send = await timed(ext.service.sendToClient(victim.id, 'hello?'));
      expect(send.value).toBe(false);
      expect(send.ms).toBeLessThan(1000);
      const online = await timed(ext.service.isOnline(victim.id));
      expect(online.error).toBeInstanceOf(GatewayUnreachableError);
      expect(online.ms).toBeLessThan(1000);
      expect(cluster.logger.find('warn', `GatewayClient: cannot reach gateway ${deadAddress}`)).toHaveLength(1);
      victim.client.close();
    } finally {
      await gw.stop();
    }
  }, 40_000);

  it('fails fast with RegisterUnavailableError while the Register is stopped, and works again when it is back', async () => {
    // Another app that keeps the last gateway list for a minute.
    const patient = await externalApp({ registerAddress: cluster.registerAddress, secretKey: SECRET, addressCacheTtl: 60_000 });
    expect(await patient.service.getAllClientCount()).toBe(4);
    expect(await ext.service.getAllClientCount()).toBe(4);

    await register.close();
    // Within addressCacheTtl (1 s by default) of losing the Register, calls start failing...
    await waitFor(async () => (await timed(ext.service.getAllClientCount())).error instanceof RegisterUnavailableError, 'calls to fail', 5000);
    // ...at once, and with a message that says what to do.
    const calls: (() => Promise<unknown>)[] = [() => ext.service.sendToAll('x'), () => ext.service.sendToUid('u7', 'x'), () => ext.service.getClientIdByUid('u7')];
    for (const call of calls) {
      const r = await timed(call());
      expect(r.error).toBeInstanceOf(RegisterUnavailableError);
      expect(r.ms).toBeLessThan(100);
    }
    const message = ((await timed(ext.service.sendToGroup('room', 'x'))).error as Error).message;
    // The reason is the last one seen: the close itself, or a refused reconnect (1 s later).
    expect(message).toMatch(new RegExp(`${cluster.registerAddress.replace(/\./g, '\\.')}: (connect ECONNREFUSED|connection closed)`));
    expect(message).toContain('Start the register tier');
    // Calls for one client_id go straight to its gateway, Register or not.
    expect(await ext.service.sendToClient(id(0), 'direct')).toBe(true);
    expect(await c(0).next()).toBe('direct');
    // The patient app still pushes to everybody from its cached list.
    expect(await patient.service.sendToAll('from the cache')).toBe(true);
    for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('from the cache');

    // The Register comes back on the same address: same apps, no restart.
    register = await boot({ registerAddress: cluster.registerAddress, secretKey: SECRET, register: { listen: cluster.registerAddress } }, 'register', cluster.logger);
    await waitFor(async () => (await timed(ext.service.getAllClientCount())).value === 4, 'calls to work again', 10_000);
    expect(await ext.service.sendToAll('back')).toBe(true);
    for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('back');
    expect(cluster.logger.find('log', 'GatewayClient: connected to the Register at').length).toBeGreaterThan(0);
  }, 30_000);
});
