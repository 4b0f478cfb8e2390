import type { Logger } from '@nestjs/common';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { innerLinkBroken, innerPeerNotLocal, innerPeerRefused, notARegisteredWorker, oversizedPacketSkipped, stalledFrame, unauthorizedPacket, unknownCommand, workerKeyMissing, wrongSecretKey } from '../gateway-worker.messages.js';
import { GatewayCommand, QUERY_COMMANDS } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, type GatewayPacket } from '../protocol/gateway-packet.js';
import { GatewayPacketReader, type OversizedPacket } from '../protocol/gateway-packet.reader.js';
import { canonicalAddress, isLocalPeer } from '../utils/local-peer.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import { listenOn } from './client-edge.js';
import type { GatewayCounters } from './gateway-counters.js';
import { InnerConnection } from './inner-connection.js';
import type { PeerAdmission } from '../utils/peer-admission.js';

/** Who may send a command: anybody (authentication itself), an authenticated peer, or a registered worker. */
export type InnerAccess = 'authorized' | 'worker';

/** One entry of the inner port's command table. */
export interface InnerCommand {
  access: InnerAccess;
  /** Applies the packet; `false` closes the link (the handler has logged why). */
  handle(conn: InnerConnection, packet: GatewayPacket): boolean | void;
}

/** What CMD_WORKER_CONNECT carried, once its secret key was checked. */
export interface WorkerHello {
  workerKey: string;
  /** The whole JSON body (a TypeScript worker lists its `features`). */
  body: Record<string, unknown>;
}

/** The settings of the internal port. */
export interface InnerPortOptions {
  name: string;
  secretKey: string;
  innerMaxPackageSize: number;
  /** Bytes a link may queue before droppable packets are dropped (`sendToWorkerBufferSize`). */
  sendBufferSize: number;
  maxConnectionsPerIp: number;
  /** 0: never. */
  stalledFrameTimeout: number;
  /** Only peers on this host may connect (protected mode with no secret key). */
  localPeersOnly: boolean;
}

/**
 * A gateway's internal port, where BusinessWorkers, GatewayClients and `status` connect
 * (docs/protocol.md §2.8, §5.6): one reader and one dispatcher per link. A packet is
 * authenticated once — CMD_WORKER_CONNECT / CMD_GATEWAY_CLIENT_CONNECT with the secret key —
 * and then looked up in one table from command number to handler, PHP's commands and the
 * TypeScript extensions alike, each with the access it needs. With no secret key and protected
 * mode on (the default), only peers on this host may connect at all.
 */
export class InnerPort {
  private readonly table: (InnerCommand | undefined)[] = new Array(256);
  private readonly links = new Set<InnerConnection>();
  private server: NetServer | null = null;

  constructor(
    private readonly options: InnerPortOptions,
    private readonly admission: PeerAdmission,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    /** A worker authenticated with CMD_WORKER_CONNECT: registers it, or returns false to refuse it. */
    private readonly onWorkerHello: (conn: InnerConnection, hello: WorkerHello) => boolean,
    /** A link closed. */
    private readonly onClosed: (conn: InnerConnection) => void,
  ) {}

  /** Adds commands to the table. */
  register(commands: Iterable<readonly [number, InnerCommand]>): void {
    for (const [cmd, command] of commands) this.table[cmd] = command;
  }

  /** The open links. */
  get connections(): ReadonlySet<InnerConnection> {
    return this.links;
  }

  /** The listening port (0 before listen). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Bytes queued towards the links. */
  get bufferedBytes(): number {
    let n = 0;
    for (const conn of this.links) n += conn.socket.writableLength;
    return n;
  }

  /** The server, once listening. */
  get netServer(): NetServer | null {
    return this.server;
  }

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await listenOn(server, host, port, `${this.options.name} internal port`);
  }

  /** Closes links that left a packet half-sent longer than `stalledFrameTimeout`. */
  sweep(now = Date.now()): void {
    const timeout = this.options.stalledFrameTimeout;
    if (timeout === 0) return;
    for (const conn of this.links) {
      if (conn.partialSince !== 0 && conn.partialSince < now - timeout) {
        this.counters.limits.stalledFrame++;
        this.limiter.warn(this.logger, `stalled-inner:${conn.name}`, stalledFrame(`internal link ${conn.name}`, timeout));
        conn.socket.destroy();
      }
    }
  }

  /** Ends every link (after what is queued), then cuts those still open after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.server?.close();
    this.server = null;
    for (const conn of this.links) conn.socket.end();
    const deadline = Date.now() + graceMs;
    while (this.links.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.links) conn.socket.destroy();
  }

  private accept(socket: Socket): void {
    if (this.options.localPeersOnly && !isLocalPeer(socket.remoteAddress)) {
      this.counters.limits.protectedMode++;
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      this.limiter.warn(this.logger, `not-local:${canonicalAddress(socket.remoteAddress ?? '?')}`, innerPeerNotLocal(peer));
      return void socket.destroy();
    }
    if (!this.admission.admit(socket)) {
      this.counters.limits.innerConnectionsPerIp++;
      const peer = socket.remoteAddress ?? '?';
      this.limiter.warn(this.logger, `inner-per-ip:${peer}`, innerPeerRefused(peer, `more than ${this.options.maxConnectionsPerIp} connections from it (innerMaxConnectionsPerIp)`));
      return void socket.destroy();
    }
    const conn = new InnerConnection(socket, this.options.sendBufferSize, this.options.secretKey);
    const reader = new GatewayPacketReader(this.options.innerMaxPackageSize);
    this.links.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      conn.lastHeard = Date.now();
      try {
        reader.push(
          chunk,
          (raw) => {
            if (!socket.destroyed && this.dispatch(conn, raw) === false) socket.destroy();
          },
          (big) => {
            if (!socket.destroyed && !this.oversized(conn, big)) socket.destroy();
          },
        );
        conn.partialSince = reader.bufferedBytes === 0 ? 0 : conn.partialSince || Date.now();
      } catch (err) {
        this.logger.warn(innerLinkBroken(conn.name, (err as Error).message));
        socket.destroy();
      }
    });
    socket.on('error', noop);
    socket.on('close', () => {
      this.links.delete(conn);
      this.onClosed(conn);
    });
  }

  /**
   * A packet over `innerMaxPackageSize`, skipped by the reader without being buffered: counted and
   * logged, and the link carries on — other clients' traffic on it is not cut. False (close) for a
   * peer that has not authenticated, and for a query, whose caller would otherwise wait for a
   * reply that never comes (it sees the link close and fails at once).
   */
  private oversized(conn: InnerConnection, big: OversizedPacket): boolean {
    if (!conn.authorized) {
      this.logger.warn(unauthorizedPacket(conn.name, big.cmd));
      return false;
    }
    this.counters.limits.innerPacketTooLarge++;
    this.limiter.warn(this.logger, `oversized:${conn.name}`, oversizedPacketSkipped('Gateway', conn.name, big.cmd, big.connectionId, big.length, this.options.innerMaxPackageSize));
    return !QUERY_COMMANDS.has(big.cmd);
  }

  /** One packet: authentication, then the command table. False closes the link. */
  private dispatch(conn: InnerConnection, raw: Buffer): boolean | void {
    const cmd = raw[4]!;
    if (cmd === GatewayCommand.WORKER_CONNECT || cmd === GatewayCommand.GATEWAY_CLIENT_CONNECT) return this.authenticate(conn, decodeGatewayPacket(raw));
    const command = this.table[cmd];
    if (!command) {
      this.logger.warn(unknownCommand(conn.name, cmd));
      return false;
    }
    if (!conn.authorized) {
      this.logger.warn(unauthorizedPacket(conn.name, cmd));
      return false;
    }
    if (command.access === 'worker' && !conn.workerKey) {
      this.logger.warn(notARegisteredWorker(cmd, conn.name));
      return false;
    }
    return command.handle(conn, decodeGatewayPacket(raw));
  }

  /** CMD_WORKER_CONNECT / CMD_GATEWAY_CLIENT_CONNECT: the secret key, checked once per link. */
  private authenticate(conn: InnerConnection, packet: GatewayPacket): boolean {
    let data: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(packet.body.toString());
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as Record<string, unknown>;
    } catch {
      data = null;
    }
    const isWorker = packet.cmd === GatewayCommand.WORKER_CONNECT;
    const workerKey = data?.worker_key;
    const what = isWorker ? `worker connection${typeof workerKey === 'string' ? ` "${workerKey}"` : ''}` : 'client connection';
    if (!data || data.secret_key !== this.options.secretKey) {
      this.logger.warn(wrongSecretKey('Gateway', conn.name, what));
      return false;
    }
    conn.authorized = true;
    if (!isWorker) return true;
    if (typeof workerKey !== 'string' || workerKey === '') {
      this.logger.warn(workerKeyMissing(conn.name));
      return false;
    }
    return this.onWorkerHello(conn, { workerKey, body: data });
  }
}

const noop = () => undefined;
