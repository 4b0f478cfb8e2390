import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { WebSocket, WebSocketServer } from 'ws';
import { invalidVerdict } from '../gateway-worker.messages.js';
import type { ListenAddress } from '../interfaces/resolved-options.interface.js';
import { GatewayCommand } from '../protocol/gateway-command.js';
import { ip2long } from '../utils/ip.util.js';
import type { ClientConnection } from './client-connection.js';
import type { ClientEdgeHost } from './client-edge.host.js';
import { FLAG_AWAITS_VERDICT, type WebSocketVerdict } from '../protocol/extension-command.js';
import type { PendingHandshakes } from './pending-handshakes.js';
import { plainIp, type TrustedProxies } from './trusted-proxies.js';
import { webSocketConnectBody } from './websocket-connect.payload.js';

const noop = () => undefined;
const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** Settings a websocket listener shares with the others of its gateway. */
export interface WebSocketListenerOptions {
  wss: WebSocketServer;
  tls: TlsOptions | null;
  trustedProxies: TrustedProxies;
  pending: PendingHandshakes;
  /** Websocket ping/pong frames reset the heartbeat counter. */
  pingIsActivity: boolean;
}

/**
 * Refuses an upgrade with an HTTP status before any websocket exists, then closes: how an
 * `@OnWebSocketConnect` guard keeps an unauthenticated browser from ever getting a client_id.
 */
export function refuseUpgrade(socket: Socket, status: number, message?: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = message || STATUS_CODES[status] || 'Error';
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

/** The checks `ws` makes before an upgrade, done first so a bad request never reaches a worker. */
function invalidUpgrade(req: IncomingMessage): { status: number; message: string; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, message: 'Invalid HTTP method' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, message: 'Invalid Upgrade header' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  const version = Number(req.headers['sec-websocket-version']);
  if (version !== 13 && version !== 8) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Version header', headers: { 'Sec-WebSocket-Version': '13, 8' } };
  return null;
}

/** A verdict's status as an HTTP rejection: 4xx/5xx as given, anything else 500. */
const rejectionStatus = (status: unknown): number => (Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? (status as number) : 500);

/**
 * A `websocket://` (or `wss://`) listener: `ws` on an http(s) server, upgrading requests itself.
 *
 * The client's address is the socket's, or — for a request from a trusted proxy — the one in
 * `X-Real-IP` / `X-Forwarded-For`. What happens before the 101 depends on the worker the client
 * is bound to (PROTOCOL.md §5.3, §5.11):
 * - a PHP worker: the handshake completes at once, then CMD_ON_CONNECT and CMD_ON_WEBSOCKET_CONNECT
 *   (the request as PHP serializes it) go out, in PHP's order;
 * - a TypeScript worker with `@OnWebSocketConnect` handlers: CMD_ON_WEBSOCKET_CONNECT goes first and
 *   the handshake is held until the worker's verdict: accepted, the 101 is written (with whatever
 *   was sent to the client meanwhile right after it) and CMD_ON_CONNECT follows; refused, the
 *   browser gets that HTTP status and no websocket, and `@OnConnect` never runs;
 * - a TypeScript worker without such handlers: no CMD_ON_WEBSOCKET_CONNECT at all.
 *
 * The upgrade request is dropped as soon as the handshake is decided.
 */
export function createWebSocketListener(host: ClientEdgeHost, l: ListenAddress, o: WebSocketListenerOptions): HttpServer | HttpsServer {
  const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
    res.end(`This is the websocket endpoint of a GatewayWorker gateway (${l.uri}): connect with a websocket client.\n`);
  };
  const server = o.tls ? createHttpsServer(o.tls, onRequest) : createHttpServer(onRequest);
  if (o.tls) server.on('tlsClientError', noop);

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (host.closing || !host.admit(socket)) return void socket.destroy();
    socket.on('error', noop);
    const invalid = invalidUpgrade(req);
    if (invalid) return refuseUpgrade(socket, invalid.status, invalid.message, invalid.headers);

    const real = o.trustedProxies.clientAddress(socket.remoteAddress, req.headers);
    // Behind a proxy the client's port is unknown: 0 rather than the proxy's.
    const client = host.newClient(socket, 'websocket', ip2long(real ?? socket.remoteAddress), real ? 0 : (socket.remotePort ?? 0));
    watchClose(host, client);
    const worker = host.route(client);
    if (!worker) {
      host.noWorker(client);
      return refuseUpgrade(socket, 503, 'No BusinessWorker is connected to this gateway yet; retry shortly.');
    }
    const request = () =>
      webSocketConnectBody({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        remoteAddress: real ?? plainIp(socket.remoteAddress ?? ''),
        remotePort: client.clientPort,
        localPort: socket.localPort ?? 0,
      });

    const accept = (announceRequest: boolean) =>
      o.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        attachWebSocket(host, client, ws, o.pingIsActivity);
        client.release();
        host.openClient(client);
        if (announceRequest) host.sendEvent(GatewayCommand.ON_WEBSOCKET_CONNECT, client, request(), 0);
      });

    if (worker.webSocketConnectMode !== 'verdict') return accept(worker.webSocketConnectMode === 'event');

    client.holdWrites();
    host.addClient(client);
    host.sendEvent(GatewayCommand.ON_WEBSOCKET_CONNECT, client, request(), FLAG_AWAITS_VERDICT);
    o.pending.add(client, worker.workerKey!, (verdict: WebSocketVerdict) => {
      if (client.closed || socket.destroyed) return;
      if (verdict.status === 101) return accept(false);
      const status = rejectionStatus(verdict.status);
      // The worker logs its own refusals; only a malformed verdict is worth a line here.
      if (status !== verdict.status) host.logger.warn(invalidVerdict(worker.name));
      // Gone from the tables at once: no ON_CLOSE, since ON_CONNECT never went out.
      host.clientClosed(client);
      refuseUpgrade(socket, status, verdict.message);
    });
  });
  return server;
}

// The listeners that live as long as the connection are made here, outside the upgrade handler:
// a closure made inside it would keep its whole scope, upgrade request and head included, alive
// for the connection's lifetime.

/** The client's end, however it comes: normal close, refusal, heartbeat, gateway stop. */
function watchClose(host: ClientEdgeHost, client: ClientConnection): void {
  client.socket.on('close', () => host.clientClosed(client));
}

/** Messages (and, when they count as activity, ping/pong frames) of an accepted websocket. */
function attachWebSocket(host: ClientEdgeHost, client: ClientConnection, ws: WebSocket, pingIsActivity: boolean): void {
  client.ws = ws;
  ws.on('message', (data: Buffer) => host.clientMessage(client, data));
  ws.on('error', noop);
  if (pingIsActivity) {
    const alive = () => (client.pingCount = -1);
    ws.on('ping', alive);
    ws.on('pong', alive);
  }
}
