import { replaceRecursive } from '../protocol/php-array-merge.js';
import { phpSerialize, phpUnserialize } from '../protocol/php-serialize.js';
import { PhpOpaque } from '../protocol/php-value.js';
import type { SessionTracker } from './session-tracker.js';

/**
 * A client session as handlers see it: a plain object, PHP-serialized on the wire.
 *
 * @publicApi
 */
export type GatewaySession = Record<string, any>;

/**
 * The session of the client whose event is being handled — the only place that holds it. The
 * event context exposes it to handlers (`ctx.session`, `@Session()`), `GatewayService` changes it
 * when a handler calls `setSession`/`updateSession` on the current client, and the write-back
 * reads what must go back to the gateway when the handlers have settled.
 *
 * It decodes lazily: an event whose handlers never look at the session costs no unserialize and
 * sends nothing back.
 */
export class ClientSession {
  private value: GatewaySession | undefined;
  /** Bytes now at the gateway after a `setSession`/`updateSession` of this event; null if none. */
  private written: Buffer | null = null;

  /**
   * @param arrived session bytes the event arrived with (after stale-session correction)
   * @param tracker where writes are recorded, so the next events see them (null for a close event)
   */
  constructor(
    readonly clientId: string,
    readonly arrived: Buffer,
    private readonly tracker: SessionTracker | null,
  ) {}

  /** The live session object (decoded on first use). */
  get(): GatewaySession {
    if (this.value === undefined) this.value = decodeSession(this.arrived);
    return this.value;
  }

  /** Replaces the live session (a handler assigned `ctx.session`). */
  set(value: GatewaySession | null | undefined): void {
    this.value = value ?? {};
  }

  /** Whether the session was ever read or assigned (no write-back is needed otherwise). */
  get touched(): boolean {
    return this.value !== undefined;
  }

  /**
   * `GatewayService.setSession` on the current client: the live session becomes `session`, and
   * `bytes` (what the service sends with CMD_SET_SESSION) is what the gateway now holds.
   */
  replaced(session: GatewaySession, bytes: Buffer): void {
    this.set(session);
    this.record(bytes);
  }

  /**
   * `GatewayService.updateSession` on the current client: merges `partial` into the live session
   * as the gateway merges it into the stored one (PHP `array_replace_recursive`).
   */
  merged(partial: GatewaySession): void {
    this.record(phpSerialize(replaceRecursive(this.get(), structuredClone(partial ?? {}))));
  }

  /**
   * The bytes to write back after the handlers, or null when the gateway already holds this
   * session. Call {@link committed} once they are sent.
   * @throws PhpSerializeError when the session holds values PHP cannot represent
   */
  pendingWrite(): Buffer | null {
    if (!this.touched) return null;
    const bytes = phpSerialize(this.value);
    const base = this.written ?? this.arrived;
    if (bytes.equals(base)) return null;
    // The gateway's bytes may be PHP-written (floats like 2.0, int keys after string keys) and
    // differ from ours for the same content: compare with their canonical form before writing.
    if (this.written === null && bytes.equals(phpSerialize(decodeSession(base)))) return null;
    return bytes;
  }

  /** The write-back of {@link pendingWrite}'s bytes was sent. */
  committed(bytes: Buffer): void {
    this.record(bytes);
  }

  private record(bytes: Buffer): void {
    this.tracker?.written(this.clientId, this.written ?? this.arrived, bytes);
    this.written = bytes;
  }
}

/**
 * Session bytes → plain object. An undecodable or non-array session reads as `{}`; a PHP list
 * (including the empty array `a:0:{}`, which plain decoding gives as `[]`) becomes an object keyed
 * by index, so handlers can always add keys to it.
 */
export function decodeSession(bytes: Buffer): GatewaySession {
  if (bytes.length === 0) return {};
  try {
    const value = phpUnserialize(bytes);
    if (Array.isArray(value)) return { ...value };
    return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof PhpOpaque) ? (value as GatewaySession) : {};
  } catch {
    return {};
  }
}
