import type { StreamDecoder } from '../lib/protocol/client-protocol.js';
/**
 * Byte-exact checks of the wire formats against the test vectors of docs/protocol.md §13
 * (GatewayProtocol §2, client_id §3, Register lines §4, client framings §8).
 */
import { describe, it, expect } from 'vitest';
import {
  decodeBody,
  decodeGatewayPacket,
  encodeBody,
  encodeGatewayPacket,
  type GatewayPacket,
  type GatewayPacketInit,
} from '../lib/protocol/gateway-packet.js';
import { GatewayPacketReader, type OversizedPacket } from '../lib/protocol/gateway-packet.reader.js';
import {
  DEFAULT_MAX_PACKAGE_SIZE,
  FLAG_BODY_IS_SCALAR,
  FLAG_NOT_CALL_ENCODE,
  GatewayCommand,
  HEAD_LEN,
} from '../lib/protocol/gateway-command.js';
import { decodeClientId, encodeClientId, isValidClientId } from '../lib/protocol/client-id.js';
import { ip2long, long2ip } from '../lib/utils/ip.util.js';
import {
  broadcastAddressesLine,
  gatewayConnectLine,
  parseRegisterMessage,
  PING_LINE,
  readAddresses,
  workerConnectLine,
} from '../lib/protocol/register-message.js';
import { FrameProtocol, TextProtocol } from '../lib/protocol/client-protocol.js';
import { LineReader } from '../lib/protocol/line.reader.js';
import { webSocketFrameHeader, WS_OPCODE_BINARY, WS_OPCODE_TEXT } from '../lib/protocol/websocket-frame.js';
import { phpSerialize, phpUnserialize, phpUnserializeExact } from '../lib/protocol/php-serialize.js';
import { normalizePhpKey, PhpArray } from '../lib/protocol/php-value.js';
import { selectExt } from '../lib/service/select-query.js';
import { GatewayProtocolError } from '../lib/errors/gateway-protocol.error.js';
import { InvalidClientIdError } from '../lib/errors/invalid-client-id.error.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const hex = (b: Buffer | Buffer[]): string => (Array.isArray(b) ? Buffer.concat(b) : b).toString('hex');
const fromHex = (h: string): Buffer => Buffer.from(h, 'hex');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Every header field of a decoded packet, as the spec states it (strings for ext_data/body). */
interface ExpectedPacket {
  packLen: number;
  cmd: number;
  localIp?: number;
  localPort?: number;
  clientIp?: number;
  clientPort?: number;
  connectionId?: number;
  flag: number;
  gatewayPort?: number;
  extLen: number;
  ext: string | Buffer;
  body: string | Buffer;
}

/** Decodes `h` and compares every field (including the raw pack_len / ext_len of the header). */
function expectDecoded(h: string, e: ExpectedPacket): GatewayPacket {
  const buf = fromHex(h);
  expect(buf.length).toBe(e.packLen);
  expect(buf.readUInt32BE(0)).toBe(e.packLen);
  expect(buf.readUInt32BE(24)).toBe(e.extLen);
  const p = decodeGatewayPacket(buf);
  expect({
    cmd: p.cmd,
    localIp: p.localIp,
    localPort: p.localPort,
    clientIp: p.clientIp,
    clientPort: p.clientPort,
    connectionId: p.connectionId,
    flag: p.flag,
    gatewayPort: p.gatewayPort,
  }).toEqual({
    cmd: e.cmd,
    localIp: e.localIp ?? 0,
    localPort: e.localPort ?? 0,
    clientIp: e.clientIp ?? 0,
    clientPort: e.clientPort ?? 0,
    connectionId: e.connectionId ?? 0,
    flag: e.flag,
    gatewayPort: e.gatewayPort ?? 0,
  });
  expect(p.extData.length).toBe(e.extLen);
  expect(p.extData.toString('hex')).toBe(Buffer.from(e.ext).toString('hex'));
  expect(p.body.length).toBe(e.packLen - HEAD_LEN - e.extLen);
  expect(p.body.toString('hex')).toBe(Buffer.from(e.body).toString('hex'));
  // The stream framer must cut exactly this packet out of the stream too.
  const seen: Buffer[] = [];
  new GatewayPacketReader().push(buf, (pkt) => seen.push(Buffer.from(pkt)), (big) => expect.unreachable(`oversized ${big.length}`));
  expect(seen.map((s) => s.toString('hex'))).toEqual([h]);
  return p;
}

/** Encodes a message body by §2.3 and builds the packet. */
function encodeWith(init: Omit<GatewayPacketInit, 'body' | 'flag'>, message: unknown, extraFlag = 0): Buffer {
  const { body, flag } = encodeBody(message);
  return encodeGatewayPacket({ ...init, body, flag: flag | extraFlag });
}

/** Pushes `chunks` through a fresh reader and returns copies of the packets it emits (skipped oversized ones go to `oversized`). */
function frame(chunks: Buffer[], reader = new GatewayPacketReader(), oversized: OversizedPacket[] = []): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) reader.push(c, (p) => out.push(Buffer.from(p)), (big) => oversized.push(big));
  return out;
}

/** A 28-byte header whose pack_len field says `len` (other fields zero). */
function headerWithLength(len: number): Buffer {
  const b = Buffer.alloc(HEAD_LEN);
  b.writeUInt32BE(len, 0);
  b[4] = GatewayCommand.SEND_TO_ALL;
  return b;
}

const bytewise = (b: Buffer): Buffer[] => [...b].map((x) => Buffer.from([x]));

// Common header values of TV-9 / TV-10: gateway 127.0.0.1:2900, client 192.168.1.10:54321,
// connection 1, public port 8282.
const EVENT_HEADER = {
  localIp: 2130706433,
  localPort: 2900,
  clientIp: 3232235786,
  clientPort: 54321,
  connectionId: 1,
  gatewayPort: 8282,
} as const;

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

describe('GatewayProtocol constants (§2)', () => {
  it('§2.1/§2.2/§2.6: HEAD_LEN, flags, limit and command numbers match PHP', () => {
    expect(HEAD_LEN).toBe(28);
    expect(FLAG_BODY_IS_SCALAR).toBe(0x01);
    expect(FLAG_NOT_CALL_ENCODE).toBe(0x02);
    expect(DEFAULT_MAX_PACKAGE_SIZE).toBe(10_485_760);
    expect(GatewayCommand).toMatchObject({
      ON_CONNECT: 1,
      ON_MESSAGE: 3,
      ON_CLOSE: 4,
      SEND_TO_ONE: 5,
      SEND_TO_ALL: 6,
      KICK: 7,
      DESTROY: 8,
      UPDATE_SESSION: 9,
      GET_ALL_CLIENT_SESSIONS: 10,
      IS_ONLINE: 11,
      BIND_UID: 12,
      UNBIND_UID: 13,
      SEND_TO_UID: 14,
      GET_CLIENT_ID_BY_UID: 15,
      BATCH_GET_CLIENT_ID_BY_UID: 16,
      JOIN_GROUP: 20,
      LEAVE_GROUP: 21,
      SEND_TO_GROUP: 22,
      GET_CLIENT_SESSIONS_BY_GROUP: 23,
      GET_CLIENT_COUNT_BY_GROUP: 24,
      SELECT: 25,
      GET_GROUP_ID_LIST: 26,
      UNGROUP: 27,
      BATCH_GET_CLIENT_COUNT_BY_GROUP: 28,
      WORKER_CONNECT: 200,
      PING: 201,
      GATEWAY_CLIENT_CONNECT: 202,
      GET_SESSION_BY_CLIENT_ID: 203,
      SET_SESSION: 204,
      ON_WEBSOCKET_CONNECT: 205,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// TV-1 client_id
// ---------------------------------------------------------------------------------------------

describe('TV-1 client_id (§3)', () => {
  it('TV-1: ip2long / long2ip of 127.0.0.1 and 192.168.1.20', () => {
    expect(ip2long('127.0.0.1')).toBe(2130706433);
    expect(ip2long('192.168.1.20')).toBe(3232235796);
    expect(long2ip(2130706433)).toBe('127.0.0.1');
    expect(long2ip(3232235796)).toBe('192.168.1.20');
  });

  it('TV-1 row 1: encode 127.0.0.1, 2900, 1 → 7f0000010b5400000001', () => {
    expect(encodeClientId(ip2long('127.0.0.1'), 2900, 1)).toBe('7f0000010b5400000001');
  });

  it('TV-1 row 1: decode 7f0000010b5400000001', () => {
    expect(decodeClientId('7f0000010b5400000001')).toEqual({
      localIp: 2130706433,
      localPort: 2900,
      connectionId: 1,
      address: '127.0.0.1:2900',
    });
    expect(isValidClientId('7f0000010b5400000001')).toBe(true);
  });

  it('TV-1 row 2: encode 192.168.1.20, 2901, 4294967295 → c0a801140b55ffffffff', () => {
    expect(encodeClientId(ip2long('192.168.1.20'), 2901, 4294967295)).toBe('c0a801140b55ffffffff');
  });

  it('TV-1 row 2: decode c0a801140b55ffffffff → address 192.168.1.20:2901', () => {
    expect(decodeClientId('c0a801140b55ffffffff')).toEqual({
      localIp: 3232235796,
      localPort: 2901,
      connectionId: 4294967295,
      address: '192.168.1.20:2901',
    });
    expect(isValidClientId('c0a801140b55ffffffff')).toBe(true);
  });

  it('TV-12 client_id 7f0000014dbc00000001 addresses 127.0.0.1:19900, connection 1', () => {
    expect(decodeClientId('7f0000014dbc00000001')).toEqual({
      localIp: 2130706433,
      localPort: 19900,
      connectionId: 1,
      address: '127.0.0.1:19900',
    });
  });

  describe('§3 validation: decodeClientId throws InvalidClientIdError', () => {
    const bad: Array<[string, unknown]> = [
      ['empty string', ''],
      ["'abc'", 'abc'],
      ['19 characters', '7f0000010b540000000'],
      ['21 characters', '7f0000010b54000000010'],
      ['20 characters with a g', '7f0000010b540000000g'],
      ['a number', 12345678901234567890],
      ['null', null],
    ];
    for (const [name, value] of bad) {
      it(`§3 invalid client_id: ${name}`, () => {
        let caught: unknown;
        try {
          decodeClientId(value);
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(InvalidClientIdError);
        expect((caught as InvalidClientIdError).message).toContain('20 hexadecimal');
        expect((caught as InvalidClientIdError).clientId).toBe(value);
        expect(isValidClientId(value)).toBe(false);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// TV-2 .. TV-11, TV-12, TV-14, TV-16, TV-19 GatewayProtocol packets
// ---------------------------------------------------------------------------------------------

describe('TV-2 CMD_SEND_TO_ALL "hello" flag 1 (captured)', () => {
  const H = '0000002106000000000000000000000000000000000100000000000068656c6c6f';
  it('TV-2 encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ALL }, 'hello'))).toBe(H);
  });
  it('TV-2 decode', () => {
    const p = expectDecoded(H, { packLen: 33, cmd: 6, flag: 1, extLen: 0, ext: '', body: 'hello' });
    expect(Buffer.from(decodeBody(p) as Buffer).toString()).toBe('hello');
  });
});

describe('TV-3 CMD_SEND_TO_ALL raw "hello" flag 3', () => {
  const H = '0000002106000000000000000000000000000000000300000000000068656c6c6f';
  it('TV-3 encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ALL }, 'hello', FLAG_NOT_CALL_ENCODE))).toBe(H);
  });
  it('TV-3 decode', () => {
    expectDecoded(H, { packLen: 33, cmd: 6, flag: 3, extLen: 0, ext: '', body: 'hello' });
  });
});

describe('TV-4 CMD_SEND_TO_ALL exclude {1,7} "hi"', () => {
  const H =
    '000000370600000000000000000000000000000000010000000000197b226578636c756465223a7b2231223a312c2237223a377d7d6869';
  const EXT = '{"exclude":{"1":1,"7":7}}';
  it('TV-4 encode', () => {
    const ext = utf8(JSON.stringify({ exclude: { 1: 1, 7: 7 } }));
    expect(ext.toString()).toBe(EXT);
    expect(ext.length).toBe(25);
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ALL, extData: ext }, 'hi'))).toBe(H);
  });
  it('TV-4 decode', () => {
    const p = expectDecoded(H, { packLen: 55, cmd: 6, flag: 1, extLen: 25, ext: EXT, body: 'hi' });
    expect(JSON.parse(p.extData.toString())).toEqual({ exclude: { 1: 1, 7: 7 } });
  });
});

describe('TV-5 CMD_SEND_TO_ALL connections {3,9} "hi"', () => {
  const H =
    '0000003b06000000000000000000000000000000000100000000001d7b22636f6e6e656374696f6e73223a7b2233223a332c2239223a397d7d6869';
  const EXT = '{"connections":{"3":3,"9":9}}';
  it('TV-5 encode', () => {
    const ext = utf8(JSON.stringify({ connections: { 3: 3, 9: 9 } }));
    expect(ext.toString()).toBe(EXT);
    expect(ext.length).toBe(29);
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ALL, extData: ext }, 'hi'))).toBe(H);
  });
  it('TV-5 decode', () => {
    expectDecoded(H, { packLen: 59, cmd: 6, flag: 1, extLen: 29, ext: EXT, body: 'hi' });
  });
});

describe('TV-6 CMD_SEND_TO_UID ["u1",42] "msg"', () => {
  const H = '000000280e00000000000000000000000000000000010000000000095b227531222c34325d6d7367';
  it('TV-6 encode', () => {
    const ext = utf8(JSON.stringify(['u1', 42]));
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_UID, extData: ext }, 'msg'))).toBe(H);
  });
  it('TV-6 decode', () => {
    const p = expectDecoded(H, { packLen: 40, cmd: 14, flag: 1, extLen: 9, ext: '["u1",42]', body: 'msg' });
    expect(JSON.parse(p.extData.toString())).toEqual(['u1', 42]);
  });
});

describe('TV-7 CMD_JOIN_GROUP connection 1 "room1"', () => {
  const H = '00000021140000000000000000000000000000000101000000000005726f6f6d31';
  it('TV-7 encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.JOIN_GROUP, connectionId: 1, extData: utf8('room1') }, ''))).toBe(H);
  });
  it('TV-7 decode', () => {
    expectDecoded(H, { packLen: 33, cmd: 20, connectionId: 1, flag: 1, extLen: 5, ext: 'room1', body: '' });
  });
});

describe('TV-8 CMD_SEND_TO_GROUP', () => {
  const H1 =
    '000000451600000000000000000000000000000000010000000000277b2267726f7570223a5b22726f6f6d31222c325d2c226578636c756465223a7b2231223a317d7d796f';
  const EXT1 = '{"group":["room1",2],"exclude":{"1":1}}';
  const H2 =
    '000000401600000000000000000000000000000000010000000000227b2267726f7570223a5b22726f6f6d31225d2c226578636c756465223a6e756c6c7d796f';
  const EXT2 = '{"group":["room1"],"exclude":null}';
  const H3 =
    '000000491600000000000000000000000000000000030000000000257b2267726f7570223a5b22726f6f6d31225d2c226578636c756465223a7b2231223a317d7d746f2d67726f7570';
  const EXT3 = '{"group":["room1"],"exclude":{"1":1}}';

  it('TV-8 groups ["room1",2] exclude {1} "yo": encode', () => {
    const ext = utf8(JSON.stringify({ group: ['room1', 2], exclude: { 1: 1 } }));
    expect(ext.toString()).toBe(EXT1);
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_GROUP, extData: ext }, 'yo'))).toBe(H1);
  });
  it('TV-8 groups ["room1",2] exclude {1} "yo": decode', () => {
    expectDecoded(H1, { packLen: 69, cmd: 22, flag: 1, extLen: 39, ext: EXT1, body: 'yo' });
  });
  it('TV-8 group ["room1"] exclude null "yo": encode', () => {
    const ext = utf8(JSON.stringify({ group: ['room1'], exclude: null }));
    expect(ext.toString()).toBe(EXT2);
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_GROUP, extData: ext }, 'yo'))).toBe(H2);
  });
  it('TV-8 group ["room1"] exclude null "yo": decode', () => {
    expectDecoded(H2, { packLen: 64, cmd: 22, flag: 1, extLen: 34, ext: EXT2, body: 'yo' });
  });
  it('TV-8 (captured) sendToGroup raw flag 3 "to-group": encode', () => {
    const ext = utf8(JSON.stringify({ group: ['room1'], exclude: { 1: 1 } }));
    expect(ext.toString()).toBe(EXT3);
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_GROUP, extData: ext }, 'to-group', FLAG_NOT_CALL_ENCODE))).toBe(
      H3,
    );
  });
  it('TV-8 (captured) sendToGroup raw flag 3 "to-group": decode', () => {
    expectDecoded(H3, { packLen: 73, cmd: 22, flag: 3, extLen: 37, ext: EXT3, body: 'to-group' });
  });
});

describe('TV-9 CMD_ON_CONNECT gateway → worker', () => {
  const H = '0000001c017f0000010b54c0a8010ad4310000000101205a00000000';
  it('TV-9 encode', () => {
    const init = {
      cmd: GatewayCommand.ON_CONNECT,
      localIp: ip2long('127.0.0.1'),
      localPort: 2900,
      clientIp: ip2long('192.168.1.10'),
      clientPort: 54321,
      connectionId: 1,
      gatewayPort: 8282,
      extData: Buffer.alloc(0),
    };
    expect(hex(encodeWith(init, ''))).toBe(H);
  });
  it('TV-9 decode', () => {
    const p = expectDecoded(H, { packLen: 28, cmd: 1, ...EVENT_HEADER, flag: 1, extLen: 0, ext: '', body: '' });
    expect(long2ip(p.localIp)).toBe('127.0.0.1');
    expect(long2ip(p.clientIp)).toBe('192.168.1.10');
    expect(encodeClientId(p.localIp, p.localPort, p.connectionId)).toBe('7f0000010b5400000001');
  });
});

describe('TV-10 CMD_ON_MESSAGE "ping" with session', () => {
  const H =
    '00000049037f0000010b54c0a8010ad4310000000101205a00000029613a323a7b733a333a22756964223b693a353b733a343a226e616d65223b733a333a22546f6d223b7d70696e67';
  const EXT = 'a:2:{s:3:"uid";i:5;s:4:"name";s:3:"Tom";}';
  it('TV-10 encode', () => {
    const ext = phpSerialize({ uid: 5, name: 'Tom' });
    expect(ext.toString()).toBe(EXT);
    expect(ext.length).toBe(41);
    expect(hex(encodeWith({ cmd: GatewayCommand.ON_MESSAGE, ...EVENT_HEADER, extData: ext }, 'ping'))).toBe(H);
  });
  it('TV-10 decode', () => {
    const p = expectDecoded(H, { packLen: 73, cmd: 3, ...EVENT_HEADER, flag: 1, extLen: 41, ext: EXT, body: 'ping' });
    expect(phpUnserialize(p.extData)).toEqual({ uid: 5, name: 'Tom' });
    expect(Buffer.from(decodeBody(p) as Buffer).toString()).toBe('ping');
  });
});

describe('TV-11 CMD_WORKER_CONNECT', () => {
  const H =
    '00000057c800000000000000000000000000000000010000000000007b22776f726b65725f6b6579223a2243686174427573696e657373576f726b65723a30222c227365637265745f6b6579223a22733363723374227d';
  const BODY = '{"worker_key":"ChatBusinessWorker:0","secret_key":"s3cr3t"}';
  const HC =
    '0000004ac800000000000000000000000000000000010000000000007b22776f726b65725f6b6579223a2250687042573a30222c227365637265745f6b6579223a22733363723374227d';
  const BODYC = '{"worker_key":"PhpBW:0","secret_key":"s3cr3t"}';

  it('TV-11 ChatBusinessWorker:0: encode', () => {
    const body = JSON.stringify({ worker_key: 'ChatBusinessWorker:0', secret_key: 's3cr3t' });
    expect(body).toBe(BODY);
    expect(hex(encodeWith({ cmd: GatewayCommand.WORKER_CONNECT }, body))).toBe(H);
  });
  it('TV-11 ChatBusinessWorker:0: decode', () => {
    const p = expectDecoded(H, { packLen: 87, cmd: 200, flag: 1, extLen: 0, ext: '', body: BODY });
    expect(JSON.parse(p.body.toString())).toEqual({ worker_key: 'ChatBusinessWorker:0', secret_key: 's3cr3t' });
  });
  it('TV-11 (captured) PhpBW:0: encode', () => {
    const body = JSON.stringify({ worker_key: 'PhpBW:0', secret_key: 's3cr3t' });
    expect(body).toBe(BODYC);
    expect(hex(encodeWith({ cmd: GatewayCommand.WORKER_CONNECT }, body))).toBe(HC);
  });
  it('TV-11 (captured) PhpBW:0: decode', () => {
    expectDecoded(HC, { packLen: 74, cmd: 200, flag: 1, extLen: 0, ext: '', body: BODYC });
  });
});

describe('TV-12 CMD_GATEWAY_CLIENT_CONNECT + isOnline request (captured)', () => {
  const AUTH = '00000033ca00000000000000000000000000000000010000000000007b227365637265745f6b6579223a22733363723374227d';
  const AUTH_BODY = '{"secret_key":"s3cr3t"}';
  const IS_ONLINE = '0000001c0b0000000000000000000000000000000101000000000000';
  const REQUEST = AUTH + IS_ONLINE;

  it('TV-12 auth packet: encode', () => {
    const body = JSON.stringify({ secret_key: 's3cr3t' });
    expect(body).toBe(AUTH_BODY);
    expect(hex(encodeWith({ cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT }, body))).toBe(AUTH);
  });
  it('TV-12 auth packet: decode', () => {
    expectDecoded(AUTH, { packLen: 51, cmd: 202, flag: 1, extLen: 0, ext: '', body: AUTH_BODY });
  });
  it('TV-12 CMD_IS_ONLINE connection 1: encode and decode', () => {
    const { connectionId } = decodeClientId('7f0000014dbc00000001');
    expect(hex(encodeWith({ cmd: GatewayCommand.IS_ONLINE, connectionId }, ''))).toBe(IS_ONLINE);
    expectDecoded(IS_ONLINE, { packLen: 28, cmd: 11, connectionId: 1, flag: 1, extLen: 0, ext: '', body: '' });
  });
  it('TV-12 full request bytes: auth followed by isOnline in one buffer', () => {
    const auth = encodeWith({ cmd: GatewayCommand.GATEWAY_CLIENT_CONNECT }, JSON.stringify({ secret_key: 's3cr3t' }));
    const query = encodeWith({ cmd: GatewayCommand.IS_ONLINE, connectionId: 1 }, '');
    expect(hex(Buffer.concat([auth, query]))).toBe(REQUEST);
  });
  it('TV-12 framing: the whole request in one chunk yields exactly the two packets', () => {
    const reader = new GatewayPacketReader();
    const packets = frame([fromHex(REQUEST)], reader);
    expect(packets.map((p) => p.toString('hex'))).toEqual([AUTH, IS_ONLINE]);
    expect(reader.bufferedBytes).toBe(0);
    expect(decodeGatewayPacket(packets[0]!).cmd).toBe(202);
    expect(decodeGatewayPacket(packets[1]!).cmd).toBe(11);
  });
  it('TV-12 framing: the whole request byte by byte yields exactly the two packets', () => {
    const reader = new GatewayPacketReader();
    const packets = frame(bytewise(fromHex(REQUEST)), reader);
    expect(packets.map((p) => p.toString('hex'))).toEqual([AUTH, IS_ONLINE]);
    expect(reader.bufferedBytes).toBe(0);
  });
  it('TV-12 framing: split inside the first header and inside the second packet', () => {
    const all = fromHex(REQUEST);
    const packets = frame([all.subarray(0, 3), all.subarray(3, 60), all.subarray(60)]);
    expect(packets.map((p) => p.toString('hex'))).toEqual([AUTH, IS_ONLINE]);
  });
});

describe('TV-14 CMD_KICK', () => {
  const H_NULL = '0000001e0700000000000000000000000000000007000000000000004e3b';
  const H_BYE = '0000001f070000000000000000000000000000000701000000000000627965';
  it('TV-14 closeClient(7) with null message: encode (flag 0, body N;)', () => {
    expect(encodeBody(null)).toEqual({ body: utf8('N;'), flag: 0 });
    expect(encodeBody(undefined)).toEqual({ body: utf8('N;'), flag: 0 });
    expect(hex(encodeWith({ cmd: GatewayCommand.KICK, connectionId: 7 }, null))).toBe(H_NULL);
  });
  it('TV-14 closeClient(7) with null message: decode', () => {
    const p = expectDecoded(H_NULL, { packLen: 30, cmd: 7, connectionId: 7, flag: 0, extLen: 0, ext: '', body: 'N;' });
    expect(decodeBody(p)).toBeNull();
  });
  it('TV-14 kick 7 with "bye": encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.KICK, connectionId: 7 }, 'bye'))).toBe(H_BYE);
  });
  it('TV-14 kick 7 with "bye": decode', () => {
    const p = expectDecoded(H_BYE, { packLen: 31, cmd: 7, connectionId: 7, flag: 1, extLen: 0, ext: '', body: 'bye' });
    expect(Buffer.from(decodeBody(p) as Buffer).toString()).toBe('bye');
  });
});

describe('TV-16 CMD_SEND_TO_ONE scalar bodies', () => {
  const H_123 = '0000001f050000000000000000000000000000000101000000000000313233';
  const H_FALSE = '0000001c050000000000000000000000000000000101000000000000';
  it('TV-16 int 123 → body "123", flag 1: encode via encodeBody', () => {
    expect(encodeBody(123)).toEqual({ body: utf8('123'), flag: FLAG_BODY_IS_SCALAR });
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ONE, connectionId: 1 }, 123))).toBe(H_123);
  });
  it('TV-16 int 123: decode', () => {
    expectDecoded(H_123, { packLen: 31, cmd: 5, connectionId: 1, flag: 1, extLen: 0, ext: '', body: '123' });
  });
  it('TV-16 false → empty body, flag 1: encode via encodeBody', () => {
    expect(encodeBody(false)).toEqual({ body: Buffer.alloc(0), flag: FLAG_BODY_IS_SCALAR });
    expect(encodeBody(true)).toEqual({ body: utf8('1'), flag: FLAG_BODY_IS_SCALAR });
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ONE, connectionId: 1 }, false))).toBe(H_FALSE);
  });
  it('TV-16 false: decode', () => {
    expectDecoded(H_FALSE, { packLen: 28, cmd: 5, connectionId: 1, flag: 1, extLen: 0, ext: '', body: '' });
  });
});

describe('TV-19 CMD_PING gateway → worker', () => {
  const H = '0000001cc90000000000000000000000000000000001000000000000';
  it('TV-19 encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.PING }, ''))).toBe(H);
  });
  it('TV-19 decode', () => {
    expectDecoded(H, { packLen: 28, cmd: 201, flag: 1, extLen: 0, ext: '', body: '' });
  });
});

// ---------------------------------------------------------------------------------------------
// TV-13 … TV-25: queries, sessions, replies (§2.9, §5.7, §5.11)
// ---------------------------------------------------------------------------------------------

/** A §2.9 reply: uint32 BE length of the serialized bytes, then the bytes. */
function replyBytes(value: unknown): Buffer {
  const body = phpSerialize(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Reads a §2.9 reply vector: checks the length prefix, returns the serialized bytes. */
function readReply(h: string): Buffer {
  const buf = fromHex(h);
  expect(buf.readUInt32BE(0)).toBe(buf.length - 4);
  return buf.subarray(4);
}

/** The session of TV-20's captured reply (TV-28's live SET + UPDATE result). */
const TV20_SESSION = 'a:3:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"b";b:1;}';

/** A command packet as PHP encodes it: flag 1, ext_data, empty body. */
const commandPacket = (cmd: number, ext: string | Buffer = '', connectionId = 0) =>
  encodeWith({ cmd, connectionId, extData: Buffer.from(ext) }, '');

describe('TV-13 CMD_GET_ALL_CLIENT_SESSIONS', () => {
  const REQ = '0000001c0a0000000000000000000000000000000001000000000000';
  const REPLY = '00000031613a323a7b693a313b733a32303a22613a313a7b733a333a22756964223b693a353b7d223b693a323b733a303a22223b7d';
  it('TV-13 request: encode and decode', () => {
    expect(hex(commandPacket(GatewayCommand.GET_ALL_CLIENT_SESSIONS))).toBe(REQ);
    expectDecoded(REQ, { packLen: 28, cmd: 10, flag: 1, extLen: 0, ext: '', body: '' });
  });
  it('TV-13 reply: a session string inside a serialized array (encode)', () => {
    const value = PhpArray.from<unknown>([
      [1, phpSerialize({ uid: 5 }).toString()],
      [2, ''],
    ]);
    expect(hex(replyBytes(value))).toBe(REPLY);
  });
  it('TV-13 reply: decode', () => {
    const value = phpUnserializeExact(readReply(REPLY)) as PhpArray;
    expect([...value.keys()]).toEqual([1, 2]);
    expect(value.get(1)).toBe('a:1:{s:3:"uid";i:5;}');
    expect(phpUnserialize(value.get(1) as string)).toEqual({ uid: 5 });
    expect(value.get(2)).toBe('');
    expect(hex(replyBytes(value))).toBe(REPLY);
  });
});

describe('TV-15 CMD_SEND_TO_ONE with an array body (flag 0, serialized)', () => {
  const H = '00000043050000000000000000000000000000000100000000000000613a323a7b733a343a2274797065223b733a333a22736179223b733a313a226e223b693a313b7d';
  const BODY = 'a:2:{s:4:"type";s:3:"say";s:1:"n";i:1;}';
  it('TV-15 encode', () => {
    expect(hex(encodeWith({ cmd: GatewayCommand.SEND_TO_ONE, connectionId: 1 }, { type: 'say', n: 1 }))).toBe(H);
  });
  it('TV-15 decode', () => {
    const p = expectDecoded(H, { packLen: 67, cmd: 5, connectionId: 1, flag: 0, extLen: 0, ext: '', body: BODY });
    expect(decodeBody(p)).toEqual({ type: 'say', n: 1 });
  });
});

describe('TV-17 CMD_UPDATE_SESSION connection 1, ext a:1:{s:5:"score";i:10;}', () => {
  const H = '00000033090000000000000000000000000000000101000000000017613a313a7b733a353a2273636f7265223b693a31303b7d';
  const EXT = 'a:1:{s:5:"score";i:10;}';
  it('TV-17 encode', () => {
    expect(phpSerialize({ score: 10 }).toString()).toBe(EXT);
    expect(hex(commandPacket(GatewayCommand.UPDATE_SESSION, phpSerialize({ score: 10 }), 1))).toBe(H);
  });
  it('TV-17 decode', () => {
    const p = expectDecoded(H, { packLen: 51, cmd: 9, connectionId: 1, flag: 1, extLen: 23, ext: EXT, body: '' });
    expect(phpUnserialize(p.extData)).toEqual({ score: 10 });
  });
});

describe('TV-18 CMD_SET_SESSION written back by a real PHP BusinessWorker (captured)', () => {
  const H =
    '0000005fcc0000000000000000000000000000000701000000000043613a323a7b733a313a226e223b693a313b733a363a226e6573746564223b613a313a7b733a313a2261223b613a323a7b693a303b693a313b693a313b693a323b7d7d7d';
  const EXT = 'a:2:{s:1:"n";i:1;s:6:"nested";a:1:{s:1:"a";a:2:{i:0;i:1;i:1;i:2;}}}';
  it('TV-18 encode', () => {
    const session = { n: 1, nested: { a: [1, 2] } };
    expect(phpSerialize(session).toString()).toBe(EXT);
    expect(hex(commandPacket(GatewayCommand.SET_SESSION, phpSerialize(session), 7))).toBe(H);
  });
  it('TV-18 decode', () => {
    const p = expectDecoded(H, { packLen: 95, cmd: 204, connectionId: 7, flag: 1, extLen: 67, ext: EXT, body: '' });
    expect(phpUnserialize(p.extData)).toEqual({ n: 1, nested: { a: [1, 2] } });
  });
});

describe('TV-20 CMD_SELECT', () => {
  const ALL = '0000003919000000000000000000000000000000000100000000001d7b226669656c6473223a5b22756964225d2c227768657265223a5b5d7d';
  const OF_1 = '000000501900000000000000000000000000000000010000000000347b226669656c6473223a5b22756964225d2c227768657265223a7b22636f6e6e656374696f6e5f6964223a7b2231223a317d7d7d';
  const BY_GROUP = '0000004b19000000000000000000000000000000000100000000002f7b226669656c6473223a5b22756964225d2c227768657265223a7b2267726f757073223a5b22726f6f6d31225d7d7d';
  const REPLY =
    '000000b2613a313a7b693a313b613a333a7b733a333a22756964223b733a323a227531223b733a363a2267726f757073223b613a323a7b733a323a226731223b733a323a226731223b693a3132333b733a333a22313233223b7d733a373a2273657373696f6e223b733a36383a22613a333a7b733a313a2261223b693a313b733a313a226c223b613a333a7b693a303b693a393b693a313b693a323b693a323b693a333b7d733a313a2262223b623a313b7d223b7d7d';

  it('TV-20 (captured) getAllClientIdList / getAllUidList request: encode (selectExt) and decode', () => {
    const ext = selectExt(['uid']);
    expect(ext).toBe('{"fields":["uid"],"where":[]}');
    expect(hex(commandPacket(GatewayCommand.SELECT, ext))).toBe(ALL);
    expectDecoded(ALL, { packLen: 57, cmd: 25, flag: 1, extLen: 29, ext, body: '' });
  });
  it('TV-20 (captured) getUidByClientId(client 1) request: encode and decode', () => {
    const ext = selectExt(['uid'], { connection_id: [1] });
    expect(ext).toBe('{"fields":["uid"],"where":{"connection_id":{"1":1}}}');
    expect(hex(commandPacket(GatewayCommand.SELECT, ext))).toBe(OF_1);
    expectDecoded(OF_1, { packLen: 80, cmd: 25, flag: 1, extLen: 52, ext, body: '' });
  });
  it('TV-20 getUidListByGroup("room1") request: encode and decode', () => {
    const ext = selectExt(['uid'], { groups: ['room1'] });
    expect(ext).toBe('{"fields":["uid"],"where":{"groups":["room1"]}}');
    expect(hex(commandPacket(GatewayCommand.SELECT, ext))).toBe(BY_GROUP);
    expectDecoded(BY_GROUP, { packLen: 75, cmd: 25, flag: 1, extLen: 47, ext, body: '' });
  });
  it('TV-20 (captured) reply: encode from the values (int key 123, string value "123")', () => {
    const row = PhpArray.from<unknown>([
      ['uid', 'u1'],
      ['groups', PhpArray.from([['g1', 'g1'], ['123', '123']])],
      ['session', TV20_SESSION],
    ]);
    expect(hex(replyBytes(PhpArray.from([[1, row]])))).toBe(REPLY);
  });
  it('TV-20 (captured) reply: decode', () => {
    const value = phpUnserializeExact(readReply(REPLY)) as PhpArray;
    const row = value.get(1) as PhpArray;
    expect(row.get('uid')).toBe('u1');
    const groups = row.get('groups') as PhpArray;
    expect([...groups.entries()]).toEqual([['g1', 'g1'], [123, '123']]);
    expect(row.get('session')).toBe(TV20_SESSION);
    expect(hex(replyBytes(value))).toBe(REPLY);
  });
  it('TV-20 example reply with a null uid and never-joined groups: encode and decode', () => {
    const bytes = 'a:2:{i:1;a:2:{s:3:"uid";s:2:"u1";s:6:"groups";a:1:{s:5:"room1";s:5:"room1";}}i:3;a:2:{s:3:"uid";N;s:6:"groups";N;}}';
    const value = PhpArray.from<unknown>([
      [1, PhpArray.from<unknown>([['uid', 'u1'], ['groups', PhpArray.from([['room1', 'room1']])]])],
      [3, PhpArray.from<unknown>([['uid', null], ['groups', null]])],
    ]);
    expect(phpSerialize(value).toString()).toBe(bytes);
    expect(phpSerialize(phpUnserializeExact(bytes)).toString()).toBe(bytes);
  });
});

describe('TV-21 CMD_GET_SESSION_BY_CLIENT_ID (connection 1)', () => {
  const REQ = '0000001ccb0000000000000000000000000000000101000000000000';
  it('TV-21 request: encode and decode', () => {
    expect(hex(commandPacket(GatewayCommand.GET_SESSION_BY_CLIENT_ID, '', 1))).toBe(REQ);
    expectDecoded(REQ, { packLen: 28, cmd: 203, connectionId: 1, flag: 1, extLen: 0, ext: '', body: '' });
  });
  it('TV-21 replies: unknown client N;, empty session a:0:{}, a stored session verbatim', () => {
    expect(hex(replyBytes(null))).toBe('000000024e3b');
    expect(hex(replyBytes({}))).toBe('00000006613a303a7b7d');
    expect(phpUnserialize(readReply('000000024e3b'))).toBeNull();
    // The stored string itself follows the length (0x44 = 68 bytes for TV-20's session).
    const stored = Buffer.concat([Buffer.from([0, 0, 0, 0x44]), utf8(TV20_SESSION)]);
    expect(hex(stored).startsWith('00000044613a333a7b')).toBe(true);
    expect(hex(stored).endsWith('7d')).toBe(true);
    expect(phpUnserialize(readReply(hex(stored)))).toEqual({ a: 1, l: [9, 2, 3], b: true });
  });
});

describe('TV-22 count request and reply', () => {
  const REQ = '0000001c180000000000000000000000000000000001000000000000';
  it('TV-22 CMD_GET_CLIENT_COUNT_BY_GROUP with ext "": encode and decode', () => {
    expect(hex(commandPacket(GatewayCommand.GET_CLIENT_COUNT_BY_GROUP))).toBe(REQ);
    expectDecoded(REQ, { packLen: 28, cmd: 24, flag: 1, extLen: 0, ext: '', body: '' });
  });
  it('TV-22 reply 42: encode and decode', () => {
    expect(hex(replyBytes(42))).toBe('00000005693a34323b');
    expect(phpUnserialize(readReply('00000005693a34323b'))).toBe(42);
  });
});

describe('TV-23 CMD_GET_GROUP_ID_LIST reply (captured; groups "g1" and "123")', () => {
  const REPLY = '0000001d613a323a7b693a303b733a323a226731223b693a313b693a3132333b7d';
  it('TV-23 encode: numeric groups as ints', () => {
    expect(hex(replyBytes(['g1', normalizePhpKey('123')]))).toBe(REPLY);
  });
  it('TV-23 decode', () => {
    expect(phpUnserialize(readReply(REPLY))).toEqual(['g1', 123]);
  });
});

describe('TV-24 batch commands', () => {
  const REQ = '0000002710000000000000000000000000000000000100000000000b5b227531222c227532225d';
  const REPLY = '00000034613a323a7b733a323a227531223b613a323a7b693a303b693a313b693a313b693a353b7d733a323a227532223b613a303a7b7d7d';
  const CAPTURED = '00000030613a323a7b733a323a227531223b613a313a7b693a303b693a313b7d733a363a226e6f626f6479223b613a303a7b7d7d';
  const COUNTS = '0000002c613a333a7b733a323a226731223b693a313b693a3132333b693a313b733a343a226e6f6e65223b693a303b7d';
  it('TV-24 CMD_BATCH_GET_CLIENT_ID_BY_UID ["u1","u2"] request: encode and decode', () => {
    expect(hex(commandPacket(GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID, JSON.stringify(['u1', 'u2'])))).toBe(REQ);
    expectDecoded(REQ, { packLen: 39, cmd: 16, flag: 1, extLen: 11, ext: '["u1","u2"]', body: '' });
  });
  it('TV-24 reply {u1:[1,5], u2:[]}: encode and decode', () => {
    expect(hex(replyBytes({ u1: [1, 5], u2: [] }))).toBe(REPLY);
    expect(phpUnserialize(readReply(REPLY))).toEqual({ u1: [1, 5], u2: [] });
  });
  it('TV-24 (captured) reply for ["u1","nobody"]: encode and decode', () => {
    expect(hex(replyBytes({ u1: [1], nobody: [] }))).toBe(CAPTURED);
    expect(phpUnserialize(readReply(CAPTURED))).toEqual({ u1: [1], nobody: [] });
  });
  it('TV-24 (captured) CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP reply for ["g1","123","none"]: encode and decode', () => {
    expect(hex(replyBytes(PhpArray.from([['g1', 1], ['123', 1], ['none', 0]])))).toBe(COUNTS);
    const value = phpUnserializeExact(readReply(COUNTS)) as PhpArray;
    expect([...value.entries()]).toEqual([['g1', 1], [123, 1], ['none', 0]]);
  });
});

describe('TV-25 CMD_ON_WEBSOCKET_CONNECT packet (workerman 5 Request class)', () => {
  // The packet from the values the spec gives; mapping a handshake to these values is the gateway's job.
  const HEAD = '00000349cd7f0000010b54c0a8010ad4310000000100205a00000000';
  const BODY =
    'a:3:{s:3:"get";a:2:{s:5:"token";s:3:"abc";s:4:"list";a:2:{i:0;s:1:"1";i:1;s:1:"2";}}s:6:"server";a:16:{s:12:"QUERY_STRING";s:27:"token=abc&list[]=1&list[]=2";s:14:"REQUEST_METHOD";s:3:"GET";s:11:"REQUEST_URI";s:31:"/ws?token=abc&list[]=1&list[]=2";s:15:"SERVER_PROTOCOL";s:8:"HTTP/1.1";s:11:"SERVER_NAME";s:16:"example.com:8282";s:12:"CONTENT_TYPE";N;s:11:"REMOTE_ADDR";s:12:"192.168.1.10";s:11:"REMOTE_PORT";i:54321;s:11:"SERVER_PORT";i:8282;s:9:"HTTP_HOST";s:16:"example.com:8282";s:12:"HTTP_UPGRADE";s:9:"websocket";s:15:"HTTP_CONNECTION";s:7:"Upgrade";s:22:"HTTP_SEC_WEBSOCKET_KEY";s:24:"dGhlIHNhbXBsZSBub25jZQ==";s:26:"HTTP_SEC_WEBSOCKET_VERSION";s:2:"13";s:11:"HTTP_COOKIE";s:23:"sid=xyz%201; theme=dark";s:15:"HTTP_USER_AGENT";s:4:"test";}s:6:"cookie";a:2:{s:3:"sid";s:7:"xyz%201";s:5:"theme";s:4:"dark";}}';
  const VALUE = {
    get: { token: 'abc', list: ['1', '2'] },
    server: {
      QUERY_STRING: 'token=abc&list[]=1&list[]=2',
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/ws?token=abc&list[]=1&list[]=2',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_NAME: 'example.com:8282',
      CONTENT_TYPE: null,
      REMOTE_ADDR: '192.168.1.10',
      REMOTE_PORT: 54321,
      SERVER_PORT: 8282,
      HTTP_HOST: 'example.com:8282',
      HTTP_UPGRADE: 'websocket',
      HTTP_CONNECTION: 'Upgrade',
      HTTP_SEC_WEBSOCKET_KEY: 'dGhlIHNhbXBsZSBub25jZQ==',
      HTTP_SEC_WEBSOCKET_VERSION: '13',
      HTTP_COOKIE: 'sid=xyz%201; theme=dark',
      HTTP_USER_AGENT: 'test',
    },
    cookie: { sid: 'xyz%201', theme: 'dark' },
  };
  it('TV-25 body: 813 bytes, serialized from the request values', () => {
    expect(BODY.length).toBe(813);
    expect(phpSerialize(VALUE).toString()).toBe(BODY);
  });
  it('TV-25 encode: header (flag 0, session "") + body, 841 bytes', () => {
    const packet = encodeWith({ cmd: GatewayCommand.ON_WEBSOCKET_CONNECT, ...EVENT_HEADER }, VALUE);
    expect(packet.length).toBe(841);
    expect(hex(packet)).toBe(HEAD + utf8(BODY).toString('hex'));
  });
  it('TV-25 decode', () => {
    const p = expectDecoded(HEAD + utf8(BODY).toString('hex'), {
      packLen: 841,
      cmd: 205,
      ...EVENT_HEADER,
      flag: 0,
      extLen: 0,
      ext: '',
      body: BODY,
    });
    expect(decodeBody(p)).toEqual(VALUE);
  });
});

// ---------------------------------------------------------------------------------------------
// §2.4 framing limits
// ---------------------------------------------------------------------------------------------

describe('§2.4 GatewayPacketReader limits', () => {
  for (const len of [0, 27]) {
    it(`§2.4 pack_len ${len} throws GatewayProtocolError (one chunk)`, () => {
      expect(() => frame([headerWithLength(len)])).toThrow(GatewayProtocolError);
    });
    it(`§2.4 pack_len ${len} throws GatewayProtocolError (byte by byte)`, () => {
      expect(() => frame(bytewise(headerWithLength(len)))).toThrow(GatewayProtocolError);
    });
  }
  for (const split of ['one chunk', 'byte by byte'] as const) {
    it(`§2.4 pack_len 10,485,761 is reported and skipped, not thrown (${split})`, () => {
      const oversized: OversizedPacket[] = [];
      const reader = new GatewayPacketReader();
      const header = headerWithLength(10_485_761);
      expect(frame(split === 'one chunk' ? [header] : bytewise(header), reader, oversized)).toEqual([]);
      expect(oversized).toEqual([{ cmd: GatewayCommand.SEND_TO_ALL, connectionId: 0, length: 10_485_761 }]);
      expect(reader.bufferedBytes).toBe(HEAD_LEN);
    });
  }

  it('§2.4 pack_len 27 after a valid packet: the valid one is delivered, then it throws', () => {
    const out: string[] = [];
    const reader = new GatewayPacketReader();
    const good = fromHex('0000001cc90000000000000000000000000000000001000000000000');
    expect(() => reader.push(Buffer.concat([good, headerWithLength(27)]), (p) => out.push(p.toString('hex')), () => undefined)).toThrow(
      GatewayProtocolError,
    );
    expect(out).toEqual([good.toString('hex')]);
  });

  it('§2.4 pack_len exactly 28 and exactly 10,485,760 are accepted', () => {
    expect(frame([headerWithLength(28)])).toHaveLength(1);
    const reader = new GatewayPacketReader();
    expect(frame([headerWithLength(10_485_760)], reader)).toHaveLength(0);
    expect(reader.bufferedBytes).toBe(HEAD_LEN);
  });

  it('§2.4 the limit is configurable', () => {
    const oversized: OversizedPacket[] = [];
    expect(frame([Buffer.concat([headerWithLength(100), Buffer.alloc(72)])], new GatewayPacketReader(99), oversized)).toHaveLength(0);
    expect(oversized.map((o) => o.length)).toEqual([100]);
    expect(frame([Buffer.concat([headerWithLength(100), Buffer.alloc(72)])], new GatewayPacketReader(100))).toHaveLength(1);
  });

  it('§2.4 ext_len larger than the packet is clamped on decode', () => {
    const buf = encodeGatewayPacket({ cmd: GatewayCommand.JOIN_GROUP, connectionId: 1, extData: utf8('room1'), flag: 1 });
    buf.writeUInt32BE(1000, 24);
    const p = decodeGatewayPacket(buf);
    expect(p.extData.toString()).toBe('room1');
    expect(p.body.length).toBe(0);

    const withBody = encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ALL, extData: utf8('ab'), body: utf8('cd'), flag: 1 });
    withBody.writeUInt32BE(0xffffffff, 24);
    const q = decodeGatewayPacket(withBody);
    expect(q.extData.toString()).toBe('abcd');
    expect(q.body.length).toBe(0);
  });

  it('§2.4 a flag-0 body that does not unserialize decodes to false', () => {
    const p = decodeGatewayPacket(encodeGatewayPacket({ cmd: GatewayCommand.SEND_TO_ONE, body: utf8('hello'), flag: 0 }));
    expect(decodeBody(p)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// TV-26 Register lines
// ---------------------------------------------------------------------------------------------

describe('TV-26 Register lines (§4)', () => {
  const GATEWAY_CONNECT =
    '7b226576656e74223a22676174657761795f636f6e6e656374222c202261646472657373223a223132372e302e302e313a32393030222c20227365637265745f6b6579223a22733363723374227d0a';
  const WORKER_CONNECT =
    '7b226576656e74223a22776f726b65725f636f6e6e656374222c227365637265745f6b6579223a22733363723374227d0a';
  const PING = '7b226576656e74223a2270696e67227d0a';
  const BROADCAST =
    '7b226576656e74223a2262726f6164636173745f616464726573736573222c22616464726573736573223a5b223132372e302e302e313a32393030222c223132372e302e302e313a32393031225d7d0a';

  it('TV-26 gateway_connect line (with spaces) is byte-exact', () => {
    const line = gatewayConnectLine('127.0.0.1:2900', 's3cr3t');
    expect(hex(line)).toBe(GATEWAY_CONNECT);
    expect(line.toString()).toBe('{"event":"gateway_connect", "address":"127.0.0.1:2900", "secret_key":"s3cr3t"}\n');
  });

  it('TV-26 worker_connect line (captured) is byte-exact', () => {
    expect(hex(workerConnectLine('s3cr3t'))).toBe(WORKER_CONNECT);
  });

  it('TV-26 ping line is byte-exact', () => {
    expect(hex(PING_LINE)).toBe(PING);
  });

  it('TV-26 broadcast_addresses list line is byte-exact', () => {
    expect(hex(broadcastAddressesLine(['127.0.0.1:2900', '127.0.0.1:2901']))).toBe(BROADCAST);
  });

  it('TV-26 broadcast_addresses empty list line', () => {
    expect(broadcastAddressesLine([]).toString()).toBe('{"event":"broadcast_addresses","addresses":[]}\n');
  });

  it('TV-26 parse each line back (via LineReader)', () => {
    const lines: Buffer[] = [];
    const reader = new LineReader();
    reader.push(fromHex(GATEWAY_CONNECT + WORKER_CONNECT + PING + BROADCAST), (l) => lines.push(Buffer.from(l)));
    expect(lines).toHaveLength(4);
    expect(parseRegisterMessage(lines[0]!)).toEqual({
      event: 'gateway_connect',
      address: '127.0.0.1:2900',
      secret_key: 's3cr3t',
    });
    expect(parseRegisterMessage(lines[1]!)).toEqual({ event: 'worker_connect', secret_key: 's3cr3t' });
    expect(parseRegisterMessage(lines[2]!)).toEqual({ event: 'ping' });
    const b = parseRegisterMessage(lines[3]!);
    expect(b?.event).toBe('broadcast_addresses');
    expect(readAddresses(b?.addresses)).toEqual(['127.0.0.1:2900', '127.0.0.1:2901']);
  });

  it('TV-26 readAddresses: list form', () => {
    const m = parseRegisterMessage('{"event":"broadcast_addresses","addresses":["127.0.0.1:2900","127.0.0.1:2901"]}');
    expect(readAddresses(m?.addresses)).toEqual(['127.0.0.1:2900', '127.0.0.1:2901']);
  });

  it('TV-26 readAddresses: object form after a duplicate registration', () => {
    const m = parseRegisterMessage('{"event":"broadcast_addresses","addresses":{"0":"127.0.0.1:2900","2":"10.0.0.2:2900"}}');
    expect(m?.event).toBe('broadcast_addresses');
    expect(readAddresses(m?.addresses)).toEqual(['127.0.0.1:2900', '10.0.0.2:2900']);
  });

  it('TV-26 readAddresses: empty list []', () => {
    const m = parseRegisterMessage('{"event":"broadcast_addresses","addresses":[]}');
    expect(readAddresses(m?.addresses)).toEqual([]);
    expect(readAddresses([])).toEqual([]);
  });

  it('§4.1 readAddresses: missing or scalar addresses give null', () => {
    expect(readAddresses(undefined)).toBeNull();
    expect(readAddresses(null)).toBeNull();
    expect(readAddresses('127.0.0.1:2900')).toBeNull();
  });

  describe('§4.2 parseRegisterMessage returns null for bad requests', () => {
    const bad: Array<[string, string]> = [
      ['non-JSON', 'hello'],
      ['truncated JSON', '{"event":"ping"'],
      ['JSON without event', '{"secret_key":"s3cr3t"}'],
      ['event ""', '{"event":""}'],
      ['a JSON array', '["event","ping"]'],
      ['JSON null', 'null'],
      ['a JSON string', '"ping"'],
      ['a non-string event', '{"event":1}'],
    ];
    for (const [name, line] of bad) {
      it(`§4.2 parseRegisterMessage(${name}) → null`, () => {
        expect(parseRegisterMessage(line)).toBeNull();
        expect(parseRegisterMessage(utf8(line))).toBeNull();
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// TV-29 client-facing framings
// ---------------------------------------------------------------------------------------------

describe('TV-29 client-facing framings (§8)', () => {
  const decodeAll = (decoder: StreamDecoder, chunks: Buffer[]): string[] => {
    const out: string[] = [];
    for (const c of chunks) decoder.push(c, (m) => out.push(Buffer.from(m).toString('hex')));
    return out;
  };
  const HELLO = utf8('hello').toString('hex');

  it('TV-29 Text encode "hello" → 68656c6c6f0a', () => {
    expect(hex(TextProtocol.encode(utf8('hello')))).toBe('68656c6c6f0a');
  });

  it('TV-29 Text decode "hello\\r\\n" → hello (TextProtocol decoder)', () => {
    const dec = TextProtocol.createDecoder(DEFAULT_MAX_PACKAGE_SIZE);
    expect(decodeAll(dec, [utf8('hello\r\n')])).toEqual([HELLO]);
  });

  it('TV-29 Text decode "hello\\n\\r\\n" → hello (LineReader)', () => {
    // Workerman cuts at the first \n, so "hello\n" is one message; the following "\r\n" is a
    // second, empty one. Both readings agree that the message is "hello".
    const lines: string[] = [];
    new LineReader().push(utf8('hello\n\r\n'), (l) => lines.push(l.toString()));
    expect(lines[0]).toBe('hello');
    // Within one frame, all trailing \r and \n are stripped.
    const one: string[] = [];
    new LineReader().push(utf8('hello\r\r\n'), (l) => one.push(l.toString()));
    expect(one).toEqual(['hello']);
  });

  it('TV-29 Text decode byte by byte', () => {
    const dec = TextProtocol.createDecoder(DEFAULT_MAX_PACKAGE_SIZE);
    expect(decodeAll(dec, bytewise(utf8('hello\r\nworld\n')))).toEqual([HELLO, utf8('world').toString('hex')]);
  });

  it('§8.1 Text oversize: an unterminated buffer of ≥ maxPackageSize throws', () => {
    const dec = TextProtocol.createDecoder(10);
    expect(() => decodeAll(dec, [Buffer.alloc(10, 0x61)])).toThrow(GatewayProtocolError);
    const ok = TextProtocol.createDecoder(10);
    expect(() => decodeAll(ok, [Buffer.alloc(9, 0x61)])).not.toThrow();
  });

  it('TV-29 Frame encode "hello" → 0000000968656c6c6f', () => {
    expect(hex(FrameProtocol.encode(utf8('hello')))).toBe('0000000968656c6c6f');
  });

  it('TV-29 Frame decode 0000000968656c6c6f → hello (one chunk and byte by byte)', () => {
    const bytes = fromHex('0000000968656c6c6f');
    expect(decodeAll(FrameProtocol.createDecoder(DEFAULT_MAX_PACKAGE_SIZE), [bytes])).toEqual([HELLO]);
    expect(decodeAll(FrameProtocol.createDecoder(DEFAULT_MAX_PACKAGE_SIZE), bytewise(Buffer.concat([bytes, bytes])))).toEqual(
      [HELLO, HELLO],
    );
  });

  it('§8.2 Frame length 0 or above the limit throws', () => {
    expect(() => decodeAll(FrameProtocol.createDecoder(DEFAULT_MAX_PACKAGE_SIZE), [fromHex('00000000')])).toThrow(
      GatewayProtocolError,
    );
    expect(() => decodeAll(FrameProtocol.createDecoder(100), [fromHex('00000065')])).toThrow(GatewayProtocolError);
  });

  it('TV-29 WS server text frame "hello" → 810568656c6c6f', () => {
    const payload = utf8('hello');
    expect(hex(webSocketFrameHeader(5))).toBe('8105');
    expect(hex([webSocketFrameHeader(payload.length), payload])).toBe('810568656c6c6f');
    expect(hex(webSocketFrameHeader(5, WS_OPCODE_TEXT))).toBe('8105');
  });

  it('TV-29 WS server binary frame "hello" (websocketType 0x82) → 820568656c6c6f', () => {
    const payload = utf8('hello');
    expect(hex([webSocketFrameHeader(payload.length, WS_OPCODE_BINARY), payload])).toBe('820568656c6c6f');
  });

  it('TV-29 WS server frame, 200 bytes → starts 817e00c8', () => {
    const payload = Buffer.alloc(200, 0x61);
    const head = webSocketFrameHeader(200);
    expect(hex(head)).toBe('817e00c8');
    const frameBuf = Buffer.concat([head, payload]);
    expect(frameBuf.length).toBe(204);
    expect(frameBuf.subarray(4).equals(payload)).toBe(true);
  });

  it('TV-29 WS server frame, 70000 bytes → starts 817f0000000000011170', () => {
    const payload = Buffer.alloc(70000, 0x62);
    const head = webSocketFrameHeader(70000);
    expect(hex(head)).toBe('817f0000000000011170');
    const frameBuf = Buffer.concat([head, payload]);
    expect(frameBuf.length).toBe(70010);
    expect(frameBuf.subarray(10).equals(payload)).toBe(true);
  });

  it('§8.3 WS length boundaries 125 / 126 / 65535 / 65536', () => {
    expect(hex(webSocketFrameHeader(125))).toBe('817d');
    expect(hex(webSocketFrameHeader(126))).toBe('817e007e');
    expect(hex(webSocketFrameHeader(65535))).toBe('817effff');
    expect(hex(webSocketFrameHeader(65536))).toBe('817f0000000000010000');
  });

  it('TV-29 WS server frame for array {"a":"é"} → 810a7b2261223a22c3a9227d', () => {
    const payload = utf8(JSON.stringify({ a: 'é' }));
    expect(hex([webSocketFrameHeader(payload.length), payload])).toBe('810a7b2261223a22c3a9227d');
  });

  it('TV-29 heartbeat pingData {"type":"ping"} to a websocket client → 810f7b2274797065223a2270696e67227d', () => {
    const payload = utf8('{"type":"ping"}');
    expect(hex([webSocketFrameHeader(payload.length), payload])).toBe('810f7b2274797065223a2270696e67227d');
  });
});

describe('PHP string cast of scalar bodies (§2.3)', () => {
  it('casts floats with precision 14, as a PHP sender would', async () => {
    const { phpStringCast } = await import('../lib/protocol/php-string-cast.js');
    expect(phpStringCast(0.1 + 0.2)).toBe('0.3');
    expect(phpStringCast(1e20)).toBe('1.0E+20');
    expect(phpStringCast(-0)).toBe('-0');
    expect(phpStringCast(NaN)).toBe('NAN');
    expect(phpStringCast(-Infinity)).toBe('-INF');
    expect(phpStringCast(1.5)).toBe('1.5');
    expect(phpStringCast(0.0001)).toBe('0.0001');
    expect(phpStringCast(0.00001)).toBe('1.0E-5');
    expect(phpStringCast(123456789012345.6)).toBe('1.2345678901235E+14');
    expect(phpStringCast(12345678901234.4)).toBe('12345678901234');
    expect(phpStringCast(-2.5e-7)).toBe('-2.5E-7');
    expect(phpStringCast(42)).toBe('42');
    expect(phpStringCast(true)).toBe('1');
    expect(phpStringCast(false)).toBe('');
  });
});
