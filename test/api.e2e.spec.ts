/**
 * The whole GatewayService API (docs/protocol.md §7) against a two-gateway cluster, through both
 * transports (inside a BusinessWorker, and as a GatewayClient in a plain Nest app), with text,
 * websocket and frame clients; partial results with a stalled gateway; departed gateways.
 */
import { type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusinessWorkerServer,
  ClientId,
  GatewayEvents,
  GatewayService,
  InvalidClientIdError,
  OnConnect,
  OnMessage,
  PartialResultError,
  Payload,
  QueryTimeoutError,
  Session,
  type GatewaySession,
} from '../lib/index.js';
import { startCluster, tierModule, type TestCluster } from './support/cluster.js';
import { freePort, greeted, sleep, TextClient, waitFor, WsClient } from './support/net.js';

// ---------------------------------------------------------------------------------------------
// Test handlers and clients
// ---------------------------------------------------------------------------------------------

/** Greets each client with its client_id; a few commands exercise the current-client methods. */
@GatewayEvents()
class ApiEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async onConnect(@ClientId() id: string): Promise<void> {
    await this.gateway.sendToCurrentClient(`Hello ${id}`);
  }

  @OnMessage()
  async onMessage(@Payload() message: string, @ClientId() id: string, @Session() session: GatewaySession): Promise<void> {
    const i = message.indexOf(' ');
    const [op, arg] = i < 0 ? [message, ''] : [message.slice(0, i), message.slice(i + 1)];
    const reply = (text: string) => this.gateway.sendToCurrentClient(text);
    switch (op) {
      case 'echo':
        return void (await reply(arg));
      case 'live': {
        // An unsaved change must show in getAllClientSessions (PHP puts $_SESSION there).
        session.mark = 'live';
        const all = await this.gateway.getAllClientSessions();
        return void (await reply(`${all[id]?.mark} ${Object.keys(all).length}`));
      }
      case 'set':
        await this.gateway.setSession(id, JSON.parse(arg));
        return void (await reply(JSON.stringify(await this.gateway.getSession(id))));
      case 'update':
        await this.gateway.updateSession(id, JSON.parse(arg));
        return void (await reply(JSON.stringify(await this.gateway.getSession(id))));
      case 'close':
        return void (await this.gateway.closeCurrentClient(arg || null));
      case 'destroy':
        return void (await this.gateway.destoryCurrentClient());
      default:
        return void (await reply(`unknown ${op}`));
    }
  }
}

/** A `frame://` client: uint32 BE length (header included) + payload, both ways. */
class FrameClient {
  readonly messages: Buffer[] = [];
  closed = false;
  private read = 0;
  private pending = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 4 && this.pending.length >= this.pending.readUInt32BE(0)) {
        const len = this.pending.readUInt32BE(0);
        this.messages.push(this.pending.subarray(4, len));
        this.pending = this.pending.subarray(len);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<FrameClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new FrameClient(s)));
      s.once('error', reject);
    });
  }

  send(text: string): void {
    const body = Buffer.from(text);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length + 4);
    this.socket.write(Buffer.concat([head, body]));
  }

  async next(ms = 3000): Promise<string> {
    await waitFor(() => this.read < this.messages.length || this.closed, 'a frame message', ms);
    if (this.read >= this.messages.length) throw new Error(`frame client closed; got ${JSON.stringify(this.messages.map(String))}`);
    return this.messages[this.read++]!.toString();
  }

  drain(): string[] {
    const rest = this.messages.slice(this.read).map(String);
    this.read = this.messages.length;
    return rest;
  }

  close(): void {
    this.socket.end();
  }

  /** Connects and reads the `Hello <client_id>` greeting. */
  static async greeted(port: number, host: string): Promise<{ client: FrameClient; id: string }> {
    const client = await FrameClient.connect(port, host);
    const hello = await client.next();
    const m = /^Hello ([0-9a-f]{20})$/.exec(hello);
    if (!m) throw new Error(`expected a greeting, got ${hello}`);
    return { client, id: m[1]! };
  }
}

type AnyClient = TextClient | WsClient | FrameClient;

/** What a client receives within `ms` (nothing else should arrive). */
async function quiet(c: AnyClient, ms = 150): Promise<string[]> {
  await sleep(ms);
  return c.drain();
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const sortedValues = (r: Record<string, string[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, sorted(v)]));

/**
 * A gateway that accepts connections on its internal port and never answers: registered at the
 * Register like a real one (a `gateway_connect` line with the secret), so queries include it.
 */
async function stalledGateway(registerAddress: string, secretKey: string): Promise<{ address: string; leave(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await freePort('127.0.0.3');
  await new Promise<void>((r) => server.listen(port, '127.0.0.3', r));
  const address = `127.0.0.3:${port}`;
  const [host, rport] = registerAddress.split(':');
  const reg = connect({ host, port: Number(rport) });
  reg.on('error', () => undefined);
  reg.write(`{"event":"gateway_connect", "address":"${address}", "secret_key":"${secretKey}"}\n`);
  return {
    address,
    leave: () => reg.destroy(),
    async close() {
      reg.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------------

describe('GatewayService: the whole API on a two-gateway cluster', () => {
  let cluster: TestCluster;
  let clientApp: INestApplicationContext;
  /** Gateway 127.0.0.1: c0 text, c1 websocket, c2 frame. Gateway 127.0.0.2: c3 text, c4 frame. */
  const clients: { client: AnyClient; id: string }[] = [];
  const c = (i: number) => clients[i]!.client;
  const id = (i: number) => clients[i]!.id;
  const worker = () => cluster.service(0);
  const gatewayClient = () => clientApp.get(GatewayService);

  beforeAll(async () => {
    cluster = await startCluster({
      lanIps: ['127.0.0.1', '127.0.0.2'],
      listen: (ip) => [`text://${ip}:0`, `websocket://${ip}:0`, `frame://${ip}:0`],
      workers: 1,
      secretKey: 's3cr3t',
      providers: [ApiEvents],
    });
    clients.push(await greeted(() => TextClient.connect(cluster.port(0, 0))));
    clients.push(await greeted(() => WsClient.connect(`ws://127.0.0.1:${cluster.port(0, 1)}`)));
    clients.push(await FrameClient.greeted(cluster.port(0, 2), '127.0.0.1'));
    clients.push(await greeted(() => TextClient.connect(cluster.port(1, 0), '127.0.0.2')));
    clients.push(await FrameClient.greeted(cluster.port(1, 2), '127.0.0.2'));
    // A plain Nest app (no tier running): GatewayService is the GatewayClient.
    clientApp = await NestFactory.createApplicationContext(
      tierModule({ registerAddress: cluster.registerAddress, secretKey: 's3cr3t', queryTimeout: 2000 }),
      { logger: cluster.logger },
    );

    // Bookkeeping (see the expectations below). c0 has no uid and no group and comes first on its
    // gateway: PHP's `break` bug (§7.1) would hide the whole gateway from the group listings.
    const svc = worker();
    await svc.bindUid(id(1), 'u1');
    await svc.bindUid(id(2), 42);
    await svc.bindUid(id(3), 'u1');
    await svc.bindUid(id(4), 'u5');
    await svc.joinGroup(id(1), 'room');
    await svc.joinGroup(id(2), 'room');
    await svc.joinGroup(id(2), 123);
    await svc.joinGroup(id(3), '123');
    await svc.joinGroup(id(4), 'solo');
    await svc.setSession(id(1), { name: 'c1', tags: ['a', 'b'] });
    await svc.setSession(id(3), { name: 'c3', score: 1.5 });
    await waitFor(async () => (await svc.getAllGroupClientIdCount())['solo'] === 1, 'the bookkeeping to reach the gateways');
  }, 30_000);

  afterAll(async () => {
    for (const { client } of clients) client.close();
    await clientApp?.close();
    await cluster?.close();
  }, 30_000);

  const transports = [
    ['inside a BusinessWorker', () => worker()],
    ['as a GatewayClient (plain Nest app)', () => gatewayClient()],
  ] as const;

  for (const [name, svc] of transports) {
    describe(`queries ${name}`, () => {
      it('uid lookups: getClientIdByUid, isUidOnline, isUidsOnline, batchGetClientIdByUid, getUidByClientId', async () => {
        const s = svc();
        expect(sorted(await s.getClientIdByUid('u1'))).toEqual(sorted([id(1), id(3)]));
        // "42" and 42 are one uid (PHP array keys).
        expect(await s.getClientIdByUid(42)).toEqual([id(2)]);
        expect(await s.getClientIdByUid('42')).toEqual([id(2)]);
        expect(await s.getClientIdByUid('nobody')).toEqual([]);
        expect(await s.isUidOnline('u1')).toBe(true);
        expect(await s.isUidOnline('nobody')).toBe(false);
        expect(await s.isUidsOnline(['u1', 'nobody', 42])).toEqual({ u1: true, nobody: false, 42: true });
        const batch = await s.batchGetClientIdByUid(['u1', 'u5', 'nobody']);
        expect(Object.keys(batch)).toEqual(['u1', 'u5', 'nobody']);
        expect(sortedValues(batch)).toEqual({ u1: sorted([id(1), id(3)]), u5: [id(4)], nobody: [] });
        expect(await s.getUidByClientId(id(1))).toBe('u1');
        expect(await s.getUidByClientId(id(2))).toBe('42');
        expect(await s.getUidByClientId(id(4))).toBe('u5');
        expect(await s.getUidByClientId(id(0))).toBeNull();
        expect(await s.getUidByClientId(id(0).slice(0, 12) + '0000ffff')).toBeNull();
      });

      it('group queries: id lists, sessions, uid lists and counts, batch counts', async () => {
        const s = svc();
        expect(sorted(await s.getClientIdListByGroup('room'))).toEqual(sorted([id(1), id(2)]));
        expect(sorted(await s.getClientIdListByGroup(['room', 'solo']))).toEqual(sorted([id(1), id(2), id(4)]));
        expect(sorted(await s.getClientIdListByGroup(123))).toEqual(sorted([id(2), id(3)]));
        expect(await s.getClientIdListByGroup('nobody')).toEqual([]);
        expect(await s.getClientCountByGroup('room')).toBe(2);
        expect(await s.getClientCountByGroup('123')).toBe(2);
        expect(await s.getClientIdCountByGroup(123)).toBe(2);
        expect(await s.getClientCountByGroup('nobody')).toBe(0);
        expect(await s.getClientSessionsByGroup('123')).toEqual({ [id(2)]: {}, [id(3)]: { name: 'c3', score: 1.5 } });
        expect(await s.getClientInfoByGroup('solo')).toEqual({ [id(4)]: {} });
        expect(sorted(await s.getUidListByGroup('room'))).toEqual(['42', 'u1']);
        expect(sorted(await s.getUidListByGroup(['room', 123, 'solo']))).toEqual(['42', 'u1', 'u5']);
        expect(await s.getUidCountByGroup('123')).toBe(2);
        expect(await s.getUidCountByGroup('nobody')).toBe(0);
        const counts = await s.batchGetClientCountByGroup(['room', 123, 'none']);
        expect(counts).toEqual({ room: 2, 123: 2, none: 0 });
        // (A JS object lists integer-like keys first, whatever the order asked.)
        expect(Object.keys(counts).sort()).toEqual(['123', 'none', 'room']);
        expect(await s.batchGetClientIdCountByGroup(['solo'])).toEqual({ solo: 1 });
      });

      it('whole-cluster queries: client ids, sessions, uids, groups and their counts', async () => {
        const s = svc();
        const all = [0, 1, 2, 3, 4].map(id);
        expect(sorted(await s.getAllClientIdList())).toEqual(sorted(all));
        expect(await s.getAllClientCount()).toBe(5);
        expect(await s.getAllClientIdCount()).toBe(5);
        expect(await s.getAllClientSessions()).toEqual({
          [id(0)]: {},
          [id(1)]: { name: 'c1', tags: ['a', 'b'] },
          [id(2)]: {},
          [id(3)]: { name: 'c3', score: 1.5 },
          [id(4)]: {},
        });
        expect(await s.getAllClientSessions('room')).toEqual({ [id(1)]: { name: 'c1', tags: ['a', 'b'] }, [id(2)]: {} });
        expect(Object.keys(await s.getAllClientInfo())).toHaveLength(5);
        expect(sorted(await s.getAllUidList())).toEqual(['42', 'u1', 'u5']);
        expect(await s.getAllUidCount()).toBe(3);
        // Numeric groups come back as strings (PHP: ints).
        expect(sorted(await s.getAllGroupIdList())).toEqual(['123', 'room', 'solo']);
        // Complete, although c0 (no uid, no group) is the first connection of its gateway (§7.1).
        expect(sortedValues(await s.getAllGroupUidList())).toEqual({ room: ['42', 'u1'], 123: ['42', 'u1'], solo: ['u5'] });
        expect(await s.getAllGroupUidCount()).toEqual({ room: 2, 123: 2, solo: 1 });
        expect(sortedValues(await s.getAllGroupClientIdList())).toEqual({
          room: sorted([id(1), id(2)]),
          123: sorted([id(2), id(3)]),
          solo: [id(4)],
        });
        expect(await s.getAllGroupClientIdCount()).toEqual({ room: 2, 123: 2, solo: 1 });
        expect(await s.isOnline(id(4))).toBe(true);
        expect(await s.getSession(id(1))).toEqual({ name: 'c1', tags: ['a', 'b'] });
      });

      it('PHP-empty uids and groups are ignored: nothing is sent, queries answer empty without asking', async () => {
        const s = svc();
        expect(await s.bindUid(id(0), '0')).toBe(false);
        expect(await s.bindUid(id(0), '')).toBe(false);
        expect(await s.joinGroup(id(0), 0)).toBe(false);
        expect(await s.leaveGroup(id(1), '0')).toBe(false);
        expect(await s.ungroup('')).toBe(false);
        expect(await s.sendToUid(['', '0', 0], 'never')).toBe(false);
        expect(await s.sendToGroup(['0', ''], 'never')).toBe(false);
        expect(await s.sendToAll('never', [])).toBe(false);
        expect(await s.getClientIdByUid('0')).toEqual([]);
        expect(await s.isUidOnline(0)).toBe(false);
        expect(await s.isUidsOnline(['', '0'])).toEqual({});
        expect(await s.batchGetClientIdByUid([0])).toEqual({});
        expect(await s.getClientIdListByGroup(['', 0])).toEqual([]);
        expect(await s.getUidListByGroup('0')).toEqual([]);
        expect(await s.getUidCountByGroup(0)).toBe(0);
        expect(await s.getClientSessionsByGroup('')).toEqual({});
        expect(await s.getClientCountByGroup('0')).toBe(0);
        expect(await s.batchGetClientCountByGroup(['0'])).toEqual({});
        for (let i = 0; i < 5; i++) expect(await quiet(c(i), 30)).toEqual([]);
        expect(await s.getUidByClientId(id(0))).toBeNull();
        expect(await s.getAllClientCount()).toBe(5);
      });

      it('invalid client_ids reject with InvalidClientIdError', async () => {
        const s = svc();
        const bad = '7f0000010b54000000zz';
        await expect(s.getUidByClientId(bad)).rejects.toThrow(InvalidClientIdError);
        await expect(s.isOnline('short')).rejects.toThrow(InvalidClientIdError);
        await expect(s.getSession(bad)).rejects.toThrow(InvalidClientIdError);
        await expect(s.setSession(bad, {})).rejects.toThrow(InvalidClientIdError);
        await expect(s.updateSession(bad, {})).rejects.toThrow(InvalidClientIdError);
        await expect(s.bindUid(bad, 'u')).rejects.toThrow(InvalidClientIdError);
        await expect(s.joinGroup(bad, 'g')).rejects.toThrow(InvalidClientIdError);
        await expect(s.destroyClient(bad)).rejects.toThrow(InvalidClientIdError);
        await expect(s.destoryClient(bad)).rejects.toThrow(InvalidClientIdError);
        await expect(s.closeClient(bad)).rejects.toThrow(InvalidClientIdError);
        await expect(s.sendToAll('x', [id(0), bad])).rejects.toThrow(InvalidClientIdError);
        await expect(s.sendToGroup('room', 'x', [bad])).rejects.toThrow(InvalidClientIdError);
        for (let i = 0; i < 5; i++) expect(await quiet(c(i), 20)).toEqual([]);
      });
    });
  }

  it('sends reach text, websocket and frame clients; raw sends skip the client framing', async () => {
    const svc = worker();
    await svc.sendToAll('to all');
    for (let i = 0; i < 5; i++) expect(await c(i).next()).toBe('to all');
    await svc.sendToClient(id(2), 'to a frame client');
    expect(await c(2).next()).toBe('to a frame client');
    await svc.sendToGroup(123, 'to 123');
    expect(await c(2).next()).toBe('to 123');
    expect(await c(3).next()).toBe('to 123');
    await svc.sendToUid(42, 'to uid 42');
    expect(await c(2).next()).toBe('to uid 42');
    // Raw: the caller brings the framing of the client's protocol.
    await svc.sendToClient(id(0), 'raw line\n', true);
    expect(await c(0).next()).toBe('raw line');
    await svc.sendToClient(id(1), Buffer.from('810568656c6c6f', 'hex'), true);
    expect(await c(1).next()).toBe('hello');
    await svc.sendToClient(id(4), Buffer.from('0000000b7261772066726d', 'hex'), true);
    expect(await c(4).next()).toBe('raw frm');
    await gatewayClient().sendToAll(Buffer.from('0000000b72617720616c6c', 'hex'), [id(2), id(4)], null, true);
    expect(await c(2).next()).toBe('raw all');
    expect(await c(4).next()).toBe('raw all');
    // A frame client's messages reach the handlers.
    (c(4) as FrameClient).send('echo from frame');
    expect(await c(4).next()).toBe('from frame');
    for (let i = 0; i < 5; i++) expect(await quiet(c(i), 30)).toEqual([]);
  });

  it('the GatewayClient pushes too: sendToAll with exclusions, sendToGroup, sendToUid', async () => {
    const gc = gatewayClient();
    expect(await gc.sendToAll('gc all but 0 and 3', null, [id(0), id(3)])).toBe(true);
    for (const i of [1, 2, 4]) expect(await c(i).next()).toBe('gc all but 0 and 3');
    expect(await gc.sendToGroup(['room', 'solo'], 'gc groups', id(1))).toBe(true);
    expect(await c(2).next()).toBe('gc groups');
    expect(await c(4).next()).toBe('gc groups');
    expect(await gc.sendToUid(['u1', 'u5'], 'gc uids')).toBe(true);
    for (const i of [1, 3, 4]) expect(await c(i).next()).toBe('gc uids');
    for (let i = 0; i < 5; i++) expect(await quiet(c(i), 30)).toEqual([]);
  });

  it('current-client methods: setSession/updateSession change the live session; getAllClientSessions shows it', async () => {
    const extra = await greeted(() => TextClient.connect(cluster.port(1, 0), '127.0.0.2'));
    try {
      extra.client.send('set {"a":1,"l":[1,2,3]}');
      expect(JSON.parse(await extra.client.next())).toEqual({ a: 1, l: [1, 2, 3] });
      extra.client.send('update {"l":[9],"b":true}');
      expect(JSON.parse(await extra.client.next())).toEqual({ a: 1, l: [9, 2, 3], b: true });
      // The gateway merged the same way (array_replace_recursive) and the worker wrote nothing over it.
      await sleep(50);
      expect(await gatewayClient().getSession(extra.id)).toEqual({ a: 1, l: [9, 2, 3], b: true });
      extra.client.send('live');
      expect(await extra.client.next()).toBe('live 6');
    } finally {
      extra.client.close();
    }
    await waitFor(async () => (await worker().getAllClientCount()) === 5, 'the extra client to leave');
  });

  it('closeClient / closeCurrentClient close after the last message; destroyClient / destoryCurrentClient cut at once', async () => {
    const svc = worker();
    const a = await greeted(() => TextClient.connect(cluster.port(0, 0)));
    await svc.closeClient(a.id, 'bye');
    expect(await a.client.next()).toBe('bye');
    await a.client.waitClosed();

    const b = await FrameClient.greeted(cluster.port(1, 2), '127.0.0.2');
    b.client.send('close see you');
    expect(await b.client.next()).toBe('see you');
    await waitFor(() => b.client.closed, 'closeCurrentClient');

    const d = await greeted(() => WsClient.connect(`ws://127.0.0.2:${cluster.port(1, 1)}`));
    await gatewayClient().destroyClient(d.id);
    await d.client.waitClosed();

    const e = await greeted(() => TextClient.connect(cluster.port(0, 0)));
    e.client.send('destroy');
    await e.client.waitClosed();

    const f = await greeted(() => TextClient.connect(cluster.port(0, 0)));
    await svc.destoryClient(f.id);
    await f.client.waitClosed();
    await waitFor(async () => (await svc.getAllClientCount()) === 5, 'only the five clients left');
  });

  it('a stalled gateway: its part is missing within the timeout, marked partial; once the Register drops it, it is not asked', async () => {
    const stalled = await stalledGateway(cluster.registerAddress, 's3cr3t');
    const workerServer = cluster.workers[0]!.get(BusinessWorkerServer);
    try {
      await waitFor(() => workerServer.gatewayAddresses.includes(stalled.address), 'the worker to learn the stalled gateway');
      for (const [, svc] of transports) {
        const s = svc();
        let t = Date.now();
        const err = await s.getAllClientIdList({ timeout: 300, partial: 'throw' }).catch((e: unknown) => e);
        const elapsed = Date.now() - t;
        expect(err).toBeInstanceOf(PartialResultError);
        const partial = err as PartialResultError;
        expect(sorted(partial.partialValue as string[])).toEqual(sorted([0, 1, 2, 3, 4].map(id)));
        expect(partial.failures.map((f) => f.address)).toEqual([stalled.address]);
        expect(partial.failures[0]!.error).toBeInstanceOf(QueryTimeoutError);
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(1500);

        const counts = (await s.getAllGroupClientIdCount({ timeout: 300, partial: 'throw' }).catch((e: unknown) => e)) as PartialResultError;
        expect(counts.partialValue).toEqual({ room: 2, 123: 2, solo: 1 });

        // partial: 'return' (the default): the others' answer, and a warning naming the gateway.
        t = Date.now();
        expect(await s.getAllClientCount({ timeout: 300 })).toBe(5);
        expect(Date.now() - t).toBeLessThan(1500);
        expect(cluster.logger.find('warn', `getClientCountByGroup(): gateways ${stalled.address}`).length).toBeGreaterThan(0);
      }

      // The Register drops it: nobody asks it any more.
      stalled.leave();
      await waitFor(() => !workerServer.gatewayAddresses.includes(stalled.address), 'the worker to forget the stalled gateway');
      for (const [, svc] of transports) {
        await waitFor(async () => (await svc().getAllClientCount({ timeout: 300, partial: 'throw' }).catch(() => -1)) === 5, 'a complete answer');
        const t = Date.now();
        expect(sorted(await svc().getAllClientIdList({ timeout: 2000, partial: 'throw' }))).toEqual(sorted([0, 1, 2, 3, 4].map(id)));
        expect(Date.now() - t).toBeLessThan(1500);
      }
    } finally {
      await stalled.close();
    }
  });
});
