/**
 * Wire compatibility of the GatewayService API with PHP's GatewayClient/GatewayWorker library,
 * byte for byte against docs/protocol.md §13:
 * - what each API method sends is the packet PHP sends for the same call, and the reply vectors
 *   decode to the documented results (through a recording transport);
 * - a raw peer speaking only captured PHP GatewayClient bytes gets the documented replies from our
 *   gateway (TV-12, TV-13, TV-20 … TV-24, TV-28).
 */
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayQueryLink } from '../lib/client/gateway-query.link.js';
import type { GatewayTransport } from '../lib/client/gateway-transport.interface.js';
import { GatewayService, PartialResultError, QueryTimeoutError } from '../lib/index.js';
import { encodeClientId } from '../lib/protocol/client-id.js';
import { encodeGatewayPacket } from '../lib/protocol/gateway-packet.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../lib/protocol/gateway-command.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';
import { startCluster, type TestCluster } from './support/cluster.js';
import { freePort, TextClient, waitFor } from './support/net.js';

const hex = (b: Buffer) => b.toString('hex');
const fromHex = (h: string) => Buffer.from(h, 'hex');
const ascii = (s: string) => Buffer.from(s).toString('hex');

/** The vectors of docs/protocol.md §13 used here. */
const TV = {
  sendToAllHello: '0000002106000000000000000000000000000000000100000000000068656c6c6f',
  sendToAllHelloRaw: '0000002106000000000000000000000000000000000300000000000068656c6c6f',
  sendToAllExclude: '000000370600000000000000000000000000000000010000000000197b226578636c756465223a7b2231223a312c2237223a377d7d6869',
  sendToAllList: '0000003b06000000000000000000000000000000000100000000001d7b22636f6e6e656374696f6e73223a7b2233223a332c2239223a397d7d6869',
  sendToUid: '000000280e00000000000000000000000000000000010000000000095b227531222c34325d6d7367',
  joinGroup: '00000021140000000000000000000000000000000101000000000005726f6f6d31',
  sendToGroupExclude: '000000451600000000000000000000000000000000010000000000277b2267726f7570223a5b22726f6f6d31222c325d2c226578636c756465223a7b2231223a317d7d796f',
  sendToGroup: '000000401600000000000000000000000000000000010000000000227b2267726f7570223a5b22726f6f6d31225d2c226578636c756465223a6e756c6c7d796f',
  sendToGroupRawCaptured: '000000491600000000000000000000000000000000030000000000257b2267726f7570223a5b22726f6f6d31225d2c226578636c756465223a7b2231223a317d7d746f2d67726f7570',
  auth: '00000033ca00000000000000000000000000000000010000000000007b227365637265745f6b6579223a22733363723374227d',
  isOnline1: '0000001c0b0000000000000000000000000000000101000000000000',
  online: '00000004693a313b',
  offline: '00000004693a303b',
  getAllClientSessions: '0000001c0a0000000000000000000000000000000001000000000000',
  allSessionsReply: '00000031613a323a7b693a313b733a32303a22613a313a7b733a333a22756964223b693a353b7d223b693a323b733a303a22223b7d',
  kickNull7: '0000001e0700000000000000000000000000000007000000000000004e3b',
  kickBye7: '0000001f070000000000000000000000000000000701000000000000627965',
  sendToOne123: '0000001f050000000000000000000000000000000101000000000000313233',
  sendToOneFalse: '0000001c050000000000000000000000000000000101000000000000',
  updateSessionScore: '00000033090000000000000000000000000000000101000000000017613a313a7b733a353a2273636f7265223b693a31303b7d',
  setSessionCaptured:
    '0000005fcc0000000000000000000000000000000701000000000043613a323a7b733a313a226e223b693a313b733a363a226e6573746564223b613a313a7b733a313a2261223b613a323a7b693a303b693a313b693a313b693a323b7d7d7d',
  selectAllUid: '0000003919000000000000000000000000000000000100000000001d7b226669656c6473223a5b22756964225d2c227768657265223a5b5d7d',
  selectUidOf1: '000000501900000000000000000000000000000000010000000000347b226669656c6473223a5b22756964225d2c227768657265223a7b22636f6e6e656374696f6e5f6964223a7b2231223a317d7d7d',
  selectUidByGroup: '0000004b19000000000000000000000000000000000100000000002f7b226669656c6473223a5b22756964225d2c227768657265223a7b2267726f757073223a5b22726f6f6d31225d7d7d',
  selectReplyCaptured:
    '000000b2613a313a7b693a313b613a333a7b733a333a22756964223b733a323a227531223b733a363a2267726f757073223b613a323a7b733a323a226731223b733a323a226731223b693a3132333b733a333a22313233223b7d733a373a2273657373696f6e223b733a36383a22613a333a7b733a313a2261223b693a313b733a313a226c223b613a333a7b693a303b693a393b693a313b693a323b693a323b693a333b7d733a313a2262223b623a313b7d223b7d7d',
  getSession1: '0000001ccb0000000000000000000000000000000101000000000000',
  countAll: '0000001c180000000000000000000000000000000001000000000000',
  count42: '00000005693a34323b',
  groupIdListCaptured: '0000001d613a323a7b693a303b733a323a226731223b693a313b693a3132333b7d',
  batchUidRequest: '0000002710000000000000000000000000000000000100000000000b5b227531222c227532225d',
  batchUidReply: '00000034613a323a7b733a323a227531223b613a323a7b693a303b693a313b693a313b693a353b7d733a323a227532223b613a303a7b7d7d',
  batchUidReplyCaptured: '00000030613a323a7b733a323a227531223b613a313a7b693a303b693a313b7d733a363a226e6f626f6479223b613a303a7b7d7d',
  batchCountReplyCaptured: '0000002c613a333a7b733a323a226731223b693a313b693a3132333b693a313b733a343a226e6f6e65223b693a303b7d',
} as const;

/** The session TV-20's captured reply carries (after TV-28's live SET + UPDATE). */
const SESSION = 'a:3:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"b";b:1;}';

// ---------------------------------------------------------------------------------------------
// A: what the API sends and how it reads the replies
// ---------------------------------------------------------------------------------------------

/** A transport that records packets and answers queries with canned reply bytes. */
class RecordingTransport implements GatewayTransport {
  readonly sent: string[] = [];
  readonly queries: { address: string; packet: string }[] = [];
  /** Reply (a §2.9 reply vector, length prefix included) per address; none → `defaultReply`, or a timeout. */
  readonly replies = new Map<string, string>();
  defaultReply: string | null = null;

  constructor(readonly list: string[]) {}

  send(_address: string, packet: Buffer): boolean {
    this.sent.push(hex(packet));
    return true;
  }

  sendAll(packet: Buffer | ((address: string) => Buffer | null)): number {
    let n = 0;
    for (const a of this.list) {
      const p = typeof packet === 'function' ? packet(a) : packet;
      if (p) {
        this.sent.push(hex(p));
        n++;
      }
    }
    return n;
  }

  addresses(): readonly string[] {
    return this.list;
  }

  async query(address: string, packet: Buffer): Promise<Buffer> {
    this.queries.push({ address, packet: hex(packet) });
    const reply = this.replies.get(address) ?? this.defaultReply;
    if (!reply) throw new QueryTimeoutError(address, 1);
    const bytes = fromHex(reply);
    // The vectors carry the §2.9 length prefix: it must match, then the transport strips it.
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    return bytes.subarray(4);
  }
}

/** A GatewayService whose transport (the GatewayClient, outside a BusinessWorker) is `transport`. */
function serviceOver(transport: RecordingTransport): GatewayService {
  return new GatewayService(resolveGatewayWorkerOptions({}), transport);
}

const GW = '127.0.0.1:2900';
/** client_id of connection `n` on 127.0.0.1:2900 (TV-1). */
const cid = (n: number) => encodeClientId(0x7f000001, 2900, n);

describe('GatewayService sends the packets PHP sends (§13)', () => {
  const cases: [string, (s: GatewayService) => Promise<unknown>, string][] = [
    ['TV-2 sendToAll("hello")', (s) => s.sendToAll('hello'), TV.sendToAllHello],
    ['TV-3 sendToAll("hello", null, null, raw)', (s) => s.sendToAll('hello', null, null, true), TV.sendToAllHelloRaw],
    ['TV-4 sendToAll("hi", null, [1, 7])', (s) => s.sendToAll('hi', null, [cid(1), cid(7)]), TV.sendToAllExclude],
    ['TV-5 sendToAll("hi", [3, 9])', (s) => s.sendToAll('hi', [cid(3), cid(9)]), TV.sendToAllList],
    ['TV-6 sendToUid(["u1", 42], "msg")', (s) => s.sendToUid(['u1', 42], 'msg'), TV.sendToUid],
    ['TV-7 joinGroup(1, "room1")', (s) => s.joinGroup(cid(1), 'room1'), TV.joinGroup],
    ['TV-8 sendToGroup(["room1", 2], "yo", [1])', (s) => s.sendToGroup(['room1', 2], 'yo', [cid(1)]), TV.sendToGroupExclude],
    ['TV-8 sendToGroup("room1", "yo")', (s) => s.sendToGroup('room1', 'yo'), TV.sendToGroup],
    ['TV-8 (captured) sendToGroup("room1", "to-group", [1], raw)', (s) => s.sendToGroup('room1', 'to-group', [cid(1)], true), TV.sendToGroupRawCaptured],
    ['TV-14 closeClient(7)', (s) => s.closeClient(cid(7)), TV.kickNull7],
    ['TV-14 closeClient(7, "bye")', (s) => s.closeClient(cid(7), 'bye'), TV.kickBye7],
    ['TV-16 sendToClient(1, 123)', (s) => s.sendToClient(cid(1), 123), TV.sendToOne123],
    ['TV-16 sendToClient(1, false)', (s) => s.sendToClient(cid(1), false), TV.sendToOneFalse],
    ['TV-17 updateSession(1, {score: 10})', (s) => s.updateSession(cid(1), { score: 10 }), TV.updateSessionScore],
    ['TV-18 (captured) setSession(7, {n: 1, nested: {a: [1, 2]}})', (s) => s.setSession(cid(7), { n: 1, nested: { a: [1, 2] } }), TV.setSessionCaptured],
  ];
  for (const [name, call, expected] of cases) {
    it(name, async () => {
      const t = new RecordingTransport([GW]);
      await call(serviceOver(t));
      expect(t.sent).toEqual([expected]);
    });
  }

  const queries: [string, (s: GatewayService) => Promise<unknown>, string][] = [
    ['TV-12 isOnline(7f0000014dbc00000001)', (s) => s.isOnline('7f0000014dbc00000001'), TV.isOnline1],
    ['TV-13 getAllClientSessions()', (s) => s.getAllClientSessions(), TV.getAllClientSessions],
    ['TV-20 (captured) getAllClientIdList()', (s) => s.getAllClientIdList(), TV.selectAllUid],
    ['TV-20 (captured) getAllUidList()', (s) => s.getAllUidList(), TV.selectAllUid],
    ['TV-20 (captured) getUidByClientId(1)', (s) => s.getUidByClientId(cid(1)), TV.selectUidOf1],
    ['TV-20 getUidListByGroup("room1")', (s) => s.getUidListByGroup('room1'), TV.selectUidByGroup],
    ['TV-21 getSession(1)', (s) => s.getSession(cid(1)), TV.getSession1],
    ['TV-22 getAllClientCount()', (s) => s.getAllClientCount(), TV.countAll],
    ['TV-24 batchGetClientIdByUid(["u1", "u2"])', (s) => s.batchGetClientIdByUid(['u1', 'u2']), TV.batchUidRequest],
  ];
  for (const [name, call, expected] of queries) {
    it(`${name}: request bytes`, async () => {
      const t = new RecordingTransport([GW]);
      t.defaultReply = '000000024e3b'; // N;
      await call(serviceOver(t));
      expect(t.queries.map((q) => q.packet)).toEqual([expected]);
      expect(t.queries[0]!.address).toBe(name.startsWith('TV-12') ? '127.0.0.1:19900' : GW);
    });
  }
});

describe('GatewayService reads the reply vectors (§2.9, §13)', () => {
  const answering = (reply: string, list = [GW]) => {
    const t = new RecordingTransport(list);
    for (const a of list) t.replies.set(a, reply);
    return serviceOver(t);
  };

  it('TV-12 online / offline', async () => {
    const t = new RecordingTransport([]);
    t.replies.set('127.0.0.1:19900', TV.online);
    expect(await serviceOver(t).isOnline('7f0000014dbc00000001')).toBe(true);
    t.replies.set('127.0.0.1:19900', TV.offline);
    expect(await serviceOver(t).isOnline('7f0000014dbc00000001')).toBe(false);
  });

  it('TV-13 sessions by client_id; an empty session is {}', async () => {
    expect(await answering(TV.allSessionsReply).getAllClientSessions()).toEqual({ [cid(1)]: { uid: 5 }, [cid(2)]: {} });
  });

  it('TV-20 (captured) SELECT reply: uid, groups (int key 123, string value) and the session', async () => {
    const s = answering(TV.selectReplyCaptured);
    expect(await s.getAllClientIdList()).toEqual([cid(1)]);
    expect(await s.getAllUidList()).toEqual(['u1']);
    expect(await s.getUidByClientId(cid(1))).toBe('u1');
    expect(await s.getAllGroupUidList()).toEqual({ g1: ['u1'], 123: ['u1'] });
    expect(await s.getAllGroupClientIdList()).toEqual({ g1: [cid(1)], 123: [cid(1)] });
    expect(await s.getAllGroupClientIdCount()).toEqual({ g1: 1, 123: 1 });
  });

  it('TV-20 example: a null uid and never-joined groups are skipped (PHP would `break` there)', async () => {
    const reply = Buffer.from('a:2:{i:3;a:2:{s:3:"uid";N;s:6:"groups";N;}i:1;a:2:{s:3:"uid";s:2:"u1";s:6:"groups";a:1:{s:5:"room1";s:5:"room1";}}}');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(reply.length);
    const s = answering(hex(Buffer.concat([head, reply])));
    expect(await s.getAllGroupUidList()).toEqual({ room1: ['u1'] });
    expect(await s.getAllGroupClientIdList()).toEqual({ room1: [cid(1)] });
    expect(await s.getUidListByGroup('room1')).toEqual(['u1']);
  });

  it('TV-21 getSession: unknown client → null, empty session → {}', async () => {
    expect(await answering('000000024e3b').getSession(cid(1))).toBeNull();
    expect(await answering('00000006613a303a7b7d').getSession(cid(1))).toEqual({});
  });

  it('TV-22 counts are summed over gateways', async () => {
    const list = [GW, '127.0.0.2:2900'];
    expect(await answering(TV.count42, list).getAllClientCount()).toBe(84);
  });

  it('TV-23 (captured) group ids come back as strings', async () => {
    expect(await answering(TV.groupIdListCaptured).getAllGroupIdList()).toEqual(['g1', '123']);
  });

  it('TV-24 batch replies: client_ids per uid, counts per group', async () => {
    expect(await answering(TV.batchUidReply).batchGetClientIdByUid(['u1', 'u2'])).toEqual({ u1: [cid(1), cid(5)], u2: [] });
    expect(await answering(TV.batchUidReplyCaptured).isUidsOnline(['u1', 'nobody'])).toEqual({ u1: true, nobody: false });
    expect(await answering(TV.batchCountReplyCaptured).batchGetClientCountByGroup(['g1', 123, 'none'])).toEqual({ g1: 1, 123: 1, none: 0 });
  });

  it('client_ids are rebuilt from the address of the gateway that answered (TV-1)', async () => {
    const s = answering(TV.allSessionsReply, ['192.168.1.20:2901']);
    expect(Object.keys(await s.getAllClientSessions())).toEqual(['c0a801140b5500000001', 'c0a801140b5500000002']);
  });

  it('a gateway that does not answer contributes nothing; partial: "throw" carries the rest', async () => {
    const t = new RecordingTransport([GW, '127.0.0.2:2900']);
    t.replies.set(GW, TV.count42);
    const s = serviceOver(t);
    expect(await s.getAllClientCount()).toBe(42);
    const err = (await s.getAllClientCount({ partial: 'throw' }).catch((e: unknown) => e)) as PartialResultError;
    expect(err).toBeInstanceOf(PartialResultError);
    expect(err.partialValue).toBe(42);
    expect(err.failures.map((f) => f.address)).toEqual(['127.0.0.2:2900']);
  });

  it('an unreadable reply counts as a failed gateway, not as an error of the call', async () => {
    const t = new RecordingTransport([GW, '127.0.0.2:2900']);
    t.replies.set(GW, TV.groupIdListCaptured);
    t.replies.set('127.0.0.2:2900', '00000003613a31');
    const err = (await serviceOver(t).getAllGroupIdList({ partial: 'throw' }).catch((e: unknown) => e)) as PartialResultError;
    expect(err.partialValue).toEqual(['g1', '123']);
    expect(err.failures[0]!.error.name).toBe('PhpUnserializeError');
  });
});

describe('the GatewayClient link writes what PHP GatewayClient writes (TV-12)', () => {
  it('auth packet + CMD_IS_ONLINE in one request, reply i:1;', async () => {
    const received: Buffer[] = [];
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('data', (d) => {
        received.push(d);
        if (Buffer.concat(received).length >= fromHex(TV.auth + TV.isOnline1).length) s.write(fromHex(TV.online));
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const link = new GatewayQueryLink({ address: `127.0.0.1:${port}`, secretKey: 's3cr3t', connectTimeout: 1000, maxPacketSize: 1 << 20 });
    try {
      const reply = await link.request(fromHex(TV.isOnline1), 2000);
      expect(reply.toString()).toBe('i:1;');
      expect(hex(Buffer.concat(received))).toBe(TV.auth + TV.isOnline1);
    } finally {
      link.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// B: captured PHP GatewayClient bytes against our gateway
// ---------------------------------------------------------------------------------------------

/** A peer on a gateway's internal port that speaks only the bytes it is given. */
class RawPeer {
  private buffer = Buffer.alloc(0);
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => (this.buffer = Buffer.concat([this.buffer, d])));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  /** Writes `requestHex` (PHP prepends the auth packet to every request) and returns the one reply, length prefix included, as hex. */
  async request(requestHex: string): Promise<string> {
    this.socket.write(fromHex(TV.auth + requestHex));
    await waitFor(() => this.buffer.length >= 4 && this.buffer.length >= 4 + this.buffer.readUInt32BE(0), 'a reply', 3000);
    const len = 4 + this.buffer.readUInt32BE(0);
    const reply = this.buffer.subarray(0, len);
    this.buffer = this.buffer.subarray(len);
    return hex(reply);
  }

  /** Writes a command that gets no reply. */
  send(packetHex: string): void {
    this.socket.write(fromHex(TV.auth + packetHex));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A command packet as PHP's GatewayProtocol encodes it (everything zero but cmd, connection, flag 1, ext). */
const phpCommand = (cmd: number, connectionId: number, ext: string) =>
  hex(encodeGatewayPacket({ cmd, connectionId, flag: FLAG_BODY_IS_SCALAR, extData: Buffer.from(ext) }));

describe('a peer speaking captured PHP GatewayClient bytes gets the documented replies from our gateway', () => {
  let cluster: TestCluster;
  let client: TextClient;
  let peer: RawPeer;

  beforeAll(async () => {
    cluster = await startCluster({ lanIps: ['127.0.0.1'], listen: (ip) => [`text://${ip}:0`], workers: 1, secretKey: 's3cr3t' });
    // No handler: nothing touches the session. The first client of a fresh gateway is connection 1.
    client = await TextClient.connect(cluster.port(0));
    await waitFor(() => cluster.gateway(0).tables.clients.has(1), 'connection 1');
    peer = await RawPeer.connect(cluster.gateway(0).lanPort);
  }, 30_000);

  afterAll(async () => {
    peer?.close();
    client?.close();
    await cluster?.close();
  }, 30_000);

  it('TV-12 (captured): the exact isOnline request gets 00000004693a313b, and i:0; for an unknown connection', async () => {
    // The request bytes exactly as captured: auth + CMD_IS_ONLINE for connection 1.
    const raw = await RawPeer.connect(cluster.gateway(0).lanPort);
    try {
      expect(await raw.request(TV.isOnline1)).toBe(TV.online);
      // Repeated auth packets on one connection are accepted (PHP sends one per request).
      expect(await raw.request(phpCommand(GatewayCommand.IS_ONLINE, 99, ''))).toBe(TV.offline);
    } finally {
      raw.close();
    }
  });

  it('TV-28 (observed live): SET then UPDATE then GET returns the merged session; TV-21 (captured) framing', async () => {
    peer.send(phpCommand(GatewayCommand.SET_SESSION, 1, 'a:2:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}'));
    peer.send(phpCommand(GatewayCommand.UPDATE_SESSION, 1, 'a:2:{s:1:"l";a:1:{i:0;i:9;}s:1:"b";b:1;}'));
    expect(await peer.request(TV.getSession1)).toBe('00000044' + ascii(SESSION));
    expect(await peer.request(phpCommand(GatewayCommand.GET_SESSION_BY_CLIENT_ID, 99, ''))).toBe('000000024e3b');
  });

  it('TV-20 (captured): SELECT uid, groups, session after bindUid u1 and joinGroup g1, 123', async () => {
    peer.send(phpCommand(GatewayCommand.BIND_UID, 1, 'u1'));
    peer.send(phpCommand(GatewayCommand.JOIN_GROUP, 1, 'g1'));
    peer.send(phpCommand(GatewayCommand.JOIN_GROUP, 1, '123'));
    const select = phpCommand(GatewayCommand.SELECT, 0, '{"fields":["uid","groups","session"],"where":[]}');
    expect(await peer.request(select)).toBe(TV.selectReplyCaptured);
    // The captured getAllClientIdList and getUidByClientId requests.
    const uidOnly = 'a:1:{i:1;a:1:{s:3:"uid";s:2:"u1";}}';
    const expected = Buffer.alloc(4);
    expected.writeUInt32BE(uidOnly.length);
    expect(await peer.request(TV.selectAllUid)).toBe(hex(expected) + ascii(uidOnly));
    expect(await peer.request(TV.selectUidOf1)).toBe(hex(expected) + ascii(uidOnly));
  });

  it('TV-23 (captured): the group id list, numeric groups as ints', async () => {
    expect(await peer.request(phpCommand(GatewayCommand.GET_GROUP_ID_LIST, 0, ''))).toBe(TV.groupIdListCaptured);
  });

  it('TV-24 (captured): batch uid lookup and batch group counts', async () => {
    expect(await peer.request(phpCommand(GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID, 0, '["u1","nobody"]'))).toBe(TV.batchUidReplyCaptured);
    expect(await peer.request(phpCommand(GatewayCommand.BATCH_GET_CLIENT_COUNT_BY_GROUP, 0, '["g1","123","none"]'))).toBe(
      TV.batchCountReplyCaptured,
    );
  });

  it('TV-13 / TV-22: all sessions (a session string inside the array) and the client count', async () => {
    const inner = `a:1:{i:1;s:${SESSION.length}:"${SESSION}";}`;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(inner.length);
    expect(await peer.request(TV.getAllClientSessions)).toBe(hex(head) + ascii(inner));
    expect(await peer.request(TV.countAll)).toBe(TV.online);
  });

  it('our GatewayService reads the same gateway as PHP does', async () => {
    const svc = cluster.service(0);
    const id1 = encodeClientId(0x7f000001, cluster.gateway(0).lanPort, 1);
    expect(await svc.getUidByClientId(id1)).toBe('u1');
    expect(await svc.getAllGroupIdList()).toEqual(['g1', '123']);
    expect(await svc.getSession(id1)).toEqual({ a: 1, l: [9, 2, 3], b: true });
    // A second client without a session: TV-21's empty-session reply.
    const second = await TextClient.connect(cluster.port(0));
    try {
      await waitFor(() => cluster.gateway(0).tables.clients.has(2), 'connection 2');
      expect(await peer.request(phpCommand(GatewayCommand.GET_SESSION_BY_CLIENT_ID, 2, ''))).toBe('00000006613a303a7b7d');
    } finally {
      second.close();
    }
  });
});
