import type { Logger } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { clientMessageRejected, resumeCountMismatch, resumeNotKept, resumeTokenMismatch, tooManyConnections } from '../gateway-worker.messages.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import { ClientConnection, type ClientSendLimit } from './client-connection.js';
import type { EventForwarder } from './event-forwarder.js';
import type { GatewayCounters } from './gateway-counters.js';
import type { GatewayTables } from './gateway-tables.js';
import type { PeerAdmission } from '../utils/peer-admission.js';
import { CONTROL_ACK, CONTROL_ACK_WITH_MESSAGE, CONTROL_BYTE, type ResumeRequest, type ResumeWelcome } from '../protocol/resume-envelope.js';
import { welcomeFrame } from './resume-frames.js';
import { ResumeRoom } from './resume-room.js';
import type { ResumeBuffer } from './resume-buffer.js';
import { decodeClientId } from '../protocol/client-id.js';

const ACK = CONTROL_ACK.charCodeAt(0);
const ACK_WITH_MESSAGE = CONTROL_ACK_WITH_MESSAGE.charCodeAt(0);
const SEMICOLON = 0x3b;

/**
 * A client's life at the gateway, as the listeners report it: admitted, announced (tables, then
 * CMD_ON_CONNECT), its messages, its end. It keeps the tables and the events to workers in step;
 * the listeners only parse.
 */
export class ClientLifecycle {
  /** Set when the gateway stops: new connections are refused. */
  closing = false;

  constructor(
    private readonly tables: GatewayTables,
    private readonly forwarder: EventForwarder,
    private readonly admission: PeerAdmission,
    private readonly sendLimit: ClientSendLimit,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    /** The server's `connect`/`close` events. */
    private readonly events: EventEmitter,
    private readonly maxConnectionsPerIp: number,
    readonly clientIdOf: (client: ClientConnection) => string,
    /** The resumable clients (window, buffers, waiting clients). */
    readonly room: ResumeRoom,
  ) {}

  /** A client for an accepted socket (not yet in the tables), or null when it must be refused. */
  accept(socket: Socket, protocol: ClientProtocolName, clientIp: number, clientPort: number): ClientConnection | null {
    if (!this.admit(socket)) return null;
    socket.setNoDelay(true);
    return new ClientConnection(this.tables.allocateId(), socket, protocol, clientIp, clientPort, socket.localPort ?? 0, this.sendLimit);
  }

  /**
   * Counts a socket in (the per-address cap), or returns false when it must be refused: a new
   * client's, or the new connection of a client resuming here.
   */
  admit(socket: Socket): boolean {
    if (this.closing) return false;
    if (this.admission.admit(socket)) return true;
    this.counters.limits.clientConnectionsPerIp++;
    const ip = socket.remoteAddress ?? '';
    this.limiter.warn(this.logger, `per-ip:${ip}`, tooManyConnections(ip, this.maxConnectionsPerIp));
    return false;
  }

  /** The worker this client is bound to (binding it now), for how its websocket handshake goes. */
  workerFor(client: ClientConnection) {
    return this.forwarder.workerFor(client);
  }

  /** No worker can take this client (its handshake is refused): logged. */
  noWorker(client: ClientConnection): void {
    this.forwarder.noWorker(client);
  }

  /** Puts a client in the tables without announcing it (a websocket whose handshake is held). */
  hold(client: ClientConnection): void {
    this.tables.add(client);
  }

  /** The client is connected: tables, then CMD_ON_CONNECT. */
  open(client: ClientConnection): void {
    if (client.closed) return;
    this.tables.add(client);
    client.announced = true;
    this.events.emit('connect', this.clientIdOf(client));
    this.forwarder.connected(client);
  }

  /** CMD_ON_WEBSOCKET_CONNECT for a client (held or accepted). */
  webSocketConnect(client: ClientConnection, body: Buffer, flag: number): void {
    this.forwarder.webSocketConnect(client, body, flag);
  }

  /** The client opted in to the resume envelope: resumable too when the window is on. */
  optIn(client: ClientConnection): void {
    client.envelope = true;
    this.room.enroll(client);
  }

  /** The kept (or still connected) client a resume request names, or why it cannot be resumed. */
  resumable(ask: ResumeRequest): ClientConnection | string {
    const client = this.tables.clients.get(decodeClientId(ask.clientId).connectionId);
    // Only an announced client can be resumed: not a handshake still held, not a hand-over's stand-in.
    if (!client || client.closed || !client.announced || client.resume === null) return resumeNotKept();
    if (!ResumeRoom.tokenMatches(client, ask.token)) return resumeTokenMismatch();
    if (client.resume.after(ask.received) === null) return resumeCountMismatch(ask.received, client.resume.sent, client.resume.acked);
    return client;
  }

  /** A resume was asked for and not granted: the client starts over (counted). */
  refusedResume(): void {
    this.counters.resume.refused++;
  }

  /**
   * The client moved to another gateway (RESUME_HANDOVER): gone from this one's tables without
   * ON_CLOSE — the new gateway tells the worker CLIENT_RESUMED — and its old connection cut.
   */
  handedOff(client: ClientConnection): void {
    client.announced = false;
    client.final = true;
    this.counters.resume.handedOff++;
    this.closed(client);
    client.cut();
  }

  /**
   * The stand-in of a client being handed over from another gateway (ResumeHandover): in the
   * tables with the client's uid and groups, recording what is sent to it, not announced yet and
   * not writing to `socket` (whose handshake waits) — or null when the connection is refused.
   */
  standIn(socket: Socket, clientIp: number, clientPort: number, uid: string | null, groups: string[]): ClientConnection | null {
    const client = this.accept(socket, 'websocket', clientIp, clientPort);
    if (!client) return null;
    this.optIn(client);
    client.resume!.parkedAt = Date.now();
    this.tables.add(client);
    if (uid !== null) this.tables.bindUid(client, uid);
    for (const g of groups) this.tables.joinGroup(client, g);
    return client;
  }

  /** A stand-in whose hand-over failed: gone, without any event. */
  dropStandIn(client: ClientConnection): void {
    client.final = true;
    this.closed(client);
  }

  /** The stand-in becomes the handed-over client: its state from the old gateway, and the messages to replay. */
  installHandedOver(client: ClientConnection, buffer: ResumeBuffer, session: Buffer, uid: string | null, groups: string[]): void {
    this.room.release(client);
    buffer.parkedAt = Date.now();
    this.room.enroll(client, buffer);
    client.session = session;
    if (uid === null) this.tables.unbindUid(client);
    else if (client.uid !== uid) this.tables.bindUid(client, uid);
    for (const g of [...(client.groups?.values() ?? [])]) if (!groups.includes(g)) this.tables.leaveGroup(client, g);
    for (const g of groups) this.tables.joinGroup(client, g);
    client.announced = true;
    this.counters.resume.handovers++;
  }

  /**
   * A handed-over client whose new connection closed before its handshake completed: the worker
   * learns where it went (CLIENT_RESUMED), then that it is gone (ON_CLOSE) — the client never
   * learnt its new client_id, so it could not resume it.
   */
  lostAfterHandover(client: ClientConnection, previousClientId: string): void {
    this.forwarder.resumed(client, previousClientId);
    client.final = true;
    this.closed(client);
  }

  /** The first frame of an opted-in connection (before anything else is written to it). */
  welcome(client: ClientConnection, welcome: Omit<ResumeWelcome, 'id' | 'token' | 'window'>): void {
    client.control(welcomeFrame({ id: this.clientIdOf(client), token: client.resume?.token ?? '', window: this.room.options.window, ...welcome }));
  }

  /**
   * A kept client is connected again on `socket`/`ws` (adopted already): the messages after the
   * `received` first ones, in order, before anything new; then CLIENT_RESUMED for the worker.
   */
  resumed(client: ClientConnection, received: number, previousClientId: string): void {
    const room = this.room;
    room.unpark(client);
    room.ack(client, received);
    this.welcome(client, { resumed: true, seq: received, ...(previousClientId !== this.clientIdOf(client) ? { previousId: previousClientId } : {}) });
    for (const frame of client.resume?.after(received) ?? []) client.control(frame as Buffer);
    this.counters.resume.resumes++;
    this.events.emit('resume', this.clientIdOf(client), previousClientId);
    this.forwarder.resumed(client, previousClientId);
  }

  /** A message from the client (`flag`: FLAG_BODY_IS_SCALAR, plus FLAG_BINARY for a binary frame). */
  message(client: ClientConnection, body: Buffer, flag: number): void {
    if (client.closed) return;
    client.pingCount = -1;
    if (client.envelope && body[0] === CONTROL_BYTE) {
      const kind = body[1];
      if (kind === CONTROL_BYTE) body = body.subarray(1); // an escaped application message
      else if (kind === ACK_WITH_MESSAGE) {
        // `\0a<n>;<message>`: the ack, then the message as it is.
        const end = body.indexOf(SEMICOLON, 2);
        if (end < 0) return;
        this.ack(client, body.subarray(2, end));
        body = body.subarray(end + 1);
      } else return this.control(client, body);
    }
    this.counters.messagesIn++;
    this.forwarder.message(client, body, flag);
  }

  /** The client sent what its protocol cannot take (too large, malformed): counted and logged; the listener closes it. */
  rejected(client: ClientConnection | null, peer: string | undefined, reason: string): void {
    this.counters.limits.clientMessageTooLarge++;
    this.limiter.warn(this.logger, 'client-rejected', clientMessageRejected(client ? this.clientIdOf(client) : null, peer ?? '?', reason));
  }

  /** A control frame of the envelope: `\0A<n>` acknowledges n messages. Anything else is ignored (a newer SDK). */
  private control(client: ClientConnection, body: Buffer): void {
    if (body[1] === ACK) this.ack(client, body.subarray(2));
  }

  private ack(client: ClientConnection, digits: Buffer): void {
    if (client.resume === null) return;
    const n = Number(digits.toString('latin1'));
    if (Number.isSafeInteger(n)) this.room.ack(client, n);
  }

  /**
   * The client's connection is gone (or its handshake was refused). A resumable client whose
   * connection broke (not closed on purpose) is kept for the resume window instead: still in the
   * tables, its messages kept, the worker told CLIENT_DISCONNECTED rather than ON_CLOSE.
   */
  closed(client: ClientConnection): void {
    if (client.closed) return;
    if (!client.final && !client.parked && !this.closing && client.announced && this.room.park(client)) {
      this.events.emit('disconnect', this.clientIdOf(client));
      this.forwarder.disconnected(client, this.room.options.window);
      return;
    }
    this.room.release(client);
    client.closed = true;
    // ON_CLOSE carries the session as it is at close time; by the time the worker handles it,
    // the client is gone from the tables (isOnline 0), as in PHP. A client refused at its
    // handshake was never announced: no ON_CLOSE.
    this.forwarder.closed(client);
    this.tables.remove(client);
    if (client.announced) this.events.emit('close', this.clientIdOf(client));
  }
}
