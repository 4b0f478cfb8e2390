import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer, InvalidClientIdError, NoCurrentClientError } from '../lib/index.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { freePort, greeted, sleep, TextClient, waitFor, WsClient } from './support/net.js';
import { denied, seen, testProviders } from './support/test-events.js';

/** Reads everything a client receives for `ms` (to check that nothing else arrived). */
async function quiet(c: TextClient | WsClient, ms = 150): Promise<string[]> {
  await sleep(ms);
  return c.drain();
}

describe('a cluster of two gateways (127.0.0.1, 127.0.0.2) and two workers', () => {
  let cluster: TestCluster;
  const clients: { client: TextClient | WsClient; id: string }[] = [];
  const c = (i: number) => clients[i]!.client;
  const id = (i: number) => clients[i]!.id;

  beforeAll(async () => {
    denied.port = await freePort();
    cluster = await startCluster({
      lanIps: ['127.0.0.1', '127.0.0.2'],
      listen: (ip) =>
        ip === '127.0.0.1'
          ? [`text://${ip}:0`, `websocket://${ip}:0`, `text://${ip}:${denied.port}`]
          : [`text://${ip}:0`, `websocket://${ip}:0`],
      workers: 2,
      secretKey: 's3cr3t',
      providers: testProviders,
    });
    // Clients 0,1 on the first gateway (text, websocket); 2,3 on the second.
    clients.push(await greeted(() => TextClient.connect(cluster.port(0, 0))));
    clients.push(await greeted(() => WsClient.connect(`ws://127.0.0.1:${cluster.port(0, 1)}`)));
    clients.push(await greeted(() => TextClient.connect(cluster.port(1, 0), '127.0.0.2')));
    clients.push(await greeted(() => WsClient.connect(`ws://127.0.0.2:${cluster.port(1, 1)}`)));
  }, 30_000);

  afterAll(async () => {
    for (const { client } of clients) client.close();
    await cluster?.close();
  }, 30_000);

  it('gives client_ids that name the gateway (lanIp, internal port) and spreads clients over both workers', () => {
    const g0 = cluster.gateway(0);
    const g1 = cluster.gateway(1);
    expect(id(0).slice(0, 12)).toBe('7f000001' + g0.lanPort.toString(16).padStart(4, '0'));
    expect(id(2).slice(0, 12)).toBe('7f000002' + g1.lanPort.toString(16).padStart(4, '0'));
    expect(g0.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(g1.address).toMatch(/^127\.0\.0\.2:\d+$/);
    // Least connections: the two clients of a gateway went to different workers.
    const bound = [...g0.tables.clients.values()].map((cl) => cl.workerKey);
    expect(new Set(bound).size).toBe(2);
  });

  it('sendToAll reaches every client on both gateways; with a list or exclusions, exactly those', async () => {
    const svc = cluster.service(0);
    await svc.sendToAll('to everybody');
    for (let i = 0; i < 4; i++) expect(await c(i).next()).toBe('to everybody');

    await svc.sendToAll('listed', [id(0), id(3)]);
    expect(await c(0).next()).toBe('listed');
    expect(await c(3).next()).toBe('listed');

    await svc.sendToAll('all but 1 and 2', null, [id(1), id(2)]);
    expect(await c(0).next()).toBe('all but 1 and 2');
    expect(await c(3).next()).toBe('all but 1 and 2');

    await svc.sendToAll('nobody', []);
    for (let i = 0; i < 4; i++) expect(await quiet(c(i))).toEqual([]);
  });

  it('sendToUid reaches every connection of the uid, on both gateways, and no one else', async () => {
    const svc = cluster.service(1);
    await svc.bindUid(id(0), 'u1');
    await svc.bindUid(id(3), 'u1');
    await svc.bindUid(id(2), 42);
    await waitFor(async () => (await svc.getClientIdByUid('u1')).length === 2, 'both u1 bindings');
    expect((await svc.getClientIdByUid('u1')).sort()).toEqual([id(0), id(3)].sort());
    await svc.sendToUid('u1', 'for u1');
    expect(await c(0).next()).toBe('for u1');
    expect(await c(3).next()).toBe('for u1');
    // "42" and 42 are the same uid (PHP array keys).
    await svc.sendToUid(['42'], 'for 42');
    expect(await c(2).next()).toBe('for 42');
    expect(await svc.isUidOnline('u1')).toBe(true);
    expect(await svc.isUidOnline('nobody')).toBe(false);
    for (const i of [1]) expect(await quiet(c(i))).toEqual([]);
    await svc.unbindUid(id(3));
    await svc.sendToUid('u1', 'u1 again');
    expect(await c(0).next()).toBe('u1 again');
    expect(await quiet(c(3))).toEqual([]);
  });

  it('sendToGroup reaches the members on both gateways, minus the excluded ones', async () => {
    const svc = cluster.service(0);
    for (const i of [0, 1, 2]) await svc.joinGroup(id(i), 'room');
    await waitFor(async () => (await svc.getClientCountByGroup('room')) === 3, 'three members in room');
    await svc.sendToGroup('room', 'to room, not 1', id(1));
    expect(await c(0).next()).toBe('to room, not 1');
    expect(await c(2).next()).toBe('to room, not 1');
    expect(await quiet(c(1))).toEqual([]);
    expect(await quiet(c(3))).toEqual([]);

    await svc.leaveGroup(id(0), 'room');
    await svc.sendToGroup(['room'], 'after leave');
    expect(await c(1).next()).toBe('after leave');
    expect(await c(2).next()).toBe('after leave');
    expect(await quiet(c(0))).toEqual([]);

    await svc.ungroup('room');
    await svc.sendToGroup('room', 'dissolved');
    for (let i = 0; i < 4; i++) expect(await quiet(c(i), 50)).toEqual([]);
    // PHP-empty groups are ignored.
    expect(await svc.joinGroup(id(0), '0')).toBe(false);
  });

  it('isOnline and getAllClientCount count both gateways', async () => {
    const svc = cluster.service(0);
    expect(await svc.getAllClientCount()).toBe(4);
    expect(await svc.isOnline(id(0))).toBe(true);
    expect(await svc.isOnline(id(3))).toBe(true);
    const extra = await greeted(() => TextClient.connect(cluster.port(1, 0), '127.0.0.2'));
    expect(await svc.getAllClientCount()).toBe(5);
    extra.client.close();
    await waitFor(async () => !(await svc.isOnline(extra.id)), 'the closed client to go offline');
    expect(await svc.getAllClientCount()).toBe(4);
  });

  it('keeps the session set in @OnConnect for the next @OnMessage; updateSession merges', async () => {
    const client = c(2);
    client.send('inc');
    expect(await client.next()).toBe('1');
    client.send('inc');
    expect(await client.next()).toBe('2');
    client.send('update {"profile":{"a":1,"tags":["x","y"]}}');
    expect(await client.next()).toBe('updated');
    client.send('update {"profile":{"b":2,"tags":["z"]}}');
    expect(await client.next()).toBe('updated');
    client.send('session');
    const session = JSON.parse(await client.next());
    expect(session).toEqual({ n: 2, name: `client-${id(2).slice(-4)}`, profile: { a: 1, b: 2, tags: ['z', 'y'] } });
    // The gateway holds the same session, as any other worker or app sees it.
    expect(await cluster.service(1).getSession(id(2))).toEqual(session);
    await cluster.service(0).updateSession(id(2), { n: 10 });
    await sleep(50);
    client.send('inc');
    expect(await client.next()).toBe('11');
  });

  it('lets a handler add to a session that was set to {} (stored as PHP\'s empty array a:0:{})', async () => {
    const svc = cluster.service(0);
    await svc.setSession(id(3), {});
    await sleep(50);
    c(3).send('mark yes');
    expect(await c(3).next()).toBe('marked');
    await sleep(50);
    expect(await svc.getSession(id(3))).toEqual({ marked: 'yes' });
  });

  it('answers 1,000 messages to an async handler with random delays in order', async () => {
    const client = c(1);
    for (let i = 0; i < 1000; i++) client.send(`seq ${i}`);
    for (let i = 0; i < 1000; i++) expect(await client.next(5000)).toBe(`ack ${i}`);
  }, 30_000);

  it('coalesces the writes to a client: 200 messages from one handler turn leave in one or two writes', async () => {
    const client = c(0) as TextClient;
    // Count the write syscalls the gateway makes on this client's socket (libuv handle methods).
    const conn = cluster.gateway(0).tables.clients.get(parseInt(id(0).slice(12), 16))!;
    const handle = (conn.socket as unknown as { _handle: Record<string, (...a: unknown[]) => unknown> })._handle;
    let writes = 0;
    const restore: [string, (...a: unknown[]) => unknown][] = [];
    for (const m of ['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString']) {
      const orig = handle[m]!;
      restore.push([m, orig]);
      handle[m] = function (this: unknown, ...a: unknown[]) {
        writes++;
        return orig.apply(this, a);
      };
    }
    try {
      client.send('burst 200');
      for (let i = 0; i < 200; i++) expect(await client.next()).toBe(`burst ${i}`);
    } finally {
      for (const [m, orig] of restore) handle[m] = orig;
    }
    // One write per message would be 200 (400 for text: body and newline).
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('applies pipes to @Payload: an instance pipe and a pipe class resolved with DI', async () => {
    c(0).send('   echo  padded text   ');
    expect(await c(0).next()).toBe(' padded text');
  });

  it('passes client and gateway addresses in @Ctx()', async () => {
    c(2).send('whoami');
    expect(await c(2).next()).toBe(`127.0.0.1 ${cluster.gateway(1).address} message`);
  });

  it('logs an exception in a handler and keeps serving; exception filters apply', async () => {
    c(0).send('throw');
    c(0).send('echo still alive');
    expect(await c(0).next()).toBe('still alive');
    expect(cluster.logger.find('error', 'TestEvents.onMessage handler failed').join('\n')).toContain('boom');
    c(0).send('bad input');
    expect(await c(0).next()).toBe('error: bad command "input"');
  });

  it('closes a connection whose @OnConnect guard denies it, before any handler runs', async () => {
    const before = seen.length;
    const client = await TextClient.connect(denied.port);
    await client.waitClosed();
    expect(client.messages).toEqual([]);
    expect(cluster.logger.find('warn', 'onConnect for client').length).toBeGreaterThan(0);
    // The guard ran before the interceptor: no connect event was recorded for it.
    expect(seen.slice(before).filter((s) => s.startsWith('connect'))).toEqual([]);
  });

  it('runs interceptors on connect, message and close events', async () => {
    const extra = await greeted(() => WsClient.connect(`ws://127.0.0.1:${cluster.port(0, 1)}`));
    extra.client.send('echo hi');
    expect(await extra.client.next()).toBe('hi');
    extra.client.close();
    await waitFor(() => seen.includes(`close ${extra.id}`), 'the close event');
    expect(seen).toContain(`connect ${extra.id}`);
    expect(seen).toContain(`message ${extra.id}`);
  });

  it('rejects an invalid client_id with a clear error; current-client calls need an event', async () => {
    const svc = cluster.service(0);
    await expect(svc.sendToClient('not-a-client-id', 'x')).rejects.toThrow(InvalidClientIdError);
    await expect(svc.sendToClient('7f0000010b54000000zz', 'x')).rejects.toThrow(/20 hexadecimal characters/);
    await expect(svc.isOnline('')).rejects.toThrow(InvalidClientIdError);
    await expect(svc.sendToCurrentClient('x')).rejects.toThrow(NoCurrentClientError);
    // A well-formed id of a client that does not exist: nothing happens, and it is offline.
    const ghost = id(0).slice(0, 12) + 'ffffff00';
    expect(await svc.sendToClient(ghost, 'x')).toBe(true);
    expect(await svc.isOnline(ghost)).toBe(false);
    expect(await svc.getSession(ghost)).toBeNull();
  });

  it('exposes live counts on the gateway server', () => {
    const g: GatewayServer = cluster.gateway(0);
    expect(g.clientCount).toBeGreaterThanOrEqual(2);
    expect(g.workerKeys.sort()).toEqual(['127.0.0.1:TestWorker:0', '127.0.0.1:TestWorker:1']);
  });
});
