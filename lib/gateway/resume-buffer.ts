/**
 * The messages a gateway sent to one resumable client that the client has not acknowledged, in
 * order, already framed — shared with the other receivers of a broadcast, not copied
 * (docs/protocol.md §8.4). Message n is the n-th application message sent to the client; `sent`
 * is the last number given, `acked` the client's last ack.
 */
export class ResumeBuffer {
  /** Application messages sent to the client so far (across its connections). */
  sent = 0;
  /** How many the client acknowledged: frames[0] is message `acked + 1`. */
  acked = 0;
  /** Framed messages `acked + 1 … sent`. */
  private frames: (Buffer | readonly Buffer[])[] = [];
  /** Index of the first live frame in `frames` (acked frames are cut in batches, not one shift each). */
  private head = 0;
  /** Bytes held. */
  bytes = 0;
  /** When the connection broke (0 while connected). */
  parkedAt = 0;

  constructor(
    /** The secret the client offers back to resume (32 hex characters). */
    readonly token: string,
  ) {}

  /** Records message `sent + 1`. */
  push(frame: Buffer | readonly Buffer[], size: number): void {
    this.frames.push(frame);
    this.sent++;
    this.bytes += size;
  }

  /** The client received `n` messages in all: frees those. Returns the bytes freed. */
  ack(n: number): number {
    if (!(n > this.acked) || n > this.sent) return 0;
    let freed = 0;
    const frames = this.frames;
    const end = this.head + (n - this.acked);
    for (let i = this.head; i < end; i++) freed += byteLength(frames[i]!);
    this.head = end;
    this.acked = n;
    this.bytes -= freed;
    if (this.head > 64 && this.head * 2 > frames.length) {
      this.frames = frames.slice(this.head);
      this.head = 0;
    }
    return freed;
  }

  /** The frames after message `n`, or null when the client's count does not fit what is held. */
  after(n: number): (Buffer | readonly Buffer[])[] | null {
    if (!Number.isInteger(n) || n < this.acked || n > this.sent) return null;
    return this.frames.slice(this.head + (n - this.acked));
  }

  /** Drops everything held. Returns the bytes freed. */
  clear(): number {
    const freed = this.bytes;
    this.frames = [];
    this.head = 0;
    this.bytes = 0;
    return freed;
  }
}

/** Bytes of a frame given whole or as parts. */
export function byteLength(frame: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(frame)) return frame.length;
  let n = 0;
  for (const p of frame) n += p.length;
  return n;
}
