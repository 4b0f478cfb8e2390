import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { corkForThisTurn } from '../utils/write-batch.js';
import type { GatewayCounters } from './gateway-counters.js';

/** What a client connection reports to its gateway. */
export interface ClientOwner {
  readonly counters: GatewayCounters;
  /** The client's send buffer is full (applies `slowClientPolicy`). */
  slowClient(client: ClientConnection): void;
}

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
  /** Heartbeat counter (PROTOCOL.md §5.9): −1 after each message from the client, +1 per sweep. */
  pingCount = -1;
  /** CMD_ON_CONNECT was sent for it, so its close is an event for the worker too. */
  announced = false;
  /**
   * While a websocket handshake is held for a worker's verdict: what was sent to the client
   * meanwhile (workerman's pre-handshake buffer), flushed after the 101 response; null otherwise.
   */
  private held: Buffer[] | null = null;
  private heldBytes = 0;

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
    /** The gateway (shared by all its clients): totals and the slow-client policy. */
    private readonly owner: ClientOwner | null = null,
  ) {}

  /** When the client's decoder started holding a half-received frame (0: it holds none). */
  partialSince = 0;

  /**
   * Writes already-framed bytes, coalesced with everything else written to this client in the
   * same event-loop turn. Returns false (and counts a drop) when the send buffer is at its limit,
   * as workerman does: a slow client loses messages rather than growing the gateway's memory.
   */
  write(frame: Buffer | readonly Buffer[]): boolean {
    const socket = this.socket;
    if (this.closed || socket.destroyed) return false;
    if (this.held !== null) return this.hold(frame);
    if (socket.writableLength >= this.bufferLimit) {
      this.dropped++;
      if (this.owner) {
        this.owner.counters.sendFailures++;
        this.owner.slowClient(this);
      }
      return false;
    }
    if (this.owner) this.owner.counters.messagesOut++;
    corkForThisTurn(socket);
    if (Buffer.isBuffer(frame)) socket.write(frame);
    else for (const part of frame) socket.write(part);
    return true;
  }

  /** Starts holding writes until {@link release} (the handshake is waiting for a verdict). */
  holdWrites(): void {
    this.held ??= [];
  }

  /** True while writes are held. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** Writes what was held (right after the 101 response) and stops holding. */
  release(): void {
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    if (held && held.length) this.write(held);
  }

  private hold(frame: Buffer | readonly Buffer[]): boolean {
    const parts = Buffer.isBuffer(frame) ? [frame] : frame;
    let n = 0;
    for (const p of parts) n += p.length;
    // The same cap as the socket's: a client that never finishes its handshake cannot grow memory.
    if (this.heldBytes + n > this.bufferLimit) {
      this.dropped++;
      return false;
    }
    this.heldBytes += n;
    this.held!.push(...parts);
    return true;
  }
}
