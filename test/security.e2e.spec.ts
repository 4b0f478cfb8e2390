import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer, RegisterServer, BusinessWorkerServer } from '../lib/index.js';
import { encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { boot, CapturingLogger } from './support/cluster.js';
import { freePort, greeted, sleep, TextClient, waitFor } from './support/net.js';
import { testProviders } from './support/test-events.js';
import type { INestMicroservice } from '@nestjs/common';

/** A raw TCP peer that records what it receives and when it is closed. */
async function rawPeer(port: number, host = '127.0.0.1'): Promise<{ socket: Socket; received: () => Buffer; closed: () => boolean }> {
  const socket = connect({ port, host });
  await new Promise((r) => socket.once('connect', r));
  const chunks: Buffer[] = [];
  let isClosed = false;
  socket.on('data', (d) => chunks.push(d));
  socket.on('close', () => (isClosed = true));
  socket.on('error', () => undefined);
  return { socket, received: () => Buffer.concat(chunks), closed: () => isClosed };
}

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const auth = (secret: string) => encodeGatewayPacket({ cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: json({ secret_key: secret }) });

describe('secret keys, hostile peers and malformed input', () => {
  const logger = new CapturingLogger();
  const apps: INestMicroservice[] = [];
  let registerAddress: string;
  let gateway: GatewayServer;
  let innerPort: number;
  let client: { client: TextClient; id: string };

  beforeAll(async () => {
    registerAddress = `127.0.0.1:${await freePort()}`;
    const common = { registerAddress, secretKey: 'right-key', queryTimeout: 1000 };
    apps.push(await boot({ ...common, register: { listen: registerAddress } }, 'register', logger));
    apps.push(await boot({ ...common, gateway: { listen: 'text://127.0.0.1:0', startPort: 0 } }, 'gateway', logger));
    apps.push(await boot({ ...common, businessWorker: { name: 'Good' } }, 'business-worker', logger, testProviders));
    gateway = apps[1]!.get(GatewayServer);
    innerPort = gateway.lanPort;
    await waitFor(() => gateway.workerKeys.length === 1, 'the worker to connect');
    client = await greeted(() => TextClient.connect(gateway.publicPorts[0]!));
  }, 20_000);

  afterAll(async () => {
    client?.client.close();
    for (const app of apps.reverse()) await app.close();
  });

  it('refuses a BusinessWorker with the wrong secret key at the Register, and logs it naming the peer', async () => {
    const bad = await boot({ registerAddress, secretKey: 'wrong-key', businessWorker: { name: 'Intruder' } }, 'business-worker', logger, testProviders);
    try {
      await waitFor(() => logger.find('warn', 'worker_connect from 127.0.0.1:').length > 0, 'the Register to log the refusal');
      expect(logger.find('warn', 'was refused: wrong secret key')[0]).toMatch(/^Register: worker_connect from 127\.0\.0\.1:\d+ was refused/);
      await sleep(300);
      expect(bad.get(BusinessWorkerServer).gatewayAddresses).toEqual([]);
      expect(gateway.workerKeys).toEqual(['127.0.0.1:Good:0']);
    } finally {
      await bad.close();
    }
  });

  it('refuses a worker connection with the wrong secret key at the gateway, and logs the peer', async () => {
    const peer = await rawPeer(innerPort);
    const port = peer.socket.localPort;
    peer.socket.write(encodeGatewayPacket({ cmd: GatewayCommand.WORKER_CONNECT, flag: FLAG_BODY_IS_SCALAR, body: json({ worker_key: 'Evil:0', secret_key: 'nope' }) }));
    await waitFor(peer.closed, 'the gateway to close the connection');
    expect(peer.received().length).toBe(0);
    expect(logger.find('warn', `worker connection "Evil:0" from 127.0.0.1:${port} was refused: wrong secret key`)).toHaveLength(1);
    expect(gateway.workerKeys).toEqual(['127.0.0.1:Good:0']);
  });

  it('answers a GatewayClient request with the right key (TV-12 shape), refuses the wrong key', async () => {
    const connectionId = parseInt(client.id.slice(12), 16);
    const isOnline = encodeGatewayPacket({ cmd: GatewayCommand.IS_ONLINE, connectionId, flag: FLAG_BODY_IS_SCALAR });
    const good = await rawPeer(innerPort);
    good.socket.write(Buffer.concat([auth('right-key'), isOnline]));
    await waitFor(() => good.received().length >= 8, 'the reply');
    expect(good.received().toString('hex')).toBe('00000004693a313b'); // i:1;
    // Repeated auth packets on one connection are accepted, as PHP callers send one per request.
    good.socket.write(Buffer.concat([auth('right-key'), isOnline]));
    await waitFor(() => good.received().length >= 16, 'the second reply');
    expect(good.closed()).toBe(false);
    good.socket.destroy();

    const bad = await rawPeer(innerPort);
    bad.socket.write(Buffer.concat([auth('wrong'), isOnline]));
    await waitFor(bad.closed, 'the refusal');
    expect(bad.received().length).toBe(0);
    expect(logger.find('warn', 'client connection from 127.0.0.1').length).toBeGreaterThan(0);
  });

  it('closes an unauthenticated peer that sends a command, and sends nothing to clients', async () => {
    const peer = await rawPeer(innerPort);
    peer.socket.write(encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, flag: FLAG_BODY_IS_SCALAR, body: Buffer.from('spam') }));
    await waitFor(peer.closed, 'the gateway to close it');
    expect(logger.find('warn', 'unauthorized packet (cmd 6)').length).toBe(1);
    await sleep(100);
    expect(client.client.drain()).toEqual([]);
  });

  it('closes links that send malformed frames (too short, too long), logging why', async () => {
    const short = await rawPeer(innerPort);
    short.socket.write(Buffer.from('0000000507', 'hex'));
    await waitFor(short.closed, 'the short packet to be refused');
    expect(logger.find('warn', 'Packet length 5 is below the minimum of 28 bytes').length).toBe(1);

    // An oversized packet before authenticating: closed, as any unauthorized packet.
    const header = Buffer.alloc(28);
    header.writeUInt32BE(0x7fffffff, 0);
    header[4] = 5;
    const stranger = await rawPeer(innerPort);
    stranger.socket.write(header);
    await waitFor(stranger.closed, 'the unauthenticated oversized packet to be refused');
    expect(logger.find('warn', 'unauthorized packet (cmd 5)').length).toBe(1);
    // The gateway is fine: the client still chats.
    client.client.send('echo still here');
    expect(await client.client.next()).toBe('still here');
  });

  it('skips an oversized packet of an authorized link without buffering it; the link carries on', async () => {
    const peer = await rawPeer(innerPort);
    const connectionId = parseInt(client.id.slice(12), 16);
    // innerMaxPackageSize is derived: maxPackageSize (10 MiB) + 1 MiB of room for header, session and prefix.
    const innerMax = 10_485_760 + 1_048_576;
    const big = encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, flag: FLAG_BODY_IS_SCALAR, body: Buffer.alloc(innerMax + 1, 'x') });
    peer.socket.write(Buffer.concat([auth('right-key'), big.subarray(0, 1000)]));
    await waitFor(() => logger.find('warn', `is ${big.length} bytes, over the limit of ${innerMax}; skipped`).length === 1, 'the oversized packet to be logged');
    expect(logger.find('warn', `packet cmd ${GatewayCommand.SEND_TO_ALL} from 127.0.0.1:`)).toHaveLength(1);
    peer.socket.write(Buffer.concat([big.subarray(1000), encodeGatewayPacket({ cmd: GatewayCommand.IS_ONLINE, connectionId, flag: FLAG_BODY_IS_SCALAR })]));
    await waitFor(() => peer.received().length >= 8, 'the reply to the query after the skipped packet');
    expect(peer.received().toString('hex')).toBe('00000004693a313b');
    expect(peer.closed()).toBe(false);
    // Nothing of it reached the client.
    await sleep(100);
    expect(client.client.drain()).toEqual([]);
    peer.socket.destroy();
  });

  it('closes a link that sends an unknown command, logging the peer', async () => {
    const peer = await rawPeer(innerPort);
    const port = peer.socket.localPort;
    peer.socket.write(Buffer.concat([auth('right-key'), encodeGatewayPacket({ cmd: 99, flag: FLAG_BODY_IS_SCALAR })]));
    await waitFor(peer.closed, 'the gateway to close the link');
    expect(logger.find('warn', `unknown command 99 from 127.0.0.1:${port}; connection closed`)).toHaveLength(1);
  });

  it('logs and drops undecodable bodies and invalid JSON without dropping the link', async () => {
    const peer = await rawPeer(innerPort);
    const connectionId = parseInt(client.id.slice(12), 16);
    peer.socket.write(
      Buffer.concat([
        auth('right-key'),
        // Flag 0 with a body that is not PHP serialize output: PHP's gateway process dies on this.
        encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ONE, connectionId, flag: 0, body: Buffer.from('not serialized') }),
        encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_UID, flag: FLAG_BODY_IS_SCALAR, extData: Buffer.from('{not json'), body: Buffer.from('x') }),
        encodeGatewayPacket({ cmd: GatewayCommand.IS_ONLINE, connectionId, flag: FLAG_BODY_IS_SCALAR }),
      ]),
    );
    await waitFor(() => peer.received().length >= 8, 'the query reply after the bad packets');
    expect(peer.received().toString('hex')).toBe('00000004693a313b');
    expect(peer.closed()).toBe(false);
    expect(logger.find('warn', 'carries a serialized body that is not a string').length).toBe(1);
    expect(logger.find('warn', 'cmd 14').join()).toContain('invalid JSON in ext_data');
    expect(client.client.drain()).toEqual([]);
    peer.socket.destroy();
  });

  it('the Register answers garbage with PHP\'s "Bad request" line and closes; a wrong gateway secret is closed', async () => {
    const port = Number(registerAddress.split(':')[1]);
    const garbage = await rawPeer(port);
    garbage.socket.write('hello there\n');
    await waitFor(garbage.closed, 'the Register to close');
    expect(garbage.received().toString()).toMatch(/^Bad request for Register service\. Request info\(IP:127\.0\.0\.1, Request Buffer:hello there\)/);

    const fake = await rawPeer(port);
    fake.socket.write('{"event":"gateway_connect", "address":"127.0.0.1:1", "secret_key":"nope"}\n');
    await waitFor(fake.closed, 'the Register to refuse the gateway');
    expect(apps[0]!.get(RegisterServer).addresses).toEqual([gateway.address]);
  });

  it('closes a text client whose line exceeds maxPackageSize, gracefully', async () => {
    const small = await boot({ registerAddress, secretKey: 'right-key', maxPackageSize: 64, gateway: { listen: 'text://127.0.0.1:0', startPort: 0 } }, 'gateway', logger);
    try {
      const g = small.get(GatewayServer);
      await waitFor(() => g.workerKeys.length === 1, 'the worker to find the second gateway', 5000);
      const c = await greeted(() => TextClient.connect(g.publicPorts[0]!));
      c.client.socket.write('x'.repeat(100));
      await c.client.waitClosed();
      expect(logger.find('warn', 'Line of 64 bytes or more without a newline').length).toBe(1);
    } finally {
      await small.close();
    }
  });
});
