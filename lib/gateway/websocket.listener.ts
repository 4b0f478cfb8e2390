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
import { readResumeOffer, RESUME_SUBPROTOCOL, type ResumeRequest } from '../protocol/resume-envelope.js';
import { decodeClientId } from '../protocol/client-id.js';
import { resumeRefused } from '../gateway-worker.messages.js';

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
  /** `"<lanIp>:<lanPort>"` of this gateway: a resume naming another one is a hand-over. */
  address: () => string;
  /**
   * Takes a client over from the gateway at `address` (RESUME_HANDOVER): the client, installed
   * here on `socket` (in the tables, announced, with the messages to replay), or why not.
   */
  handover: (ask: ResumeRequest, address: string, socket: Socket, clientIp: number, clientPort: number) => Promise<ClientConnection | string>;
}

/** The subprotocols a websocket upgrade request offers. */
function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return header ? header.split(',').map((p) => p.trim()) : [];
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
    const clientIp = ip2long(real ?? socket.remoteAddress);
    const clientPort = real ? 0 : (socket.remotePort ?? 0);
    const offered = offeredProtocols(req);
    const optIn = offered.includes(RESUME_SUBPROTOCOL);
    const ask = optIn && clients.room.enabled ? readResumeOffer(offered) : null;
    if (ask) return void resume(ask);
    connect(null);

    /** Takes over the kept client `ask` names (here, or handed over from its gateway), or starts over. */
    async function resume(ask: ResumeRequest): Promise<void> {
      const address = decodeClientId(ask.clientId).address;
      let target: ClientConnection | string;
      if (address === o.address()) target = clients.resumable(ask);
      else {
        target = await o.handover(ask, address, socket, clientIp, clientPort).catch((err: Error) => err.message);
        if (socket.destroyed) {
          // Taken over, then its new connection went too: closed here (its worker is told both).
          if (typeof target !== 'string') clients.lostAfterHandover(target, ask.clientId);
          return;
        }
      }
      if (typeof target === 'string') {
        clients.refusedResume();
        o.logger.log(resumeRefused(ask.clientId, target));
        return connect(target);
      }
      takeOver(target, ask);
    }

    /** The kept client gets this connection: the 101, then the welcome and the replay. */
    function takeOver(target: ClientConnection, ask: ResumeRequest): void {
      const own = target.socket === socket;
      if (!own && !clients.admit(socket)) return void socket.destroy();
      o.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        if (target.closed) return void ws.terminate();
        const old = own ? null : target.ws;
        target.adopt(socket, ws);
        // The old connection (half-open, if the gateway had not noticed the break) is cut; its
        // close is ignored, since the client has a new socket.
        old?.terminate();
        attachWebSocket(clients, target, ws, o.pingIsActivity, onWsError);
        watchClose(clients, target, o.pending);
        clients.resumed(target, ask.received, ask.clientId);
      });
    }

    function connect(refusal: string | null): void {
      const client = clients.accept(socket, 'websocket', clientIp, clientPort);
      if (!client) return void socket.destroy();
      if (optIn) clients.optIn(client);
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
          // The welcome goes first, before what was sent while the handshake was held.
          if (client.envelope) clients.welcome(client, { resumed: false, seq: 0, ...(refusal ? { reason: refusal } : {}) });
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
    }
  });
  return server;
}

// The listeners that live as long as the connection are made here, outside the upgrade handler:
// a closure made inside it would keep its whole scope, upgrade request and head included, alive
// for the connection's lifetime.

/** The client's end, however it comes: normal close, refusal, heartbeat, gateway stop. */
function watchClose(clients: ClientLifecycle, client: ClientConnection, pending: PendingHandshakes): void {
  const socket = client.socket;
  socket.on('close', () => {
    // A resumed client has a new socket: the end of its old one is no event.
    if (client.socket !== socket) return;
    pending.drop(client.id);
    // A close frame from the client (the SDK's close(), a tab closing: 1000, 1001…) means it is
    // leaving: not kept for a resume. A network break sends none.
    const ws = client.ws as unknown as { _closeFrameReceived?: boolean } | null;
    if (ws?._closeFrameReceived) client.final = true;
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
