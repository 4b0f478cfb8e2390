import type { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { ClientConnection } from './client-connection.js';
import type { InnerConnection } from './inner-connection.js';

/** What the public listeners need from the gateway server. */
export interface ClientEdgeHost {
  readonly logger: Logger;
  /** True once the gateway is stopping: new connections are refused. */
  readonly closing: boolean;
  /** False when the socket must be refused (`maxConnectionsPerIp`); counted until the client closes. */
  admit(socket: Socket): boolean;
  /** A new client for an accepted socket (not yet in the tables). */
  newClient(socket: Socket, protocol: ClientProtocolName, clientIp: number, clientPort: number): ClientConnection;
  /** The worker this client is bound to (binding it first); null when no worker is connected. */
  route(client: ClientConnection): InnerConnection | null;
  /** Puts a client in the tables without announcing it (a websocket whose handshake is held). */
  addClient(client: ClientConnection): void;
  /** Puts a client in the tables (if not yet) and sends CMD_ON_CONNECT. */
  openClient(client: ClientConnection): void;
  /** A message from the client: CMD_ON_MESSAGE. */
  clientMessage(client: ClientConnection, message: Buffer): void;
  /** The client's connection closed (or its handshake was refused). */
  clientClosed(client: ClientConnection): void;
  /** Forwards an event to the client's worker. */
  sendEvent(cmd: number, client: ClientConnection, body: Buffer, flag?: number): void;
  /** No worker is connected: logs it (after the startup grace). */
  noWorker(client: ClientConnection): void;
  /** client_id of a client, for logs. */
  clientIdOf(client: ClientConnection): string;
}
