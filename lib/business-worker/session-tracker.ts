/** How many not-yet-confirmed session versions are remembered per client. */
const MAX_SUPERSEDED = 16;

interface PendingWrite {
  /** The session this worker last wrote back. */
  after: Buffer;
  /** Versions that write replaced, which events already in flight may still carry. */
  superseded: Buffer[];
}

/**
 * Detects stale sessions without PHP's blocking query (docs/protocol.md §6.5). After a worker writes a
 * session back, events the gateway sent before applying that write still carry an older version.
 * The tracker remembers, per client and only until the gateway confirms, what it wrote and what
 * that replaced: an event carrying a replaced version gets the written one instead; an event
 * carrying anything else reflects a write by someone else (another worker, a GatewayClient) and
 * is taken as it is. Memory is held only while a write is unconfirmed.
 */
export class SessionTracker {
  private readonly pending = new Map<string, PendingWrite>();

  /** Number of clients with an unconfirmed write (for diagnostics and tests). */
  get size(): number {
    return this.pending.size;
  }

  /** The session bytes an event arriving with `ext` should see. */
  resolve(clientId: string, ext: Buffer): Buffer {
    const p = this.pending.get(clientId);
    if (!p) return ext;
    if (ext.equals(p.after)) {
      this.pending.delete(clientId);
      return ext;
    }
    for (const old of p.superseded) if (ext.equals(old)) return p.after;
    this.pending.delete(clientId);
    return ext;
  }

  /** Records that `next` was written over `previous`. */
  written(clientId: string, previous: Buffer, next: Buffer): void {
    const p = this.pending.get(clientId);
    if (p) {
      p.superseded.push(p.after);
      if (p.superseded.length > MAX_SUPERSEDED) p.superseded.shift();
      p.after = next;
    } else {
      this.pending.set(clientId, { after: next, superseded: [previous] });
    }
  }

  /** The client closed. */
  forget(clientId: string): void {
    this.pending.delete(clientId);
  }
}
