import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Logger } from '@nestjs/common';
import type { WebSocket, WebSocketServer } from 'ws';
import { invalidVerdict } from '../gateway-worker.messages.js';
import type { ListenAddress } from '../interfaces/resolved-options.interface.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import { FLAG_AWAITS_VERDICT, FLAG_BINARY, type WebSocketVerdict } from '../protocol/extension-command.js';
import { ip2long } from '../utils/ip.util.js';
import type { ClientConnection } from './client-connection.js';
import type { ClientLifecycle } from './client-lifecycle.js';
import { invalidUpgrade, refuseUpgrade, rejectionStatus } from './websocket-upgrade.js';
import type { PendingHandshakes } from './pending-handshakes.js';
import { plainIp, type TrustedProxies } from './trusted-proxies.js';
import { webSocketConnectBody } from './websocket-connect.payload.js';

const noop = () => undefined;

/** Settings a websocket listener shares with the others of its gateway. */
export interface WebSocketListenerOptions {
  wss: WebSocketServer;
  tls: TlsOptions | null;
  trustedProxies: TrustedProxies;
  pending: PendingHandshakes;
  /** Websocket ping/pong frames reset the heartbeat counter. */
  pingIsActivity: boolean;
  logger: Logger;
}

/**
 * A `websocket://` (or `wss://`) listener: `ws` on an http(s) server, upgrading requests itself.
 *
 * The client's address is the socket's, or — for a request from a trusted proxy — the one in
 * `X-Real-IP` / `X-Forwarded-For`. What happens before the 101 depends on the worker the client
 * is bound to (docs/protocol.md §5.3, §5.11):
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
export function createWebSocketListener(clients: ClientLifecycle, l: ListenAddress, o: WebSocketListenerOptions): HttpServer | HttpsServer {
  const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
    res.end(`This is the websocket endpoint of a GatewayWorker gateway (${l.uri}): connect with a websocket client.\n`);
  };
  // One error listener for every websocket of this listener (no closure per connection): ws reports
  // a frame over maxPayload or a malformed frame here, then closes (1009/1002).
  const onWsError = function (this: WebSocket & { _socket?: Socket }, err: Error) {
    clients.rejected(null, `${this._socket?.remoteAddress}:${this._socket?.remotePort}`, err.message);
  };
  const server = o.tls ? createHttpsServer(o.tls, onRequest) : createHttpServer(onRequest);
  if (o.tls) server.on('tlsClientError', noop);

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', noop);
    const invalid = invalidUpgrade(req);
    if (invalid) return refuseUpgrade(socket, invalid.status, invalid.message, invalid.headers);

    const real = o.trustedProxies.clientAddress(socket.remoteAddress, req.headers);
    // Behind a proxy the client's port is unknown: 0 rather than the proxy's.
    const client = clients.accept(socket, 'websocket', ip2long(real ?? socket.remoteAddress), real ? 0 : (socket.remotePort ?? 0));
    if (!client) return void socket.destroy();
    watchClose(clients, client, o.pending);
    const worker = clients.workerFor(client);
    if (!worker) {
      clients.noWorker(client);
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
        attachWebSocket(clients, client, ws, o.pingIsActivity, onWsError);
        client.release();
        clients.open(client);
        if (announceRequest) clients.webSocketConnect(client, request(), 0);
      });

    if (worker.webSocketConnectMode !== 'verdict') return accept(worker.webSocketConnectMode === 'event');

    client.holdWrites();
    clients.hold(client);
    clients.webSocketConnect(client, request(), FLAG_AWAITS_VERDICT);
    o.pending.add(client, worker.workerKey!, (verdict: WebSocketVerdict) => {
      if (client.closed || socket.destroyed) return;
      if (verdict.status === 101) return accept(false);
      const status = rejectionStatus(verdict.status);
      // The worker logs its own refusals; only a malformed verdict is worth a line here.
      if (status !== verdict.status) o.logger.warn(invalidVerdict(worker.name));
      // Gone from the tables at once: no ON_CLOSE, since ON_CONNECT never went out.
      clients.closed(client);
      refuseUpgrade(socket, status, verdict.message);
    });
  });
  return server;
}

// The listeners that live as long as the connection are made here, outside the upgrade handler:
// a closure made inside it would keep its whole scope, upgrade request and head included, alive
// for the connection's lifetime.

/** The client's end, however it comes: normal close, refusal, heartbeat, gateway stop. */
function watchClose(clients: ClientLifecycle, client: ClientConnection, pending: PendingHandshakes): void {
  client.socket.on('close', () => {
    pending.drop(client.id);
    clients.closed(client);
  });
}

/** Messages (and, when they count as activity, ping/pong frames) of an accepted websocket. */
function attachWebSocket(clients: ClientLifecycle, client: ClientConnection, ws: WebSocket, pingIsActivity: boolean, onError: (this: WebSocket, err: Error) => void): void {
  client.ws = ws;
  ws.on('message', (data: Buffer, isBinary: boolean) => clients.message(client, data, isBinary ? FLAG_BODY_IS_SCALAR | FLAG_BINARY : FLAG_BODY_IS_SCALAR));
  ws.on('error', onError);
  if (pingIsActivity) {
    const alive = () => (client.pingCount = -1);
    ws.on('ping', alive);
    ws.on('pong', alive);
  }
}
