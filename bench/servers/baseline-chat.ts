import { createServer, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { announceReady, serveRpc } from '../harness/agent.js';
import { BROADCAST, ECHO, hello, LOGIN } from '../app-protocol.js';

/**
 * B0 / B0c: the app of app-protocol.ts as one process, written the way people write a chat
 * server with `ws` and `net`: a Set of clients, Maps for uids and groups, `ws.send()` per client.
 * `cork` mode (B0c) corks every client socket for the rest of the tick when a broadcast starts,
 * the usual hand optimisation. Args: `naive|cork`; env BENCH_HELLO=1 greets each connection.
 */
const mode = process.argv[2] === 'cork' ? 'cork' : 'naive';
const greet = process.env.BENCH_HELLO === '1';

interface Client {
  id: number;
  socket: Socket;
  send(text: string): void;
  uid?: string;
  group?: string;
}

const clients = new Set<Client>();
const uids = new Map<string, Set<Client>>();
const groups = new Map<string, Set<Client>>();
let nextId = 1;
let corked = false;

function corkAll(): void {
  if (corked) return;
  corked = true;
  for (const c of clients) c.socket.cork();
  process.nextTick(() => {
    corked = false;
    for (const c of clients) c.socket.uncork();
  });
}

function broadcast(text: string): void {
  if (mode === 'cork') corkAll();
  for (const c of clients) c.send(text);
}

function join(map: Map<string, Set<Client>>, key: string, c: Client): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(c);
}

function leave(map: Map<string, Set<Client>>, key: string | undefined, c: Client): void {
  if (key === undefined) return;
  const set = map.get(key);
  set?.delete(c);
  if (set?.size === 0) map.delete(key);
}

function handle(c: Client, msg: string): void {
  const op = msg[0];
  const rest = msg.slice(2);
  if (op === ECHO) c.send(rest);
  else if (op === BROADCAST) broadcast(rest);
  else if (op === LOGIN) {
    const [uid, group] = rest.split(' ');
    c.uid = uid;
    c.group = group;
    join(uids, uid!, c);
    join(groups, group!, c);
  }
}

function opened(c: Client): void {
  clients.add(c);
  if (greet) c.send(hello(c.id));
}

function closed(c: Client): void {
  clients.delete(c);
  leave(uids, c.uid, c);
  leave(groups, c.group, c);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (ws) => {
  const c: Client = { id: nextId++, socket: (ws as unknown as { _socket: Socket })._socket, send: (t) => ws.send(t) };
  ws.on('message', (data) => handle(c, data.toString()));
  ws.on('close', () => closed(c));
  ws.on('error', () => undefined);
  opened(c);
});

const text = createServer((socket) => {
  socket.setNoDelay(true);
  const c: Client = { id: nextId++, socket, send: (t) => socket.write(t + '\n') };
  let buf = '';
  socket.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      handle(c, line);
    }
  });
  socket.on('close', () => closed(c));
  socket.on('error', () => undefined);
  opened(c);
});

let bound = 0;
serveRpc({
  stats: () => {
    bound = 0;
    for (const set of uids.values()) bound += set.size;
    return { clients: clients.size, uids: bound, groups: groups.size };
  },
});
await new Promise<void>((r) => wss.once('listening', r));
await new Promise<void>((r) => text.listen(0, '127.0.0.1', r));
announceReady({ ws: (wss.address() as { port: number }).port, text: (text.address() as { port: number }).port });
