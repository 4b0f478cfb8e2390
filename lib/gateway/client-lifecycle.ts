import type { Logger } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { clientMessageRejected, tooManyConnections } from '../gateway-worker.messages.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import { ClientConnection, type ClientSendLimit } from './client-connection.js';
import type { EventForwarder } from './event-forwarder.js';
import type { GatewayCounters } from './gateway-counters.js';
import type { GatewayTables } from './gateway-tables.js';
import type { PeerAdmission } from '../utils/peer-admission.js';

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
  ) {}

  /** A client for an accepted socket (not yet in the tables), or null when it must be refused. */
  accept(socket: Socket, protocol: ClientProtocolName, clientIp: number, clientPort: number): ClientConnection | null {
    if (this.closing) return null;
    if (!this.admission.admit(socket)) {
      this.counters.limits.clientConnectionsPerIp++;
      const ip = socket.remoteAddress ?? '';
      this.limiter.warn(this.logger, `per-ip:${ip}`, tooManyConnections(ip, this.maxConnectionsPerIp));
      return null;
    }
    socket.setNoDelay(true);
    return new ClientConnection(this.tables.allocateId(), socket, protocol, clientIp, clientPort, socket.localPort ?? 0, this.sendLimit);
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

  /** A message from the client (`flag`: FLAG_BODY_IS_SCALAR, plus FLAG_BINARY for a binary frame). */
  message(client: ClientConnection, body: Buffer, flag: number): void {
    if (client.closed) return;
    client.pingCount = -1;
    this.counters.messagesIn++;
    this.forwarder.message(client, body, flag);
  }

  /** The client sent what its protocol cannot take (too large, malformed): counted and logged; the listener closes it. */
  rejected(client: ClientConnection | null, peer: string | undefined, reason: string): void {
    this.counters.limits.clientMessageTooLarge++;
    this.limiter.warn(this.logger, 'client-rejected', clientMessageRejected(client ? this.clientIdOf(client) : null, peer ?? '?', reason));
  }

  /** The client's connection is gone (or its handshake was refused). */
  closed(client: ClientConnection): void {
    if (client.closed) return;
    client.closed = true;
    // ON_CLOSE carries the session as it is at close time; by the time the worker handles it,
    // the client is gone from the tables (isOnline 0), as in PHP. A client refused at its
    // handshake was never announced: no ON_CLOSE.
    this.forwarder.closed(client);
    this.tables.remove(client);
    if (client.announced) this.events.emit('close', this.clientIdOf(client));
  }
}
