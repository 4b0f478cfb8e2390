import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './net.js';

/** Commands a PHP gateway knows (docs/protocol.md §2.6); anything else it only prints. */
const PHP_COMMANDS = new Set([1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 200, 201, 202, 203, 204, 205]);

/** PHP `serialize` of what the fake answers: ints, and arrays of int → string. */
const int = (n: number) => `i:${n};`;

/** One packet: cmd, connection_id, ext_data, body (docs/protocol.md §2.1). */
function packet(cmd: number, connectionId = 0, ext = '', body = ''): Buffer {
  const e = Buffer.from(ext);
  const b = Buffer.from(body);
  const head = Buffer.alloc(28);
  head.writeUInt32BE(28 + e.length + b.length, 0);
  head.writeUInt8(cmd, 4);
  head.writeUInt32BE(connectionId, 17);
  head.writeUInt8(1, 21);
  head.writeUInt32BE(e.length, 24);
  return Buffer.concat([head, e, b]);
}

/** Splits a GatewayProtocol stream into packets, calling `each` with cmd, connection_id, ext and body. */
function packetReader(each: (cmd: number, connectionId: number, ext: Buffer, body: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 28 && buf.length >= buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const extLen = buf.readUInt32BE(24);
      each(buf.readUInt8(4), buf.readUInt32BE(17), buf.subarray(28, 28 + extLen), buf.subarray(28 + extLen, len));
      buf = buf.subarray(len);
    }
  };
}

/**
 * A stand-in for a PHP GatewayWorker gateway, as far as `status` and the Register see one: it
 * registers with a Register (`gateway_connect`), authorizes callers with CMD_GATEWAY_CLIENT_CONNECT,
 * and answers PHP's queries as PHP does (docs/protocol.md §2.9, §5.7) for a few fake clients — in
 * particular CMD_IS_ONLINE ignores ext_data. Like PHP, it only "prints" a command it does not
 * know (recorded in `unknown`), sends nothing back and keeps the connection.
 */
export class FakePhpGateway {
  /** Every command received on the internal port, in order. */
  readonly received: number[] = [];
  /** Commands PHP does not know (PHP prints `gateway inner pack err cmd=…`). */
  readonly unknown: number[] = [];
  private server: Server | null = null;
  private register: Socket | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly address: string,
    private readonly secretKey: string,
    /** connection_id → session string of the fake clients. */
    private readonly clients: Map<number, string>,
  ) {}

  static async start(registerAddress: string, options: { secretKey?: string; clients?: number } = {}): Promise<FakePhpGateway> {
    const address = `127.0.0.1:${await freePort()}`;
    const clients = new Map(Array.from({ length: options.clients ?? 3 }, (_, i) => [i + 1, ''] as [number, string]));
    const g = new FakePhpGateway(address, options.secretKey ?? '', clients);
    await g.listen();
    await g.registerWith(registerAddress);
    return g;
  }

  private listen(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    const port = Number(this.address.split(':')[1]);
    return new Promise((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
  }

  private registerWith(registerAddress: string): Promise<void> {
    const [host, port] = registerAddress.split(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: host!, port: Number(port) }, () => {
        socket.write(`{"event":"gateway_connect", "address":"${this.address}", "secret_key":${JSON.stringify(this.secretKey)}}\n`);
        resolve();
      });
      socket.on('error', reject);
      this.register = socket;
    });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let authorized = this.secretKey === '';
    const reply = (serialized: string) => {
      const body = Buffer.from(serialized);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      socket.write(Buffer.concat([len, body]));
    };
    socket.on(
      'data',
      packetReader((cmd, connectionId, ext) => {
        this.received.push(cmd);
        if (cmd === 200 || cmd === 202) {
          authorized = true;
          return;
        }
        if (!authorized) return void socket.destroy();
        switch (cmd) {
          case 11: // IS_ONLINE: ext_data is not read
            return reply(int(this.clients.has(connectionId) ? 1 : 0));
          case 24: // GET_CLIENT_COUNT_BY_GROUP: '' = every client
            return reply(int(ext.length === 0 ? this.clients.size : 0));
          case 10: {
            const entries = [...this.clients].map(([id, s]) => `i:${id};s:${Buffer.byteLength(s)}:"${s}";`).join('');
            return reply(`a:${this.clients.size}:{${entries}}`);
          }
          case 15:
          case 16:
          case 23:
          case 25:
          case 26:
          case 28:
            return reply('a:0:{}');
          case 203:
            return reply(this.clients.has(connectionId) ? 'a:0:{}' : 'N;');
          default:
            if (!PHP_COMMANDS.has(cmd)) this.unknown.push(cmd);
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.register?.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * A stand-in for a PHP BusinessWorker connected to one gateway: CMD_WORKER_CONNECT without
 * `features` (as PHP sends it), then it records every command the gateway sends it.
 */
export class FakePhpWorker {
  readonly received: number[] = [];
  private constructor(private readonly socket: Socket) {}

  static connect(gatewayAddress: string, workerKey: string, secretKey = ''): Promise<FakePhpWorker> {
    const [host, port] = gatewayAddress.split(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: host!, port: Number(port) }, () => {
        socket.write(packet(200, 0, '', JSON.stringify({ worker_key: workerKey, secret_key: secretKey })));
        resolve(worker);
      });
      const worker = new FakePhpWorker(socket);
      socket.on('data', packetReader((cmd) => worker.received.push(cmd)));
      socket.on('error', reject);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
