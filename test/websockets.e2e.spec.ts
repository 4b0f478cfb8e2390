import { Injectable, Module, UseGuards, UsePipes, ValidationPipe, type CanActivate, type ExecutionContext, type INestMicroservice } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  type WsResponse,
} from '@nestjs/websockets';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { connect } from 'node:net';
import { from, map, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestFactory } from '@nestjs/core';
import { BusinessWorkerServer, GatewayCluster, GatewayClientSocket, GatewayWorkerModule, GatewayWsAdapter } from '../lib/index.js';
import { boot, CapturingLogger, startCluster, startGatewayOnly, type TestCluster } from './support/cluster.js';
import { freePort, sleep, TextClient, waitFor, WsClient } from './support/net.js';

class SayDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(20)
  text!: string;
}

/** Lets through messages whose data has no `"token": "deny"`. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const data = context.switchToWs().getData<{ token?: string } | undefined>();
    return data?.token !== 'deny';
  }
}

const connected: string[] = [];
const disconnected: string[] = [];
const said: string[] = [];
let initServer: unknown = null;

/** A gateway class as Nest's documentation writes one (for @nestjs/platform-ws). */
@WebSocketGateway()
class EventsGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  @WebSocketServer()
  server!: GatewayCluster<{ news: string }>;

  afterInit(server: GatewayCluster): void {
    initServer = server;
  }

  handleConnection(client: GatewayClientSocket): void {
    connected.push(client.id);
  }

  handleDisconnect(client: GatewayClientSocket): void {
    disconnected.push(client.id);
  }

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return data;
  }

  @SubscribeMessage('events')
  events(): Observable<WsResponse<number>> {
    return from([1, 2, 3]).pipe(map((item) => ({ event: 'events', data: item })));
  }

  @SubscribeMessage('identity')
  async identity(@MessageBody() data: number): Promise<number> {
    return data;
  }

  @UsePipes(new ValidationPipe())
  @SubscribeMessage('say')
  say(@MessageBody() dto: SayDto, @ConnectedSocket() client: GatewayClientSocket): WsResponse<{ from: string; text: string }> {
    said.push(dto.text);
    return { event: 'said', data: { from: client.id, text: dto.text } };
  }

  @SubscribeMessage('fail')
  fail(): never {
    throw new WsException('nope');
  }

  @UseGuards(TokenGuard)
  @SubscribeMessage('guarded')
  guarded(@MessageBody() data: { token: string }): WsResponse<string> {
    return { event: 'guarded', data: data.token };
  }

  @SubscribeMessage('slow')
  async slow(@MessageBody() n: number): Promise<WsResponse<number>> {
    // Random async work: the replies must still leave in the order the messages came.
    await sleep(Math.random() * 3);
    return { event: 'slow', data: n };
  }

  @SubscribeMessage('broadcast')
  async broadcast(@MessageBody() text: string): Promise<void> {
    await this.server.emit('news', text);
  }

  @SubscribeMessage('whoami')
  whoami(@ConnectedSocket() client: GatewayClientSocket): WsResponse<{ id: string; protocol?: string; session: unknown }> {
    client.session.seen = (Number(client.session.seen ?? 0) + 1);
    return { event: 'whoami', data: { id: client.id, protocol: client.protocol, session: client.session } };
  }
}

const json = (event: string, data?: unknown) => JSON.stringify({ event, data });

/** Never called: the compiler checks emit() against an event map (`npm run lint:types`). */
export function typedEmits(server: GatewayCluster<{ news: string }>, client: GatewayClientSocket<{ news: string }>): void {
  void server.emit('news', 'ok');
  void server.to('room').emit('news', 'ok');
  void client.emit('news', 'ok');
  // @ts-expect-error the data of "news" is a string
  void server.emit('news', 1);
  // @ts-expect-error no such event
  void server.toUid('42').emit('nows', 'x');
  // @ts-expect-error the data of "news" is a string
  void client.emit('news', { text: 'x' });
}

describe('@nestjs/websockets gateway classes on the cluster', () => {
  let cluster: TestCluster;
  const clients: (WsClient | TextClient)[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      lanIps: ['127.0.0.1', '127.0.0.2'],
      listen: (ip) => [`websocket://${ip}:0`, `text://${ip}:0`],
      workers: 1,
      providers: [EventsGateway, TokenGuard],
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.close();
  });

  async function ws(gateway = 0): Promise<WsClient> {
    const c = await WsClient.connect(`ws://127.0.0.${gateway + 1}:${cluster.port(gateway, 0)}`);
    clients.push(c);
    return c;
  }

  async function idOf(c: WsClient | TextClient): Promise<string> {
    c.send(json('whoami'));
    return (JSON.parse(await c.until((m) => m.includes('"whoami"'))) as { data: { id: string } }).data.id;
  }

  it('runs afterInit with the cluster, and handleConnection with the client handle', async () => {
    const c = await ws();
    const id = await idOf(c);
    expect(id).toMatch(/^[0-9a-f]{20}$/);
    expect(connected).toContain(id);
    expect(initServer).toBeInstanceOf(GatewayCluster);
  });

  it('sends return values as platform-ws does: plain values as JSON, WsResponse as is, Observables value by value', async () => {
    const c = await ws();
    c.send(json('echo', { a: 1 }));
    expect(await c.next()).toBe('{"a":1}');
    c.send(json('echo', 'text'));
    expect(await c.next()).toBe('"text"');
    c.send(json('identity', 42));
    expect(await c.next()).toBe('42');
    c.send(json('events'));
    expect([await c.next(), await c.next(), await c.next()]).toEqual([json('events', 1), json('events', 2), json('events', 3)]);
  });

  it('gives @ConnectedSocket() the client: id, protocol, and a session written back to the gateway', async () => {
    const c = await ws();
    const id = await idOf(c);
    c.send(json('whoami'));
    const reply = JSON.parse(await c.next()) as { data: { id: string; protocol: string; session: { seen: number } } };
    expect(reply.data).toEqual({ id, protocol: 'websocket', session: { seen: 2 } });
    expect(await cluster.service().getSession(id)).toEqual({ seen: 2 });
  });

  it('validates a DTO with ValidationPipe: an invalid one gets an exception event and the handler does not run', async () => {
    const c = await ws();
    c.send(json('say', { text: '' }));
    const rejected = JSON.parse(await c.next()) as { event: string; data: { status: string; message: string } };
    expect(rejected.event).toBe('exception');
    expect(rejected.data).toMatchObject({ status: 'error', message: 'Internal server error' });
    expect(said).toEqual([]);
    const id = await idOf(c);
    c.send(json('say', { text: 'hello' }));
    expect(JSON.parse(await c.next())).toEqual({ event: 'said', data: { from: id, text: 'hello' } });
    expect(said).toEqual(['hello']);
  });

  it('sends a WsException as platform-ws does: {"event":"exception","data":{"status":"error","message":…}}', async () => {
    const c = await ws();
    c.send(json('fail', 7));
    expect(JSON.parse(await c.next())).toEqual({ event: 'exception', data: { status: 'error', message: 'nope', cause: { pattern: 'fail', data: 7 } } });
  });

  it('lets a guard deny one message and allow the next', async () => {
    const c = await ws();
    c.send(json('guarded', { token: 'deny' }));
    c.send(json('guarded', { token: 'ok' }));
    expect(JSON.parse(await c.next())).toMatchObject({ event: 'exception', data: { status: 'error', message: 'Forbidden resource' } });
    expect(JSON.parse(await c.next())).toEqual({ event: 'guarded', data: 'ok' });
  });

  it('ignores an unknown event and non-JSON input without breaking the connection', async () => {
    const c = await ws();
    const adapter = cluster.workers[0]!.get(GatewayWsAdapter);
    const before = adapter.ignoredMessages;
    c.send(json('nobody-handles-this', 1));
    c.send('not json at all');
    c.send('{"data": "no event"}');
    c.send(json('echo', 'still here'));
    expect(await c.next()).toBe('"still here"');
    expect(adapter.ignoredMessages - before).toBe(3);
    expect(c.closed).toBe(false);
  });

  it('keeps one client\'s order across 200 async replies', async () => {
    const c = await ws();
    for (let i = 0; i < 200; i++) c.send(json('slow', i));
    const got: number[] = [];
    for (let i = 0; i < 200; i++) got.push((JSON.parse(await c.next(10_000)) as { data: number }).data);
    expect(got).toEqual([...Array(200).keys()]);
  });

  it('server.emit() reaches the clients of both gateways, websocket and text alike', async () => {
    const a = await ws(0);
    const b = await ws(1);
    const t = await TextClient.connect(cluster.port(1, 1), '127.0.0.2');
    clients.push(t);
    // Each is known to the worker once it has answered.
    await idOf(a);
    await idOf(b);
    await idOf(t);
    a.send(json('broadcast', 'hi all'));
    for (const c of [a, b, t]) expect(await c.until((m) => m.includes('"news"'))).toBe(json('news', 'hi all'));
  });

  it('runs handleDisconnect with the client when it leaves', async () => {
    const c = await ws();
    const id = await idOf(c);
    c.close();
    await waitFor(() => disconnected.includes(id), 'handleDisconnect for the closed client', 5000);
    expect(cluster.workers[0]!.get(GatewayWsAdapter).clientCount).toBeGreaterThanOrEqual(0);
  });
});

describe('@WebSocketGateway classes in an HTTP app with the BusinessWorker attached (connectMicroservice)', () => {
  it('are served on the cluster too', async () => {
    @WebSocketGateway()
    class HttpAppGateway {
      @SubscribeMessage('echo') echo(@MessageBody() data: unknown): WsResponse<unknown> {
        return { event: 'echo', data };
      }
    }
    const logger = new CapturingLogger();
    const edge = await startGatewayOnly(logger);
    @Module({ imports: [GatewayWorkerModule.forRoot({ registerAddress: edge.registerAddress, businessWorker: { name: 'HttpApp' } })], providers: [HttpAppGateway] })
    class HttpAppModule {}
    const app = await NestFactory.create(HttpAppModule, { logger });
    try {
      app.connectMicroservice({ strategy: app.get(BusinessWorkerServer) });
      await app.startAllMicroservices();
      await app.listen(0, '127.0.0.1');
      await waitFor(() => edge.gateway.workerKeys.length === 1, 'the worker to reach the gateway', 10_000);
      const client = await TextClient.connect(edge.gateway.publicPorts[0]!);
      client.send(json('echo', 'over http app'));
      expect(await client.next()).toBe(json('echo', 'over http app'));
      client.close();
    } finally {
      await app.close();
      for (const a of edge.apps.reverse()) await a.close();
    }
  });
});

describe('@WebSocketGateway classes in the register and gateway tiers', () => {
  it('open no socket there (the worker serves them)', async () => {
    const port = await freePort();
    @WebSocketGateway(port)
    class PortGateway {
      @SubscribeMessage('x') x(): string {
        return 'x';
      }
    }
    const logger = new CapturingLogger();
    const registerAddress = `127.0.0.1:${await freePort()}`;
    const apps: INestMicroservice[] = [];
    try {
      apps.push(await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger, [PortGateway]));
      apps.push(await boot({ registerAddress, gateway: { listen: 'text://127.0.0.1:0', startPort: 0 } }, 'gateway', logger, [PortGateway]));
      // Nothing listens on the gateway class's port.
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect({ port, host: '127.0.0.1' }, () => {
          s.destroy();
          resolve(false);
        });
        s.on('error', () => resolve(true));
      });
      expect(refused).toBe(true);
      expect(logger.find('error', '')).toEqual([]);
    } finally {
      for (const app of apps.reverse()) await app.close();
    }
  });
});
