import { connect, type Socket } from 'node:net';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { GatewaySocketClient, type WebSocketConstructor } from '../../lib/sdk/client.js';

/**
 * How a client connection talks to its server: a websocket, a text line, a socket.io event, or
 * the client SDK opted in to the resume envelope (`wsr`: acks, control frames).
 */
export type ClientKind = 'ws' | 'text' | 'sio' | 'wsr';

/** One client connection, whatever its kind. */
export interface BenchConnection {
  /** Sends one message. */
  send(text: string): void;
  /** Sends several messages so that they reach the server in one TCP chunk where the kind allows. */
  sendBurst(texts: string[]): void;
  close(): void;
}

/** Callbacks of a connection: `open` once, then each message as a string. */
export interface ConnectionEvents {
  open(): void;
  message(text: string): void;
  error(err: Error): void;
  close(): void;
}

/** Opens one connection of `kind` to 127.0.0.1:`port`. */
export function openConnection(kind: ClientKind, port: number, on: ConnectionEvents): BenchConnection {
  if (kind === 'ws') return openWs(port, on);
  if (kind === 'text') return openText(port, on);
  if (kind === 'wsr') return openSdk(port, on);
  return openSocketIo(port, on);
}

function openWs(port: number, on: ConnectionEvents): BenchConnection {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  ws.on('open', on.open);
  ws.on('message', (data) => on.message(data.toString()));
  ws.on('error', on.error);
  ws.on('close', on.close);
  return {
    send: (t) => ws.send(t),
    sendBurst(texts) {
      // Corking the socket makes the frames leave in one write, so the server reads them in one chunk.
      const socket = (ws as unknown as { _socket: Socket })._socket;
      socket.cork();
      for (const t of texts) ws.send(t);
      socket.uncork();
    },
    close: () => ws.terminate(),
  };
}

function openSdk(port: number, on: ConnectionEvents): BenchConnection {
  let ws: WebSocket | null = null;
  const Ctor = function (url: string, protocols?: string | string[]) {
    ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    return ws;
  } as unknown as WebSocketConstructor;
  const client = new GatewaySocketClient({ url: `ws://127.0.0.1:${port}/`, WebSocket: Ctor, reconnect: { maxAttempts: 0 } });
  client.onMessage((m) => on.message(typeof m === 'string' ? m : Buffer.from(m).toString()));
  client.onState((s) => {
    if (s.state === 'open') on.open();
    else if (s.state === 'closed') on.close();
  });
  client.connect().catch((err: Error) => on.error(err));
  return {
    send: (t) => client.send(t),
    sendBurst(texts) {
      const socket = (ws as unknown as { _socket: Socket })._socket;
      socket.cork();
      for (const t of texts) client.send(t);
      socket.uncork();
    },
    // With a close frame: a resumable client that is cut would be kept for the resume window.
    close: () => client.close(),
  };
}

function openText(port: number, on: ConnectionEvents): BenchConnection {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  let pending = '';
  socket.setEncoding('latin1');
  socket.on('connect', on.open);
  socket.on('data', (chunk: string) => {
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (nl === -1) {
      pending += chunk;
      return;
    }
    on.message(pending + chunk.slice(0, nl));
    pending = '';
    start = nl + 1;
    while ((nl = chunk.indexOf('\n', start)) !== -1) {
      on.message(chunk.slice(start, nl));
      start = nl + 1;
    }
    pending = chunk.slice(start);
  });
  socket.on('error', on.error);
  socket.on('close', on.close);
  return {
    send: (t) => socket.write(t + '\n'),
    sendBurst: (texts) => socket.write(texts.join('\n') + '\n'),
    close: () => socket.destroy(),
  };
}

function openSocketIo(port: number, on: ConnectionEvents): BenchConnection {
  // forceNew: one engine per connection (socket.io-client shares one per URL by default).
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
  socket.on('connect', on.open);
  socket.on('m', (text: string) => on.message(text));
  socket.on('connect_error', on.error);
  socket.on('disconnect', on.close);
  return {
    send: (t) => socket.emit('m', t),
    sendBurst: (texts) => {
      for (const t of texts) socket.emit('m', t);
    },
    close: () => socket.disconnect(),
  };
}
