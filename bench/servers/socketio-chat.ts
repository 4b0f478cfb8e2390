import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { announceReady, serveRpc } from '../harness/agent.js';
import { BROADCAST, ECHO, hello, LOGIN } from '../app-protocol.js';

/**
 * B1: the app of app-protocol.ts on socket.io 4.8 as its docs suggest: rooms for uids and groups,
 * `io.emit` to everybody, the handshake request dropped after connect (the docs' memory tip).
 * Messages travel as `m` events. Env BENCH_HELLO=1 greets each connection.
 */
const greet = process.env.BENCH_HELLO === '1';
const http = createServer();
const io = new Server(http, { transports: ['websocket'] });
let bound = 0;

io.engine.on('connection', (raw: { request: unknown }) => {
  raw.request = null;
});

io.on('connection', (socket) => {
  let isBound = false;
  if (greet) socket.emit('m', hello(socket.id));
  socket.on('m', (msg: string) => {
    const op = msg[0];
    const rest = msg.slice(2);
    if (op === ECHO) socket.emit('m', rest);
    else if (op === BROADCAST) io.emit('m', rest);
    else if (op === LOGIN) {
      const [uid, group] = rest.split(' ');
      void socket.join([`uid:${uid}`, `group:${group}`]);
      if (!isBound) bound++;
      isBound = true;
    }
  });
  socket.on('disconnect', () => {
    if (isBound) bound--;
  });
});

serveRpc({ stats: () => ({ clients: io.engine.clientsCount, uids: bound, groups: 0 }) });
await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
announceReady({ sio: (http.address() as { port: number }).port });
