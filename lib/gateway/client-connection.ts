import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { corkForThisTurn } from '../utils/write-batch.js';
import { OutgoingMessage } from './outgoing-message.js';
import { refuseUpgrade } from './websocket-upgrade.js';

/** What a client's writes answer to: the send-buffer limit and who hears when it is reached. */
export interface ClientSendLimit {
  /** Bytes that may be queued for one client. */
  readonly limit: number;
  /** A message was written (counted). */
  sent(): void;
  /** A message did not fit the client's buffer: counts it and applies `slowClientPolicy`. */
  full(client: ClientConnection): void;
}

/** One client event not yet handed to a worker (flow control, no worker, or the worker draining). */
export interface HeldEvent {
  cmd: number;
  body: Buffer;
  flag: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * One end-client connection held by a gateway process. Kept small (no per-connection timers, no
 * retained upgrade request) because a gateway holds tens of thousands of them. It knows how to
 * write to, pause, and close its own socket; what the gateway does with it is decided elsewhere.
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
  /** Heartbeat counter (docs/protocol.md §5.9): −1 after each message from the client, +1 per sweep. */
  pingCount = -1;
  /** CMD_ON_CONNECT was sent for it, so its close is an event for the worker too. */
  announced = false;
  /** When the client's decoder started holding a half-received frame (0: it holds none). */
  partialSince = 0;
  /** The websocket, for websocket clients (control frames, close handshake). */
  ws: WebSocket | null = null;

  // Flow control (event-forwarder.ts): events sent to the worker and not yet confirmed…
  inFlight = 0;
  inFlightBytes = 0;
  /** …their sizes, oldest first (confirmations come back in the client's order). */
  inFlightSizes: number[] | null = null;
  /** Events not yet handed to a worker, in order; null when none. */
  backlog: HeldEvent[] | null = null;

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
    /** The send-buffer limit (shared by all clients of a gateway). */
    private readonly sendLimit: ClientSendLimit,
  ) {}

  /**
   * Writes already-framed bytes, coalesced with everything else written to this client in the
   * same event-loop turn. Returns false (and counts a drop) when the message does not fit the send
   * buffer's limit — a message larger than the whole limit still goes to an empty buffer — so a
   * slow client loses messages (or is closed) rather than growing the gateway's memory.
   */
  write(frame: Buffer | readonly Buffer[]): boolean {
    const socket = this.socket;
    if (this.closed || socket.destroyed) return false;
    if (this.held !== null) return this.hold(frame);
    const queued = socket.writableLength;
    if (queued > 0 && queued + byteLength(frame) > this.sendLimit.limit) {
      this.dropped++;
      this.sendLimit.full(this);
      return false;
    }
    this.sendLimit.sent();
    corkForThisTurn(socket);
    if (Buffer.isBuffer(frame)) socket.write(frame);
    else for (const part of frame) socket.write(part);
    return true;
  }

  /** Graceful close after an optional last message; websocket clients get a close frame. */
  kick(message: Buffer | null, code = 1000): void {
    if (this.closed || this.socket.destroyed) return;
    // A handshake still held for a verdict is refused rather than upgraded and closed.
    if (this.held !== null) return refuseUpgrade(this.socket, 403);
    if (message) this.write(new OutgoingMessage(message).framedFor(this.protocol));
    if (this.ws) this.ws.close(code);
    else this.socket.end();
  }

  /** Immediate close; pending output is discarded. */
  destroy(): void {
    if (this.ws) this.ws.terminate();
    else this.socket.destroy();
  }

  /**
   * Reading from the socket is paused (the client's budget is spent, or no worker can take its
   * events). Read from the socket or websocket itself: a connection is kept as small as it can be.
   */
  get paused(): boolean {
    return this.ws ? this.ws.isPaused : this.socket.isPaused();
  }

  /** Stops reading from the socket: TCP's window then pushes back on the sender. */
  pauseReading(): void {
    if (this.ws) this.ws.pause();
    else this.socket.pause();
  }

  /** Reads from the socket again. */
  resumeReading(): void {
    if (this.closed) return;
    if (this.ws) this.ws.resume();
    else this.socket.resume();
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
    const n = byteLength(frame);
    // The same cap as the socket's: a client that never finishes its handshake cannot grow memory.
    if (this.heldBytes + n > this.sendLimit.limit) {
      this.dropped++;
      this.sendLimit.full(this);
      return false;
    }
    this.heldBytes += n;
    this.held!.push(...parts);
    return true;
  }
}

function byteLength(frame: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(frame)) return frame.length;
  let n = 0;
  for (const p of frame) n += p.length;
  return n;
}
