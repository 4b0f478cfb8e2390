import { Injectable } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  ClientId,
  GatewayClientSocket,
  GatewayEvents,
  GatewayService,
  GatewayWorkerMetrics,
  formatClusterStatus,
  OnClose,
  OnConnect,
  OnDisconnect,
  OnMessage,
  OnResume,
  OnWebSocketConnect,
  Payload,
  Session,
  type GatewaySession,
} from '../lib/index.js';
import { ClientDisconnectedError, GatewaySocketClient, RequestFailedError, RequestTimeoutError, RESUME_SUBPROTOCOL, type WebSocketConstructor } from '../lib/sdk/client.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { freePort, sleep, TextClient, waitFor, WsClient } from './support/net.js';

/** What the worker saw, in order: [event, clientId, payload]. */
const seen: [string, string, unknown][] = [];
/** Messages no @SubscribeMessage handler took. */
const messages: string[] = [];

@GatewayEvents()
@Injectable()
class ResumeEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnConnect()
  async connect(@ClientId() id: string, @Session() session: GatewaySession): Promise<void> {
    session.name = `alice-${id.slice(-4)}`;
    await this.gateway.bindUid(id, `u-${id}`);
    await this.gateway.joinGroup(id, `g-${id}`);
    seen.push(['connect', id, null]);
  }

  @OnDisconnect()
  disconnect(@ClientId() id: string, @Payload() p: unknown): void {
    seen.push(['disconnect', id, p]);
  }

  @OnResume()
  resume(@ClientId() id: string, @Payload() p: unknown): void {
    seen.push(['resume', id, p]);
  }

  @OnClose()
  close(@ClientId() id: string): void {
    seen.push(['close', id, null]);
  }

  @OnMessage()
  message(@Payload() m: string): void {
    messages.push(m);
  }
}

@WebSocketGateway()
class RequestGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return { echoed: data };
  }

  @SubscribeMessage('greet')
  greet(@ConnectedSocket() client: GatewayClientSocket, @MessageBody() name: string) {
    return { event: 'greeting', data: `hello ${name} from ${client.id}` };
  }

  @SubscribeMessage('nothing')
  nothing(): void {}

  @SubscribeMessage('slow')
  async slow(@MessageBody() ms: number): Promise<string> {
    await sleep(ms);
    return 'late';
  }

  @SubscribeMessage('boom')
  boom(): never {
    throw new WsException('no such room');
  }
}

/** A `ws` WebSocket that remembers its instances (to cut them) and can be sent elsewhere. */
function trackingWebSocket(urls: () => string) {
  const sockets: WebSocket[] = [];
  const Ctor = function (_url: string, protocols?: string | string[]) {
    const ws = new WebSocket(urls(), protocols);
    ws.on('error', () => undefined);
    sockets.push(ws);
    return ws;
  } as unknown as WebSocketConstructor;
  /** Cuts the latest connection with a TCP RST (no close frame), as a network drop does. */
  const cut = () => (sockets.at(-1) as unknown as { _socket: { resetAndDestroy(): void } })._socket.resetAndDestroy();
  return { Ctor, sockets, cut };
}

/** Pushes 1,000 numbered `{event:'n', data:i}` messages, odd ones to the uid and even ones to the group, calling `at(i)` before each. */
async function pushNumbered(service: GatewayService, uid: string, group: string, at: (i: number) => void | Promise<void>): Promise<void> {
  for (let i = 1; i <= 1000; i++) {
    await at(i);
    const msg = JSON.stringify({ event: 'n', data: i });
    if (i % 2) await service.sendToUid(uid, msg);
    else await service.sendToGroup(group, msg);
    if (i % 20 === 0) await sleep(10);
  }
}

describe('resumable clients (one gateway)', () => {
  let cluster: TestCluster;
  const clients: GatewaySocketClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [{ lanIp: '127.0.0.1', listen: [`websocket://127.0.0.1:0`, `text://127.0.0.1:0`], resumeWindow: 3000 }],
      workers: 1,
      providers: [ResumeEvents, RequestGateway],
      
    });
  }, 30_000);

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await cluster?.close();
  });

  const url = () => `ws://127.0.0.1:${cluster.port(0)}`;

  it('resumes after an RST cut in the middle of 1,000 messages to its uid and group: same client_id, uid, groups, session; all 1,000 once, in order', async () => {
    seen.length = 0;
    const t = trackingWebSocket(url);
    const client = new GatewaySocketClient<{ n: number }>({ url: url(), WebSocket: t.Ctor, reconnect: { initialDelay: 150 } });
    clients.push(client);
    const got: number[] = [];
    client.on('n', (i) => got.push(i));
    const states: string[] = [];
    client.onState((s) => states.push(`${s.state}${s.resumed ? ':resumed' : ''}`));
    await client.connect();
    const id = client.clientId!;
    await waitFor(() => seen.some(([e, c]) => e === 'connect' && c === id), 'the worker to see the connect');
    const gw = cluster.gateway(0);

    await pushNumbered(cluster.service(), `u-${id}`, `g-${id}`, (i) => {
      if (i === 300) t.cut();
    });
    await waitFor(() => got.length >= 1000, 'all 1,000 messages', 10_000);
    await sleep(200);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, k) => k + 1));
    expect(client.clientId).toBe(id);
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('open:resumed');
    const service = cluster.service();
    expect(await service.getUidByClientId(id)).toBe(`u-${id}`);
    expect(await service.getClientIdListByGroup(`g-${id}`)).toEqual([id]);
    expect((await service.getSession(id))?.name).toBe(`alice-${id.slice(-4)}`);
    await waitFor(() => seen.some(([e]) => e === 'resume'), 'the @OnResume event');
    expect(seen.filter(([, c]) => c === id).map(([e]) => e)).toEqual(['connect', 'disconnect', 'resume']);
    expect(seen.find(([e]) => e === 'disconnect')![2]).toEqual({ window: 3000 });
    expect(seen.find(([e]) => e === 'resume')![2]).toEqual({ previousClientId: id });
    expect(gw.resumeStats).toMatchObject({ waiting: 0, parked: 1, resumes: 1 });
    // Acks free what the client received.
    await waitFor(() => gw.resumeStats.bytes === 0, 'the buffer to be acknowledged', 5000);
    // Status and metrics show it.
    expect(gw.stats().resume).toMatchObject({ waiting: 0, bytes: 0, parked: 1, resumes: 1 });
    expect(formatClusterStatus({ gateways: [gw.stats()], workers: [], unreachable: [] })).toContain('; resumable: 0 waiting, 0.0M held, 1 resume(s), 0 hand-over(s), 0 expired');
    const metrics = await cluster.gatewayApps[0]!.get(GatewayWorkerMetrics).metrics();
    expect(metrics).toContain('gateway_worker_resume_waiting_clients 0');
    expect(metrics).toContain('gateway_worker_resume_buffered_bytes 0');
    expect(metrics).toContain('gateway_worker_resume_total{kind="resumes"} 1');
    expect(metrics).toContain('gateway_worker_resume_total{kind="parked"} 1');
  }, 30_000);

  it('past the window: @OnClose once, buffers freed, and a later resume starts over', async () => {
    seen.length = 0;
    const t = trackingWebSocket(url);
    const client = new GatewaySocketClient({ url: url(), WebSocket: t.Ctor, reconnect: { maxAttempts: 0 } });
    clients.push(client);
    await client.connect();
    const id = client.clientId!;
    const gw = cluster.gateway(0);
    const expiriesBefore = gw.resumeStats.expiries;
    t.cut();
    await waitFor(() => gw.resumeStats.waiting === 1, 'the client to be kept');
    for (let i = 0; i < 20; i++) await cluster.service().sendToUid(`u-${id}`, `while away ${i}`);
    await waitFor(() => gw.resumeStats.bytes > 0, 'messages kept for it');
    await waitFor(() => seen.some(([e, c]) => e === 'close' && c === id), '@OnClose after the window', 8000);
    await sleep(1500);
    expect(seen.filter(([e, c]) => e === 'close' && c === id)).toHaveLength(1);
    expect(gw.resumeStats).toMatchObject({ waiting: 0, bytes: 0, expiries: expiriesBefore + 1 });
    expect(gw.tables.clients.has(parseInt(id.slice(12), 16))).toBe(false);

    // The token of the expired client no longer resumes: the gateway welcomes a new client.
    const token = (client as unknown as { token: string }).token;
    const ws = new WebSocket(url(), [RESUME_SUBPROTOCOL, `${RESUME_SUBPROTOCOL}.${id}.${token}.0`]);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(d.toString()));
      ws.once('error', reject);
    });
    ws.close();
    expect(first.charCodeAt(0)).toBe(0);
    const welcome = JSON.parse(first.slice(2));
    expect(welcome.resumed).toBe(false);
    expect(welcome.id).not.toBe(id);
    expect(welcome.reason).toMatch(/not kept here/);
  }, 30_000);

  it('clients that do not opt in get exactly the bytes they got before (no welcome, no escaping)', async () => {
    const ws = await WsClient.connect(url());
    const text = await TextClient.connect(cluster.port(0, 1));
    await sleep(300);
    const ids = await cluster.service().getAllClientIdList();
    for (const cid of ids) await cluster.service().sendToClient(cid, '\u0000raw');
    await waitFor(() => ws.messages.length >= 1 && text.messages.length >= 1, 'the message');
    expect(ws.messages).toEqual(['\u0000raw']);
    expect(text.messages).toEqual(['\u0000raw']);
    ws.close();
    text.close();
  });

  it('escapes application messages that start with NUL for opted-in clients, both ways', async () => {
    const client = new GatewaySocketClient({ url: url(), WebSocket: WebSocket as unknown as WebSocketConstructor });
    clients.push(client);
    const got: (string | Uint8Array)[] = [];
    client.onMessage((m) => got.push(m));
    await client.connect();
    await cluster.service().sendToClient(client.clientId!, '\u0000looks like a control frame');
    await waitFor(() => got.length === 1, 'the message');
    expect(got[0]).toBe('\u0000looks like a control frame');
    // From the client: the first carries the piggybacked ack (`\0a1;…`), the second is escaped (`\0\0…`).
    messages.length = 0;
    client.send('\u0000one');
    client.send('\u0000two');
    client.send('three');
    await waitFor(() => messages.length === 3, 'the messages at the worker');
    expect(messages).toEqual(['\u0000one', '\u0000two', 'three']);
  });

  it('request() resolves with a routed handler\'s return value; rejects on exceptions, timeouts and disconnects', async () => {
    const t = trackingWebSocket(url);
    const client = new GatewaySocketClient({ url: url(), WebSocket: t.Ctor, reconnect: { initialDelay: 100 } });
    clients.push(client);
    const greetings: string[] = [];
    client.on('greeting', (g: string) => greetings.push(g));
    await client.connect();
    expect(await client.request('echo', { a: 1 })).toEqual({ echoed: { a: 1 } });
    expect(await client.request('greet', 'bob')).toBe(`hello bob from ${client.clientId}`);
    expect(greetings).toEqual([]); // a tagged WsResponse answers the request, not the listeners
    expect(await client.request('nothing', null)).toBeUndefined();
    const failed = await client.request('boom', null).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RequestFailedError);
    expect((failed as RequestFailedError).data).toMatchObject({ status: 'error', message: 'no such room' });
    const timedOut = await client.request('slow', 1500, { timeout: 300 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(RequestTimeoutError);
    const pending = client.request('slow', 1000, { timeout: 5000 }).catch((e: unknown) => e);
    await sleep(100);
    t.cut();
    expect(await pending).toBeInstanceOf(ClientDisconnectedError);
    await waitFor(() => client.state === 'open', 'the resume');
    expect(await client.request('echo', 2)).toEqual({ echoed: 2 });
  }, 20_000);
});

describe('resumable clients (hand-over between two gateways)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [{ lanIp: '127.0.0.1', listen: [`websocket://127.0.0.1:0`], resumeWindow: 5000 }, { lanIp: '127.0.0.2', listen: [`websocket://127.0.0.2:0`], resumeWindow: 5000 }],
      workers: 1,
      secretKey: 'resume-secret',
      providers: [ResumeEvents],
      
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('lands on the second gateway: handed over with session, uid, groups and messages; nothing lost or twice; old tables empty', async () => {
    seen.length = 0;
    let target = `ws://127.0.0.1:${cluster.port(0)}`;
    const t = trackingWebSocket(() => target);
    const client = new GatewaySocketClient<{ n: number }>({ url: target, WebSocket: t.Ctor, reconnect: { initialDelay: 150 } });
    const got: number[] = [];
    client.on('n', (i) => got.push(i));
    try {
      await client.connect();
      const oldId = client.clientId!;
      await waitFor(() => seen.some(([e, c]) => e === 'connect' && c === oldId), 'the worker to see the connect');
      const [g0, g1] = [cluster.gateway(0), cluster.gateway(1)];

      await pushNumbered(cluster.service(), `u-${oldId}`, `g-${oldId}`, (i) => {
        if (i === 300) {
          target = `ws://127.0.0.2:${cluster.port(1)}`;
          t.cut();
        }
      });
      await waitFor(() => got.length >= 1000, 'all 1,000 messages', 10_000);
      await sleep(300);
      expect(got).toEqual(Array.from({ length: 1000 }, (_, k) => k + 1));
      const newId = client.clientId!;
      expect(newId).not.toBe(oldId);
      expect(newId.slice(0, 12)).toBe(g1.address.split(':').map((p, k) => (k === 0 ? p.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join('') : Number(p).toString(16).padStart(4, '0'))).join(''));
      const service = cluster.service();
      expect(await service.getUidByClientId(newId)).toBe(`u-${oldId}`);
      expect(await service.getClientIdListByGroup(`g-${oldId}`)).toEqual([newId]);
      expect((await service.getSession(newId))?.name).toBe(`alice-${oldId.slice(-4)}`);
      expect(g0.tables.clients.size + g0.tables.uids.size + g0.tables.groups.size).toBe(0);
      expect(g0.resumeStats).toMatchObject({ waiting: 0, bytes: 0, handedOff: 1 });
      expect(g1.resumeStats).toMatchObject({ handovers: 1, resumes: 1 });
      await waitFor(() => seen.some(([e]) => e === 'resume'), 'the @OnResume event');
      expect(seen.find(([e]) => e === 'resume')).toEqual(['resume', newId, { previousClientId: oldId }]);
      expect(seen.some(([e]) => e === 'close')).toBe(false);
    } finally {
      client.close();
    }
  }, 30_000);

  it('the old gateway gone: a clean "start over" and a normal connect', async () => {
    const client = new GatewaySocketClient({ url: `ws://127.0.0.2:${cluster.port(1)}`, WebSocket: WebSocket as unknown as WebSocketConstructor });
    const states: { state: string; reason?: string; resumed: boolean }[] = [];
    client.onState((s) => states.push(s));
    try {
      // A client_id naming a gateway address where nobody listens.
      const ghost = '7f00000101bd00000001';
      Object.assign(client as object, { id: ghost, token: 'ab'.repeat(16) });
      await client.connect();
      expect(client.clientId).not.toBe(ghost);
      expect(states.at(-1)).toMatchObject({ state: 'open', resumed: false });
      expect(states.at(-1)!.reason).toMatch(/did not answer|gone|unreachable/);
    } finally {
      client.close();
    }
  }, 20_000);
});

describe('resumable clients and the heartbeat', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [{ lanIp: '127.0.0.1', listen: [`websocket://127.0.0.1:0`], resumeWindow: 3000, pingInterval: 0.3, pingNotResponseLimit: 1 }],
      workers: 1,
      providers: [ResumeEvents],
      
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('the SDK answers the envelope\'s pings: an idle SDK client stays, an idle plain client is closed', async () => {
    const url = `ws://127.0.0.1:${cluster.port(0)}`;
    const client = new GatewaySocketClient({ url, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { maxAttempts: 0 } });
    const states: string[] = [];
    client.onState((s) => states.push(s.state));
    try {
      await client.connect();
      const plain = await WsClient.connect(url);
      await sleep(2000);
      expect(plain.closed).toBe(true);
      expect(client.state).toBe('open');
      expect(states).toEqual(['connecting', 'open']);
      expect(cluster.gateway(0).resumeStats.parked).toBe(0);
    } finally {
      client.close();
    }
  }, 20_000);
});

const handshakes: string[] = [];

/** A worker that authenticates the handshake (the gateway holds it for the verdict) and talks during it. */
@GatewayEvents()
@Injectable()
class HandshakeEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnWebSocketConnect()
  async handshake(@ClientId() id: string): Promise<void> {
    handshakes.push(id);
    await this.gateway.sendToClient(id, 'during the handshake');
  }

  @OnConnect()
  async connect(): Promise<void> {
    await this.gateway.sendToCurrentClient('after connect');
  }
}

describe('resumable clients behind @OnWebSocketConnect', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ gateways: [{ lanIp: '127.0.0.1', listen: [`websocket://127.0.0.1:0`], resumeWindow: 3000 }], workers: 1, providers: [HandshakeEvents] });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('the welcome comes before what was sent during the held handshake; a resume needs no new verdict', async () => {
    const t = trackingWebSocket(() => `ws://127.0.0.1:${cluster.port(0)}`);
    const client = new GatewaySocketClient({ url: 'unused', WebSocket: t.Ctor, reconnect: { initialDelay: 100 } });
    const got: (string | Uint8Array)[] = [];
    client.onMessage((m) => got.push(m));
    try {
      await client.connect();
      await waitFor(() => got.length === 2, 'both messages');
      expect(got).toEqual(['during the handshake', 'after connect']);
      expect(handshakes).toEqual([client.clientId]);
      t.cut();
      await waitFor(() => client.state === 'reconnecting', 'the break');
      await cluster.service().sendToClient(client.clientId!, 'while away');
      await waitFor(() => got.length === 3, 'the kept message', 5000);
      await sleep(300);
      expect(got).toEqual(['during the handshake', 'after connect', 'while away']);
      expect(got[2]).toBe('while away');
      expect(handshakes).toHaveLength(1);
      expect(cluster.gateway(0).resumeStats.resumes).toBe(1);
    } finally {
      client.close();
    }
  }, 20_000);
});

describe('resumable clients: bounded buffers', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [{ lanIp: '127.0.0.1', listen: [`websocket://127.0.0.1:0`], resumeWindow: 10_000, resumeBufferSize: 4000, resumeTotalBufferSize: 6000 }],
      workers: 1,
      providers: [ResumeEvents],
      
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const url = () => `ws://127.0.0.1:${cluster.port(0)}`;
  const msg = (i: number) => `${i}`.padEnd(100, '.');

  it('a waiting client past resumeBufferSize is closed for good (@OnClose once), its buffer freed', async () => {
    seen.length = 0;
    const t = trackingWebSocket(url);
    const client = new GatewaySocketClient({ url: url(), WebSocket: t.Ctor, reconnect: { maxAttempts: 0 } });
    try {
      await client.connect();
      const id = client.clientId!;
      const gw = cluster.gateway(0);
      const before = gw.resumeStats.overflows;
      t.cut();
      await waitFor(() => gw.resumeStats.waiting === 1, 'the client to be kept');
      for (let i = 0; i < 30; i++) await cluster.service().sendToClient(id, msg(i)); // ~3,100 bytes framed: kept
      await sleep(200);
      expect(gw.resumeStats.waiting).toBe(1);
      for (let i = 30; i < 60; i++) await cluster.service().sendToClient(id, msg(i)); // past 4,000
      await waitFor(() => seen.some(([e, c]) => e === 'close' && c === id), '@OnClose');
      expect(gw.resumeStats).toMatchObject({ waiting: 0, bytes: 0, overflows: before + 1 });
      await sleep(300);
      expect(seen.filter(([e, c]) => e === 'close' && c === id)).toHaveLength(1);
    } finally {
      client.close();
    }
  }, 20_000);

  it('past resumeTotalBufferSize, the waiting client whose message does not fit is closed for good; the others stay', async () => {
    seen.length = 0;
    const cut: { client: GatewaySocketClient; id: string }[] = [];
    const gw = cluster.gateway(0);
    try {
      for (let k = 0; k < 2; k++) {
        const t = trackingWebSocket(url);
        const client = new GatewaySocketClient({ url: url(), WebSocket: t.Ctor, reconnect: { maxAttempts: 0 } });
        await client.connect();
        cut.push({ client, id: client.clientId! });
        t.cut();
      }
      await waitFor(() => gw.resumeStats.waiting === 2, 'both clients to be kept');
      const before = gw.resumeStats.overflows;
      // ~3,100 bytes each: both fit their own bound (4,000), not the total (6,000) together.
      for (let i = 0; i < 30; i++) await cluster.service().sendToClient(cut[0]!.id, msg(i));
      for (let i = 0; i < 30; i++) await cluster.service().sendToClient(cut[1]!.id, msg(i));
      await waitFor(() => seen.some(([e, c]) => e === 'close' && c === cut[1]!.id), '@OnClose of the second');
      expect(seen.some(([e, c]) => e === 'close' && c === cut[0]!.id)).toBe(false);
      expect(gw.resumeStats.waiting).toBe(1);
      expect(gw.resumeStats.overflows).toBe(before + 1);
      expect(gw.resumeStats.bytes).toBeLessThanOrEqual(6000);
    } finally {
      for (const c of cut) c.client.close();
      // The one still kept is closed for good (a worker's destroyClient), freeing its buffer.
      await cluster.service().destroyClient(cut[0]!.id);
      await waitFor(() => gw.resumeStats.waiting === 0 && gw.resumeStats.bytes === 0, 'the kept client to be gone');
    }
  }, 20_000);

  it('a connected client that does not acknowledge stops being resumable past the bound, and keeps getting its messages', async () => {
    const t = trackingWebSocket(url);
    // Acks only far apart: the gateway's bound is reached first.
    const client = new GatewaySocketClient({ url: url(), WebSocket: t.Ctor, ackEvery: 10_000, ackBytes: 10_000_000, ackInterval: 60_000, reconnect: { initialDelay: 100 } });
    const got: string[] = [];
    client.onMessage((m) => got.push(String(m)));
    const states: { state: string; resumed: boolean; reason?: string }[] = [];
    client.onState((s) => states.push(s));
    try {
      await client.connect();
      const id = client.clientId!;
      const gw = cluster.gateway(0);
      const before = gw.resumeStats.overflows;
      for (let i = 0; i < 60; i++) await cluster.service().sendToClient(id, msg(i));
      await waitFor(() => got.length === 60, 'all 60 messages');
      expect(gw.resumeStats.overflows).toBe(before + 1);
      expect(gw.resumeStats.bytes).toBe(0);
      // Its connection breaks: it is not kept, so it starts over with a new client_id.
      t.cut();
      await waitFor(() => states.at(-1)?.state === 'open' && states.length > 2, 'the reconnect');
      expect(states.at(-1)).toMatchObject({ resumed: false });
      expect(states.at(-1)!.reason).toMatch(/not kept here/);
      expect(client.clientId).not.toBe(id);
    } finally {
      client.close();
    }
  }, 20_000);
});

describe('the client SDK without a gateway', () => {
  it('retries with growing, jittered delays, and close() while connecting ends it cleanly', async () => {
    const port = await freePort();
    const client = new GatewaySocketClient({ url: `ws://127.0.0.1:${port}`, WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { initialDelay: 40, factor: 2, maxDelay: 200, jitter: 0.5 } });
    const delays: number[] = [];
    client.onState((s) => {
      if (s.state === 'reconnecting') delays.push(s.delay!);
    });
    const connecting = client.connect().catch((e: unknown) => e);
    await waitFor(() => delays.length >= 5, 'five retries', 5000);
    // Exponential (40, 80, 160, 200, 200…) less up to half of it.
    const bases = [40, 80, 160, 200, 200];
    delays.slice(0, 5).forEach((d, i) => {
      expect(d).toBeLessThanOrEqual(bases[i]!);
      expect(d).toBeGreaterThanOrEqual(bases[i]! / 2);
    });
    client.close();
    expect(await connecting).toBeInstanceOf(ClientDisconnectedError);
    expect(client.state).toBe('closed');
    // Closed while its websocket is still connecting: no uncaught 'error' from ws.
    const again = client.connect().catch((e: unknown) => e);
    client.close();
    expect(await again).toBeInstanceOf(ClientDisconnectedError);
    await sleep(100);
  });
});
