import { describe, expect, it } from 'vitest';
import { GatewayWorkerOptionsError, WebSocketConnectRequest } from '../lib/index.js';
import { phpParseStr, webSocketConnectBody } from '../lib/gateway/websocket-connect.payload.js';
import { phpSerialize, phpUnserialize } from '../lib/protocol/php-serialize.js';
import { resolveGatewayWorkerOptions } from '../lib/gateway-worker.options.js';
import { TrustedProxies } from '../lib/gateway/trusted-proxies.js';

/** TV-25 (docs/protocol.md §13): the 813-byte body of CMD_ON_WEBSOCKET_CONNECT for this handshake. */
const TV25_BODY =
  'a:3:{s:3:"get";a:2:{s:5:"token";s:3:"abc";s:4:"list";a:2:{i:0;s:1:"1";i:1;s:1:"2";}}s:6:"server";a:16:{s:12:"QUERY_STRING";s:27:"token=abc&list[]=1&list[]=2";s:14:"REQUEST_METHOD";s:3:"GET";s:11:"REQUEST_URI";s:31:"/ws?token=abc&list[]=1&list[]=2";s:15:"SERVER_PROTOCOL";s:8:"HTTP/1.1";s:11:"SERVER_NAME";s:16:"example.com:8282";s:12:"CONTENT_TYPE";N;s:11:"REMOTE_ADDR";s:12:"192.168.1.10";s:11:"REMOTE_PORT";i:54321;s:11:"SERVER_PORT";i:8282;s:9:"HTTP_HOST";s:16:"example.com:8282";s:12:"HTTP_UPGRADE";s:9:"websocket";s:15:"HTTP_CONNECTION";s:7:"Upgrade";s:22:"HTTP_SEC_WEBSOCKET_KEY";s:24:"dGhlIHNhbXBsZSBub25jZQ==";s:26:"HTTP_SEC_WEBSOCKET_VERSION";s:2:"13";s:11:"HTTP_COOKIE";s:23:"sid=xyz%201; theme=dark";s:15:"HTTP_USER_AGENT";s:4:"test";}s:6:"cookie";a:2:{s:3:"sid";s:7:"xyz%201";s:5:"theme";s:4:"dark";}}';

const TV25_REQUEST = {
  method: 'GET',
  url: '/ws?token=abc&list[]=1&list[]=2',
  httpVersion: '1.1',
  rawHeaders: ['Host', 'example.com:8282', 'Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version', '13', 'Cookie', 'sid=xyz%201; theme=dark', 'User-Agent', 'test'],
  remoteAddress: '192.168.1.10',
  remotePort: 54321,
  localPort: 8282,
};

const parsed = (q: string) => phpSerialize(phpParseStr(q)).toString();

describe('CMD_ON_WEBSOCKET_CONNECT payload (docs/protocol.md §5.11)', () => {
  it('TV-25: the body is byte-exact', () => {
    const body = webSocketConnectBody(TV25_REQUEST);
    expect(body.length).toBe(813);
    expect(body.toString('latin1')).toBe(TV25_BODY);
  });

  it('joins repeated headers with "," at the first one\'s place, trims values, and has no SERVER_NAME without Host', () => {
    const body = webSocketConnectBody({ ...TV25_REQUEST, url: '/', rawHeaders: ['X-A', ' 1\t', 'Content-Type', 'text/plain', 'x-a', '2'] });
    const server = (phpUnserialize(body) as { server: Record<string, unknown> }).server;
    expect(server.SERVER_NAME).toBeNull();
    expect(server.CONTENT_TYPE).toBe('text/plain');
    expect(server.QUERY_STRING).toBe('');
    expect(Object.keys(server).slice(9)).toEqual(['HTTP_X_A', 'HTTP_CONTENT_TYPE']);
    expect(server.HTTP_X_A).toBe('1,2');
  });

  it("parse_str: PHP's names (. and space → _, unclosed [ → _), nesting, lists, decoding, last value wins", () => {
    expect(parsed('a.b=1&c d=2')).toBe('a:2:{s:3:"a_b";s:1:"1";s:3:"c_d";s:1:"2";}');
    expect(parsed('a[b=1')).toBe('a:1:{s:3:"a_b";s:1:"1";}');
    expect(parsed('a[x][y]=1&a[x][z]=2')).toBe('a:1:{s:1:"a";a:1:{s:1:"x";a:2:{s:1:"y";s:1:"1";s:1:"z";s:1:"2";}}}');
    expect(parsed('l[]=1&l[]=2&l[5]=x&l[]=y')).toBe('a:1:{s:1:"l";a:4:{i:0;s:1:"1";i:1;s:1:"2";i:5;s:1:"x";i:6;s:1:"y";}}');
    expect(parsed('q=a+b%20c%zz&e&&=x&5=five')).toBe('a:3:{s:1:"q";s:8:"a b c%zz";s:1:"e";s:0:"";i:5;s:4:"five";}');
    expect(parsed('a=1&a=2')).toBe('a:1:{s:1:"a";s:1:"2";}');
    expect(parsed('name=%E4%BD%A0')).toBe('a:1:{s:4:"name";s:3:"你";}');
  });

  it('WebSocketConnectRequest gives headers, path and query in Node shape', () => {
    const req = new WebSocketConnectRequest(phpUnserialize(webSocketConnectBody(TV25_REQUEST)));
    expect(req.path).toBe('/ws');
    expect(req.url).toBe('/ws?token=abc&list[]=1&list[]=2');
    expect(req.query).toEqual({ token: 'abc', list: ['1', '2'] });
    expect(req.header('User-Agent')).toBe('test');
    expect(req.headers['sec-websocket-version']).toBe('13');
    expect(req.cookie).toEqual({ sid: 'xyz%201', theme: 'dark' });
    expect(new WebSocketConnectRequest(false).query).toEqual({});
  });
});

describe('trusted proxies (X-Real-IP / X-Forwarded-For)', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);

  it('believes the headers only from a trusted proxy', () => {
    expect(proxies.clientAddress('127.0.0.1', { 'x-real-ip': '203.0.113.7' })).toBe('203.0.113.7');
    expect(proxies.clientAddress('::ffff:10.1.2.3', { 'x-real-ip': '203.0.113.7' })).toBe('203.0.113.7');
    expect(proxies.clientAddress('198.51.100.1', { 'x-real-ip': '203.0.113.7' })).toBeNull();
    expect(new TrustedProxies([]).clientAddress('127.0.0.1', { 'x-real-ip': '203.0.113.7' })).toBeNull();
  });

  it('walks X-Forwarded-For from the right past trusted proxies, and ignores garbage', () => {
    expect(proxies.clientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.9, 203.0.113.7, 10.0.0.2' })).toBe('203.0.113.7');
    // X-Real-IP naming a proxy (a chain) defers to X-Forwarded-For.
    expect(proxies.clientAddress('127.0.0.1', { 'x-real-ip': '10.0.0.2', 'x-forwarded-for': '203.0.113.7, 10.0.0.2' })).toBe('203.0.113.7');
    expect(proxies.clientAddress('127.0.0.1', { 'x-real-ip': 'not-an-ip' })).toBeNull();
    expect(proxies.clientAddress('127.0.0.1', {})).toBeNull();
  });

  it('validates gateway.trustedProxies', () => {
    try {
      resolveGatewayWorkerOptions({ gateway: { listen: 'websocket://0.0.0.0:7272', trustedProxies: ['127.0.0.1', '10.0.0.0/33', 'nginx'] } });
      expect.unreachable();
    } catch (err) {
      expect((err as GatewayWorkerOptionsError).problems).toEqual([
        'gateway.trustedProxies: "10.0.0.0/33" has an invalid prefix length',
        'gateway.trustedProxies: "nginx" is not an IP address or a CIDR block like "10.0.0.0/8"',
      ]);
    }
  });
});
