import type { Logger } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { resumeBufferFull, resumeExpired } from '../gateway-worker.messages.js';
import type { LogThrottle } from '../utils/log-throttle.js';
import type { ClientConnection } from './client-connection.js';
import type { GatewayCounters } from './gateway-counters.js';
import { ResumeBuffer } from './resume-buffer.js';

/** The resume settings of a gateway. */
export interface ResumeRoomOptions {
  /** ms a broken connection's client is kept; 0 = off (PHP behaviour). */
  window: number;
  /** Bytes of unacknowledged messages one client may hold. */
  clientBufferSize: number;
  /** Bytes all clients of this process may hold together. */
  totalBufferSize: number;
}

/**
 * The resumable clients of a gateway process (docs/protocol.md §8.4): their
 * tokens and unacknowledged messages, bounded per client and in total, and the clients whose
 * connection broke and who wait, within the window, for the client to come back. Past the window
 * or a bound a waiting client is closed for good — `end` — which sends ON_CLOSE.
 */
export class ResumeRoom {
  private readonly parked = new Set<ClientConnection>();
  /** Bytes held by every client's buffer. */
  private total = 0;

  constructor(
    readonly options: ResumeRoomOptions,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly limiter: LogThrottle,
    private readonly clientIdOf: (client: ClientConnection) => string,
    /** Closes a client for good (ON_CLOSE): its window passed or its buffer overflowed while parked. */
    private readonly end: (client: ClientConnection) => void,
  ) {}

  /** True when broken connections of opted-in clients are kept. */
  get enabled(): boolean {
    return this.options.window > 0;
  }

  /** Clients waiting to be resumed now. */
  get waiting(): number {
    return this.parked.size;
  }

  /** Bytes of unacknowledged messages held now. */
  get bytes(): number {
    return this.total;
  }

  /** Makes an opted-in client resumable (when the window is on): a fresh token and an empty buffer. */
  enroll(client: ClientConnection, buffer = new ResumeBuffer(randomBytes(16).toString('hex'))): void {
    if (!this.enabled) return;
    client.resume = buffer;
    client.resumeRoom = this;
    this.total += buffer.bytes;
  }

  /**
   * Records a message to the client. False when it does not fit the client's or the total bound:
   * a connected client stops being resumable (its messages still go out), a parked one is closed
   * for good.
   */
  record(client: ClientConnection, frame: Buffer | readonly Buffer[], size: number): boolean {
    const r = client.resume!;
    const o = this.options;
    if (r.bytes + size <= o.clientBufferSize && this.total + size <= o.totalBufferSize) {
      r.push(frame, size);
      this.total += size;
      return true;
    }
    this.counters.resume.overflows++;
    const parked = r.parkedAt !== 0;
    this.limiter.warn(this.logger, 'resume-full', resumeBufferFull(this.clientIdOf(client), parked, o.clientBufferSize, o.totalBufferSize));
    if (parked) this.end(client);
    else this.release(client);
    return false;
  }

  /** Closes a waiting client for good (a worker kicked or destroyed it): ON_CLOSE. */
  finish(client: ClientConnection): void {
    this.end(client);
  }

  /** The client acknowledged `n` messages in all. */
  ack(client: ClientConnection, n: number): void {
    if (client.resume) this.total -= client.resume.ack(n);
  }

  /** The client's connection broke: it waits for the window. False when it is not resumable. */
  park(client: ClientConnection): boolean {
    const r = client.resume;
    if (!r || !this.enabled) return false;
    r.parkedAt = Date.now();
    this.parked.add(client);
    this.counters.resume.parked++;
    return true;
  }

  /** The client is back on a connection. */
  unpark(client: ClientConnection): void {
    if (client.resume) client.resume.parkedAt = 0;
    this.parked.delete(client);
  }

  /** The client is gone for good (or moves to another gateway): its buffer is freed. */
  release(client: ClientConnection): void {
    this.parked.delete(client);
    if (client.resume) this.total -= client.resume.clear();
    client.resume = null;
  }

  /** True when `token` is the client's resume token (compared in constant time). */
  static tokenMatches(client: ClientConnection, token: string): boolean {
    const mine = client.resume?.token;
    if (!mine || token.length !== mine.length) return false;
    return timingSafeEqual(Buffer.from(mine), Buffer.from(token));
  }

  /** Closes for good the clients that waited longer than the window. */
  sweep(now = Date.now()): void {
    const deadline = now - this.options.window;
    for (const client of [...this.parked]) {
      if (client.resume!.parkedAt > deadline) continue;
      this.counters.resume.expiries++;
      this.limiter.log(this.logger, 'resume-expired', resumeExpired(this.clientIdOf(client), this.options.window));
      this.end(client);
    }
  }
}
