/** Pieces at least this large are kept as they are; smaller ones are copied into a staging buffer. */
const KEEP_FROM = 16 * 1024;
/** First staging buffer; it doubles up to STAGING_MAX. */
const STAGING_MIN = 256;
/** A full staging buffer of this size is sealed into the list and a new one started. */
const STAGING_MAX = 64 * 1024;

/**
 * The bytes of one unfinished message, held as a list of chunks so that receiving a message of N
 * bytes costs O(N) however it is split: appending never copies what is already held, and the
 * message is joined once, when it completes (a `Buffer.concat` per chunk costs O(N²): an
 * unfinished 10 MB line sent in 1 KB writes took 23 s of CPU).
 *
 * Small pieces (a 1-byte write is one `data` event) are copied into a staging buffer that doubles
 * up to 64 KiB, so a message dribbled byte by byte costs neither a Buffer object per byte nor
 * more than twice its size in memory. Large pieces are kept by reference: one such piece may be a
 * view into a socket chunk of at most a few times its size, never more.
 */
export class ChunkList {
  private parts: Buffer[] = [];
  private staging: Buffer | null = null;
  private stagingUsed = 0;
  private size = 0;

  /** Bytes held. */
  get length(): number {
    return this.size;
  }

  /** Appends `bytes` (kept by reference when large: the caller must not reuse that memory). */
  append(bytes: Buffer): void {
    const n = bytes.length;
    if (n === 0) return;
    this.size += n;
    if (n >= KEEP_FROM) {
      this.seal();
      this.parts.push(bytes);
      return;
    }
    if (this.staging === null || this.stagingUsed + n > this.staging.length) this.growStaging(n);
    bytes.copy(this.staging!, this.stagingUsed);
    this.stagingUsed += n;
  }

  /**
   * Everything held followed by `last`, as one Buffer (a single copy), and empties the list.
   * With nothing held, `last` itself is returned.
   */
  join(last?: Buffer): Buffer {
    this.seal();
    const parts = this.parts;
    const total = this.size + (last?.length ?? 0);
    this.parts = [];
    this.size = 0;
    if (parts.length === 0) return last ?? Buffer.alloc(0);
    if (last && last.length > 0) parts.push(last);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  /** A copy of the first `n` bytes held (`n` ≤ `length`): for reading a header split across chunks. */
  head(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const p of this.parts) {
      if (at >= n) break;
      at += p.copy(out, at, 0, Math.min(p.length, n - at));
    }
    if (at < n && this.staging) this.staging.copy(out, at, 0, n - at);
    return out;
  }

  /** Makes room for `n` more bytes (n < KEEP_FROM ≤ STAGING_MAX) in the staging buffer. */
  private growStaging(n: number): void {
    const s = this.staging;
    const used = this.stagingUsed;
    if (s === null || s.length >= STAGING_MAX || used + n > STAGING_MAX) {
      // A full-size staging buffer is sealed as it is; the next one starts at full size since
      // the message is evidently long.
      const size = s === null ? Math.max(STAGING_MIN, n) : STAGING_MAX;
      this.seal();
      this.staging = Buffer.allocUnsafe(size);
      return;
    }
    // Double (amortised O(1) per byte): copying the held part again is bounded by what doubling costs.
    const next = Buffer.allocUnsafe(Math.min(STAGING_MAX, Math.max(2 * s.length, used + n)));
    s.copy(next, 0, 0, used);
    this.staging = next;
  }

  /** Moves the filled part of the staging buffer into the list. */
  private seal(): void {
    if (this.staging !== null && this.stagingUsed > 0) this.parts.push(this.staging.subarray(0, this.stagingUsed));
    this.staging = null;
    this.stagingUsed = 0;
  }
}
