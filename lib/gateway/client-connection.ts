import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { corkForThisTurn } from '../utils/write-batch.js';
import { OutgoingMessage } from './outgoing-message.js';
import { byteLength, type ResumeBuffer } from './resume-buffer.js';
import { escapeFrame } from './resume-frames.js';
import type { ResumeRoom } from './resume-room.js';
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

  // Resumable clients (resume-room.ts, docs/protocol.md §8.4):
  /** The client opted in to the resume envelope (control frames, escaped NUL-leading messages). */
  envelope = false;
  /** Its unacknowledged messages and resume token, while it can resume; null otherwise. */
  resume: ResumeBuffer | null = null;
  /** The room that bounds `resume`. */
  resumeRoom: ResumeRoom | null = null;
  /** Closed on purpose (kick, destroy, a close frame from the client): never kept for a resume. */
  final = false;

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
    /** The connection's socket; a resumed client gets its new connection's. */
    public socket: Socket,
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
    if (this.closed) return false;
    let kept = false;
    let size = -1;
    if (this.envelope) {
      frame = escapeFrame(frame);
      // Kept until acknowledged: a resume replays it, so a broken connection loses nothing.
      if (this.resume !== null) kept = this.resumeRoom!.record(this, frame, (size = byteLength(frame)));
      if (this.closed) return false; // parked and over a bound: closed for good
    }
    // Kept while its connection is down (or its hand-over runs): the resume delivers it.
    if (this.socket.destroyed || (kept && this.resume!.parkedAt !== 0)) return kept;
    if (this.held !== null) {
      if (this.hold(frame)) return true;
      // A kept message must never be skipped: the client's count would no longer match.
      if (kept) this.cut();
      return kept;
    }
    return this.send(frame, size, kept);
  }

  /** The socket part of {@link write}: the send-buffer limit, then the write, corked for the turn. */
  private send(frame: Buffer | readonly Buffer[], size: number, kept: boolean): boolean {
    const socket = this.socket;
    if (socket.destroyed) return kept;
    const queued = socket.writableLength;
    if (queued > 0 && queued + (size < 0 ? byteLength(frame) : size) > this.sendLimit.limit) {
      if (kept) {
        // Resumable: cut rather than drop — the client resumes and gets it, in order.
        this.cut();
        return true;
      }
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

  /** Writes a control frame of the resume envelope (not an application message: not counted, not kept). */
  control(frame: Buffer): void {
    const socket = this.socket;
    if (this.closed || socket.destroyed) return;
    corkForThisTurn(socket);
    socket.write(frame);
  }

  /** True while the client waits, connectionless, to be resumed. */
  get parked(): boolean {
    return this.resume !== null && this.resume.parkedAt !== 0;
  }

  /** A resumed client's new connection (the old one is closed or being cut). */
  adopt(socket: Socket, ws: WebSocket): void {
    this.socket = socket;
    this.ws = ws;
    this.partialSince = 0;
    this.pingCount = -1;
    if (this.paused) ws.pause();
  }

  /** Graceful close after an optional last message; websocket clients get a close frame. */
  kick(message: Buffer | null, code = 1000): void {
    if (this.closed) return;
    this.final = true;
    if (this.parked) return this.resumeRoom!.finish(this);
    if (this.socket.destroyed) return;
    // A handshake still held for a verdict is refused rather than upgraded and closed.
    if (this.held !== null) return refuseUpgrade(this.socket, 403);
    if (message) this.write(new OutgoingMessage(message).framedFor(this.protocol));
    if (this.ws) this.ws.close(code);
    else this.socket.end();
  }

  /** Immediate close for good; pending output is discarded. */
  destroy(): void {
    this.final = true;
    if (this.parked) return this.resumeRoom!.finish(this);
    this.cut();
  }

  /**
   * Immediate close of the connection (a silent or stalled client, or a resumable one that reads
   * too slowly): a resumable client is kept for its window, as when the network breaks.
   */
  cut(): void {
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
    // Already escaped and kept when they were written: only the socket is left to do.
    if (held && held.length) this.send(held, -1, this.resume !== null);
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
