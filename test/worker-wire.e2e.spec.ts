/**
 * What a BusinessWorker writes on its gateway links, seen from a gateway's side: a stand-in
 * gateway (a TCP server announced to a real Register) records every packet of a real worker.
 * - a TypeScript gateway (it sends GATEWAY_INFO): binary frames reach handlers as Buffers, Buffer
 *   sends carry FLAG_BINARY, each event is confirmed with EVENTS_HANDLED naming its client after
 *   its commands; WORKER_HUNG is logged and the worker reconnects;
 * - a PHP gateway (no GATEWAY_INFO): the same bytes as ever — no FLAG_BINARY, no confirmation;
 * - a send over `innerMaxPackageSize` rejects with PacketTooLargeError and writes nothing.
 */
import { type INestMicroservice } from '@nestjs/common';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayEvents, GatewayService, OnMessage, PacketTooLargeError, Payload } from '../lib/index.js';
import { ExtensionCommand, FLAG_BINARY } from '../lib/protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { decodeGatewayPacket, encodeGatewayPacket, type GatewayPacket } from '../lib/protocol/gateway-packet.js';
import { GatewayPacketReader } from '../lib/protocol/gateway-packet.reader.js';
import { gatewayConnectLine } from '../lib/protocol/register-message.js';
import { boot, CapturingLogger } from './support/cluster.js';
import { freePort, waitFor } from './support/net.js';

/** A gateway's internal port that records what the worker sends and can send it events. */
class StandInGateway {
  readonly packets: GatewayPacket[] = [];
  connects = 0;
  private link: Socket | null = null;
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly speaksExtensions: boolean,
  ) {}

  static async start(speaksExtensions: boolean): Promise<StandInGateway> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const g = new StandInGateway(server, port, speaksExtensions);
    server.on('connection', (socket) => g.accept(socket));
    return g;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Packets of `cmd` received so far. */
  of(cmd: number): GatewayPacket[] {
    return this.packets.filter((p) => p.cmd === cmd);
  }

  /** Sends a client event as a gateway does. */
  event(cmd: number, connectionId: number, body: Buffer, flag = FLAG_BODY_IS_SCALAR): void {
    this.link!.write(encodeGatewayPacket({ cmd, localIp: 0x7f000001, localPort: this.port, clientIp: 0x7f000001, clientPort: 5555, connectionId, flag, gatewayPort: 7272, body }));
  }

  /** Declares the worker hung and closes its link, as a TypeScript gateway does. */
  hung(silentMs: number, outstanding: number): void {
    const link = this.link!;
    link.end(encodeGatewayPacket({ cmd: ExtensionCommand.WORKER_HUNG, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify({ silentMs, outstanding })) }));
  }

  close(): void {
    this.link?.destroy();
    this.server.close();
  }

  private accept(socket: Socket): void {
    this.link = socket;
    socket.on('error', () => undefined);
    const reader = new GatewayPacketReader();
    socket.on('data', (chunk) =>
      reader.push(chunk, (raw) => {
        const p = decodeGatewayPacket(Buffer.from(raw));
        this.packets.push(p);
        if (p.cmd !== GatewayCommand.WORKER_CONNECT) return;
        this.connects++;
        if (this.speaksExtensions) {
          const info = { name: 'StandIn', listeners: [{ port: 7272, protocol: 'websocket', tls: false }] };
          socket.write(encodeGatewayPacket({ cmd: ExtensionCommand.GATEWAY_INFO, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from(JSON.stringify(info)) }));
        }
      }, () => undefined),
    );
  }
}

const seen: unknown[] = [];
const rejections: unknown[] = [];

@GatewayEvents()
class WireEvents {
  constructor(private readonly gateway: GatewayService) {}

  @OnMessage()
  async onMessage(@Payload() message: unknown): Promise<void> {
    seen.push(message);
    await this.gateway.sendToCurrentClient(Buffer.from([0, 1, 255]));
    await this.gateway.sendToCurrentClient('text');
    // 2,000 bytes do not fit in this worker's 1,024-byte packets: refused before anything is written.
    await this.gateway.sendToCurrentClient('x'.repeat(2000)).catch((err: unknown) => rejections.push(err));
    await this.gateway.sendToAll(Buffer.alloc(2000)).catch((err: unknown) => rejections.push(err));
  }
}

describe('a worker on its gateway links (stand-in gateways)', () => {
  const logger = new CapturingLogger();
  const apps: INestMicroservice[] = [];
  const announcers: Socket[] = [];
  let ts: StandInGateway;
  let php: StandInGateway;

  beforeAll(async () => {
    const registerAddress = `127.0.0.1:${await freePort()}`;
    apps.push(await boot({ registerAddress, register: { listen: registerAddress } }, 'register', logger));
    ts = await StandInGateway.start(true);
    php = await StandInGateway.start(false);
    const [host, port] = registerAddress.split(':');
    for (const g of [ts, php]) {
      const s = connect({ host, port: Number(port) });
      s.on('error', () => undefined);
      s.write(gatewayConnectLine(g.address, ''));
      announcers.push(s);
    }
    apps.push(await boot({ registerAddress, maxPackageSize: 512, innerMaxPackageSize: 1024, businessWorker: { name: 'Wire' } }, 'business-worker', logger, [WireEvents]));
    await waitFor(() => ts.connects === 1 && php.connects === 1, 'the worker to connect to both stand-ins', 10_000);
  }, 30_000);

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    for (const s of announcers) s.destroy();
    ts?.close();
    php?.close();
  });

  it('TypeScript gateway: a binary frame is a Buffer, Buffer sends are binary, the event is confirmed naming its client after its commands', async () => {
    await waitFor(() => ts.packets.length > 0, 'the worker connect', 5000);
    // Let GATEWAY_INFO reach the worker before the event, as a gateway sends it first.
    await new Promise((r) => setTimeout(r, 100));
    const before = ts.packets.length;
    ts.event(GatewayCommand.ON_MESSAGE, 42, Buffer.from([9, 8, 7]), FLAG_BODY_IS_SCALAR | FLAG_BINARY);
    await waitFor(() => ts.of(ExtensionCommand.EVENTS_HANDLED).length === 1, 'the confirmation', 5000);
    expect(Buffer.isBuffer(seen[0]) && (seen[0] as Buffer).equals(Buffer.from([9, 8, 7]))).toBe(true);
    const after = ts.packets.slice(before).filter((p) => p.cmd !== ExtensionCommand.WORKER_STATS);
    expect(after.map((p) => [p.cmd, p.connectionId, (p.flag & FLAG_BINARY) !== 0, p.body.toString('hex')])).toEqual([
      [GatewayCommand.SEND_TO_ONE, 42, true, '0001ff'],
      [GatewayCommand.SEND_TO_ONE, 42, false, Buffer.from('text').toString('hex')],
      [ExtensionCommand.EVENTS_HANDLED, 42, false, ''],
    ]);
    expect(rejections).toHaveLength(2);
    for (const err of rejections) {
      expect(err).toBeInstanceOf(PacketTooLargeError);
      expect((err as Error).message).toMatch(/\d{4}-byte packet, over the 1024-byte limit .*innerMaxPackageSize/);
    }
    expect(php.of(GatewayCommand.SEND_TO_ALL)).toEqual([]);
  });

  it('PHP gateway: FLAG_BINARY means nothing from it, sends carry no FLAG_BINARY, and no confirmation is sent', async () => {
    seen.length = 0;
    rejections.length = 0;
    php.event(GatewayCommand.ON_MESSAGE, 7, Buffer.from('hi'), FLAG_BODY_IS_SCALAR | FLAG_BINARY);
    await waitFor(() => php.of(GatewayCommand.SEND_TO_ONE).length === 2 && rejections.length === 2, 'the replies', 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['hi']);
    const sends = php.of(GatewayCommand.SEND_TO_ONE);
    expect(sends.map((p) => p.flag)).toEqual([FLAG_BODY_IS_SCALAR, FLAG_BODY_IS_SCALAR]);
    expect(sends[0]!.body.equals(Buffer.from([0, 1, 255]))).toBe(true);
    expect(php.packets.filter((p) => p.cmd >= 150 && p.cmd < 200)).toEqual([]);
  });

  it('WORKER_HUNG: one clear warning (gateway, how long, how many lost), then the worker reconnects', async () => {
    ts.hung(12_345, 3);
    await waitFor(() => ts.connects === 2, 'the worker to reconnect', 5000);
    const warnings = logger.find('warn', 'declared this worker hung');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`gateway ${ts.address}`);
    expect(warnings[0]).toContain('12345 ms');
    expect(warnings[0]).toContain('counted 3 event(s) as lost');
  });
});
