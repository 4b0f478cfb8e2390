import {
  Injectable,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestMicroservice,
} from '@nestjs/common';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientId,
  Ctx,
  GatewayEventContext,
  GatewayEvents,
  GatewayServer,
  GatewayService,
  getGatewayEventContext,
  OnClose,
  OnConnect,
  OnMessage,
  OnWebSocketConnect,
  Payload,
  Session,
  WebSocketConnectRequest,
  type GatewaySession,
} from '../lib/index.js';
import { decodeGatewayPacket, encodeGatewayPacket, type GatewayPacket } from '../lib/protocol/gateway-packet.js';
import { ExtensionCommand, FLAG_AWAITS_VERDICT, WorkerFeature } from '../lib/protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { GatewayPacketReader } from '../lib/protocol/gateway-packet.reader.js';
import { gatewayConnectLine } from '../lib/protocol/register-message.js';
import { webSocketConnectBody } from '../lib/gateway/websocket-connect.payload.js';
import { CapturingLogger, boot, startCluster, type TestCluster } from './support/cluster.js';
import { connectWs, refusedUpgrade } from './support/edge.js';
import { freePort, sleep, waitFor } from './support/net.js';

/** What the handlers saw, in order. */
const record: { event: string; id: string; data?: Record<string, unknown> }[] = [];

/** Refuses websockets without the right token (401), and the path /forbidden (a plain `false`: 403). */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const ctx = getGatewayEventContext(context);
    const token = ctx.request?.query.token;
    if (token === undefined) throw new UnauthorizedException('A token is required: connect with ?token=…');
    if (token !== 'secret') throw new UnauthorizedException('Invalid token');
    return ctx.request!.path !== '/forbidden';
  }
}

@GatewayEvents()
class AuthEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnWebSocketConnect()
  @UseGuards(TokenGuard)
  async onWebSocketConnect(
    @Payload() request: WebSocketConnectRequest,
    @Payload('query') query: Record<string, string>,
    @ClientId() id: string,
    @Session() session: GatewaySession,
    @Ctx() ctx: GatewayEventContext,
  ): Promise<void> {
    if (query.slow) await sleep(Number(query.slow));
    record.push({
      event: 'websocketConnect',
      id,
      data: { path: request.path, query, header: request.header('X-Test'), cookie: request.cookie, remote: ctx.remoteAddress, protocol: ctx.protocol, secure: ctx.secure },
    });
    // As PHP workers do in onWebSocketConnect: session, uid, and a first message (held until the 101).
    session.uid = query.uid;
    await this.gateway.bindUid(id, query.uid!);
    await this.gateway.sendToCurrentClient('welcome');
  }

  @OnConnect()
  async onConnect(@ClientId() id: string, @Session('uid') uid: string, @Ctx() ctx: GatewayEventContext): Promise<void> {
    record.push({ event: 'connect', id, data: { uid } });
    await this.gateway.sendToCurrentClient(`Hello ${id} uid=${uid} via ${ctx.protocol}`);
  }

  @OnMessage()
  async onMessage(@Payload() message: string): Promise<void> {
    await this.gateway.sendToCurrentClient(`echo ${message}`);
  }

  @OnClose()
  onClose(@ClientId() id: string): void {
    record.push({ event: 'close', id });
  }
}

const providers = [AuthEvents, TokenGuard];
const events = (id: string) => record.filter((r) => r.id === id).map((r) => r.event);

/** A raw TCP peer collecting GatewayProtocol packets. */
function packetPeer(socket: Socket): { packets: GatewayPacket[]; raw: Buffer[] } {
  const reader = new GatewayPacketReader();
  const out = { packets: [] as GatewayPacket[], raw: [] as Buffer[] };
  socket.on('data', (chunk) =>
    reader.push(
      chunk,
      (p) => {
        out.raw.push(Buffer.from(p));
        out.packets.push(decodeGatewayPacket(Buffer.from(p)));
      },
      (big) => socket.destroy(new Error(`oversized packet of ${big.length} bytes`)),
    ),
  );
  socket.on('error', () => undefined);
  return out;
}

describe('@OnWebSocketConnect: connect-time authentication before the websocket is accepted', () => {
  let cluster: TestCluster;
  const url = (path: string, i = 0) => `ws://127.0.0.1:${cluster.port(i, 0)}${path}`;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: [
        { listen: ['websocket://127.0.0.1:0'] },
        { listen: ['websocket://127.0.0.1:0'], webSocketConnectTimeout: 300 },
      ],
      providers,
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('refuses a websocket without a token with HTTP 401: no client_id, no @OnConnect, no @OnClose', async () => {
    const before = record.length;
    const res = await refusedUpgrade(url('/chat'));
    expect(res).toEqual({ status: 401, body: 'A token is required: connect with ?token=…' });
    expect((await refusedUpgrade(url('/chat?token=wrong'))).status).toBe(401);
    await sleep(150);
    // The guard ran before the handler body, and nothing else ran for these clients.
    expect(record.slice(before)).toEqual([]);
    expect(cluster.gateways[0]!.clientCount).toBe(0);
    expect(cluster.gateways[0]!.pendingHandshakes).toBe(0);
    expect(cluster.logger.find('log', 'rejected client').length).toBeGreaterThanOrEqual(2);
  });

  it('refuses with 403 when the guard just returns false', async () => {
    expect((await refusedUpgrade(url('/forbidden?token=secret&uid=1'))).status).toBe(403);
  });

  it('accepts a valid token: the handler sees path, query, headers, cookies; session and uid are set before @OnConnect', async () => {
    const client = await connectWs(url('/chat?token=secret&uid=42'), { headers: { 'X-Test': 'yes', Cookie: 'sid=abc%201; theme=dark' } });
    // Sent from @OnWebSocketConnect while the handshake was held: delivered right after the 101.
    expect(await client.next()).toBe('welcome');
    const hello = await client.next();
    const m = /^Hello ([0-9a-f]{20}) uid=42 via websocket$/.exec(hello);
    expect(m, hello).not.toBeNull();
    const id = m![1]!;
    expect(events(id)).toEqual(['websocketConnect', 'connect']);
    expect(record.find((r) => r.id === id && r.event === 'websocketConnect')!.data).toEqual({
      path: '/chat',
      query: { token: 'secret', uid: '42' },
      header: 'yes',
      cookie: { sid: 'abc%201', theme: 'dark' },
      remote: '127.0.0.1',
      protocol: 'websocket',
      secure: false,
    });
    const svc = cluster.apps.at(-1)!.get(GatewayService);
    expect(await svc.getClientIdByUid('42')).toEqual([id]);
    client.send('hi');
    expect(await client.next()).toBe('echo hi');
    client.close();
    await waitFor(() => events(id).includes('close'), '@OnClose');
  });

  it('refuses with 503 when the verdict takes longer than webSocketConnectTimeout, and ignores the late verdict', async () => {
    const res = await refusedUpgrade(url('/chat?token=secret&uid=7&slow=700', 1));
    expect(res.status).toBe(503);
    expect(cluster.logger.find('warn', 'gave no @OnWebSocketConnect verdict').length).toBe(1);
    await waitFor(() => record.some((r) => r.event === 'websocketConnect' && (r.data?.query as { uid?: string }).uid === '7'), 'the slow handler to finish');
    await sleep(100);
    expect(cluster.gateways[1]!.clientCount).toBe(0);
    expect(record.filter((r) => r.event === 'connect' && r.data?.uid === '7')).toEqual([]);
  });
});

describe('CMD_ON_WEBSOCKET_CONNECT with PHP peers', () => {
  const logger = new CapturingLogger();
  const apps: INestMicroservice[] = [];
  const sockets: Socket[] = [];
  let fakeGateway: Server | null = null;

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    fakeGateway?.close();
    for (const app of apps.reverse()) await app.close();
  });

  it('a TypeScript gateway sends a PHP worker ON_CONNECT then the request byte-exact as PHP (TV-25), without holding the handshake', async () => {
    const app = await boot({ registerAddress: `127.0.0.1:${await freePort()}`, gateway: { listen: 'websocket://127.0.0.1:0', startPort: 0 } }, 'gateway', logger);
    apps.push(app);
    const gateway = app.get(GatewayServer);
    // A PHP BusinessWorker: CMD_WORKER_CONNECT without "features".
    const worker = connect({ host: '127.0.0.1', port: gateway.lanPort });
    sockets.push(worker);
    const fromGateway = packetPeer(worker);
    worker.write(encodeGatewayPacket({ cmd: GatewayCommand.WORKER_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from('{"worker_key":"PhpBW:0","secret_key":""}') }));
    await waitFor(() => gateway.workerKeys.length === 1, 'the PHP worker to register');

    // The TV-25 handshake, byte for byte.
    const wsPort = gateway.publicPorts[0]!;
    const client = connect({ host: '127.0.0.1', port: wsPort });
    sockets.push(client);
    await new Promise((r) => client.once('connect', r));
    let response = '';
    client.on('data', (d) => (response += d.toString('latin1')));
    client.write(
      'GET /ws?token=abc&list[]=1&list[]=2 HTTP/1.1\r\nHost: example.com:8282\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: sid=xyz%201; theme=dark\r\nUser-Agent: test\r\n\r\n',
    );
    // Not held: nobody answers for the PHP worker, yet the 101 comes.
    await waitFor(() => response.includes('\r\n\r\n'), 'the 101 response');
    expect(response).toMatch(/^HTTP\/1\.1 101 /);
    expect(response).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    await waitFor(() => fromGateway.packets.length >= 2, 'two events at the PHP worker');

    // No GATEWAY_INFO for a PHP worker: the first packet is the client's ON_CONNECT.
    const [onConnect, onWsConnect] = fromGateway.packets;
    expect(onConnect!.cmd).toBe(GatewayCommand.ON_CONNECT);
    expect(onWsConnect!.cmd).toBe(GatewayCommand.ON_WEBSOCKET_CONNECT);
    expect(onWsConnect!.flag).toBe(0);
    expect(onWsConnect!.connectionId).toBe(onConnect!.connectionId);
    expect(onWsConnect!.gatewayPort).toBe(wsPort);
    const port = client.localPort!;
    const expected =
      'a:3:{s:3:"get";a:2:{s:5:"token";s:3:"abc";s:4:"list";a:2:{i:0;s:1:"1";i:1;s:1:"2";}}s:6:"server";a:16:{s:12:"QUERY_STRING";s:27:"token=abc&list[]=1&list[]=2";' +
      's:14:"REQUEST_METHOD";s:3:"GET";s:11:"REQUEST_URI";s:31:"/ws?token=abc&list[]=1&list[]=2";s:15:"SERVER_PROTOCOL";s:8:"HTTP/1.1";s:11:"SERVER_NAME";s:16:"example.com:8282";' +
      `s:12:"CONTENT_TYPE";N;s:11:"REMOTE_ADDR";s:9:"127.0.0.1";s:11:"REMOTE_PORT";i:${port};s:11:"SERVER_PORT";i:${wsPort};` +
      's:9:"HTTP_HOST";s:16:"example.com:8282";s:12:"HTTP_UPGRADE";s:9:"websocket";s:15:"HTTP_CONNECTION";s:7:"Upgrade";s:22:"HTTP_SEC_WEBSOCKET_KEY";s:24:"dGhlIHNhbXBsZSBub25jZQ==";' +
      's:26:"HTTP_SEC_WEBSOCKET_VERSION";s:2:"13";s:11:"HTTP_COOKIE";s:23:"sid=xyz%201; theme=dark";s:15:"HTTP_USER_AGENT";s:4:"test";}s:6:"cookie";a:2:{s:3:"sid";s:7:"xyz%201";s:5:"theme";s:4:"dark";}}';
    expect(onWsConnect!.body.toString('latin1')).toBe(expected);
  });

  it('a TypeScript worker behind a gateway that does not hold handshakes (PHP) closes a refused client; behind one that does, it sends the verdict', async () => {
    // A Register, a TS worker with the handlers, and a fake PHP-style gateway announced to the Register.
    const registerAddress = `127.0.0.1:${await freePort()}`;
    apps.push(await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger));
    const workerConn = new Promise<Socket>((resolve) => {
      fakeGateway = createServer((s) => resolve(s));
    });
    await new Promise<void>((r) => fakeGateway!.listen(0, '127.0.0.1', r));
    const gwAddress = `127.0.0.1:${(fakeGateway!.address() as { port: number }).port}`;
    const announce = connect({ host: '127.0.0.1', port: Number(registerAddress.split(':')[1]) });
    sockets.push(announce);
    announce.on('error', () => undefined);
    announce.write(gatewayConnectLine(gwAddress, ''));
    apps.push(await boot({ registerAddress, businessWorker: { name: 'TsWorker' } }, 'business-worker', logger, providers));
    const socket = await workerConn;
    sockets.push(socket);
    const fromWorker = packetPeer(socket);
    await waitFor(() => fromWorker.packets.length >= 1, 'CMD_WORKER_CONNECT');
    const hello = fromWorker.packets[0]!;
    expect(hello.cmd).toBe(GatewayCommand.WORKER_CONNECT);
    // PHP's fields first, in PHP's order; the extension after them.
    expect(hello.body.toString()).toBe(`{"worker_key":"TsWorker:0","secret_key":"","features":["${WorkerFeature.GATEWAY_INFO}","${WorkerFeature.FLOW_CONTROL}","${WorkerFeature.WEBSOCKET_VERDICT}"]}`);

    const [gwIp, gwPort] = [0x7f000001, Number(gwAddress.split(':')[1])];
    const event = (connectionId: number, url: string, flag: number) =>
      encodeGatewayPacket({
        cmd: GatewayCommand.ON_WEBSOCKET_CONNECT,
        localIp: gwIp,
        localPort: gwPort,
        clientIp: 0x7f000001,
        clientPort: 40000 + connectionId,
        connectionId,
        flag,
        gatewayPort: 7272,
        body: webSocketConnectBody({ method: 'GET', url, httpVersion: '1.1', rawHeaders: ['Host', 'x'], remoteAddress: '127.0.0.1', remotePort: 40000 + connectionId, localPort: 7272 }),
      });
    const after = (n: number) => fromWorker.packets.slice(n);

    // 1. PHP gateway (flag 0): it has accepted already, so a refusal kicks the client.
    let n = fromWorker.packets.length;
    socket.write(event(7, '/chat', 0));
    await waitFor(() => after(n).length >= 1, 'the worker to answer');
    expect(after(n).map((p) => [p.cmd, p.connectionId])).toEqual([[GatewayCommand.KICK, 7]]);
    expect(logger.find('warn', 'had already accepted the websocket').length).toBe(1);

    // 2. Held handshake, no token: the verdict is 401, nothing else.
    n = fromWorker.packets.length;
    socket.write(event(8, '/chat', FLAG_AWAITS_VERDICT));
    await waitFor(() => after(n).length >= 1, 'the verdict');
    await sleep(50);
    expect(after(n).map((p) => [p.cmd, p.connectionId])).toEqual([[ExtensionCommand.WEBSOCKET_VERDICT, 8]]);
    expect(JSON.parse(after(n)[0]!.body.toString())).toEqual({ status: 401, message: 'A token is required: connect with ?token=…' });

    // 3. Held handshake, valid token: uid, message, session write-back, then the 101 verdict, in that order.
    n = fromWorker.packets.length;
    socket.write(event(9, '/chat?token=secret&uid=99', FLAG_AWAITS_VERDICT));
    await waitFor(() => after(n).some((p) => p.cmd === ExtensionCommand.WEBSOCKET_VERDICT), 'the verdict');
    expect(after(n).map((p) => p.cmd)).toEqual([GatewayCommand.BIND_UID, GatewayCommand.SEND_TO_ONE, GatewayCommand.SET_SESSION, ExtensionCommand.WEBSOCKET_VERDICT]);
    expect(after(n)[2]!.extData.toString()).toBe('a:1:{s:3:"uid";s:2:"99";}');
    expect(JSON.parse(after(n)[3]!.body.toString())).toEqual({ status: 101 });
  });
});
