import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { corkForThisTurn } from '../utils/write-batch.js';

const EMPTY = Buffer.alloc(0);

/**
 * One end-client connection held by a gateway process. Kept small (no per-connection timers, no
 * retained upgrade request) because a gateway holds tens of thousands of them.
 */
export class ClientConnection {
  /** The uid bound with bindUid (the string as given), or null. */
  uid: string | null = null;
  /** Group key (PHP-normalized, as a string) → the group as given; null until the first joinGroup. */
  groups: Map<string, string> | null = null;
  /** The session: opaque bytes, normally PHP serialize output; empty when there is none. */
  session: Buffer = EMPTY;
  /** Key of the worker connection this client is bound to. */
  workerKey: string | null = null;
  /** Messages dropped because the client's send buffer was full. */
  dropped = 0;
  closed = false;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly protocol: ClientProtocolName,
    readonly clientIp: number,
    readonly clientPort: number,
    readonly gatewayPort: number,
    readonly bufferLimit: number,
    /** The websocket, for websocket clients (control frames, close handshake). */
    public ws: WebSocket | null = null,
  ) {}

  /**
   * Writes already-framed bytes, coalesced with everything else written to this client in the
   * same event-loop turn. Returns false (and counts a drop) when the send buffer is at its limit,
   * as workerman does: a slow client loses messages rather than growing the gateway's memory.
   */
  write(frame: Buffer | readonly Buffer[]): boolean {
    const socket = this.socket;
    if (this.closed || socket.destroyed) return false;
    if (socket.writableLength >= this.bufferLimit) {
      this.dropped++;
      return false;
    }
    corkForThisTurn(socket);
    if (Buffer.isBuffer(frame)) socket.write(frame);
    else for (const part of frame) socket.write(part);
    return true;
  }
}
