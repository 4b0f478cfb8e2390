import { decodeSession, type GatewaySession } from '../business-worker/client-session.js';
import { encodeClientId } from '../protocol/client-id.js';
import { normalizePhpKey, PhpArray, type PhpExactValue, type PhpKey } from '../protocol/php-value.js';
import { ip2long, splitAddress } from '../utils/ip.util.js';

/*
 * Reading query replies (docs/protocol.md §2.9) defensively. A reply comes from whatever listens on a
 * gateway address — our gateway, a PHP gateway, or something broken — so every reader accepts any
 * PHP value and skips what does not have the expected shape instead of throwing.
 */

/** The gateway a reply came from, in the form client_ids are rebuilt from. */
export interface ReplySource {
  /** `"<lanIp>:<lanPort>"` as the Register announced it. */
  readonly address: string;
  /** lanIp as PHP `ip2long` gives it (0 for a hostname: such client_ids cannot be addressed). */
  readonly ip: number;
  /** lanPort. */
  readonly port: number;
}

/** The {@link ReplySource} of a Register address. */
export function replySource(address: string): ReplySource {
  const parts = splitAddress(address);
  return { address, ip: ip2long(parts?.host), port: parts?.port ?? 0 };
}

const NO_ENTRIES: readonly [PhpKey, PhpExactValue][] = [];
const NO_VALUES: readonly PhpExactValue[] = [];

/** The entries of a PHP array reply, in order; none for any other value. */
export function entriesOf(value: PhpExactValue | undefined): Iterable<[PhpKey, PhpExactValue]> {
  return value instanceof PhpArray ? value.entries() : NO_ENTRIES;
}

/** The values of a PHP array reply, in order; none for any other value. */
export function valuesOf(value: PhpExactValue | undefined): Iterable<PhpExactValue> {
  return value instanceof PhpArray ? value.values() : NO_VALUES;
}

/** A PHP int as a JS number, or null for anything else (floats, strings, out-of-range ints). */
export function intOf(value: PhpExactValue | undefined): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

/**
 * A uid or group as TypeScript callers use it: a string. PHP strings (also non-UTF-8 ones) and
 * ints (PHP turns numeric group keys into ints) become their text; anything else is null.
 */
export function textOf(value: PhpExactValue | PhpKey | undefined): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return null;
}

/** The identity of a uid or group under PHP's array-key rules (`"42"` and `42` are one key). */
export function keyOf(text: string): string {
  return String(normalizePhpKey(text));
}

/** The client_id of connection `connectionId` on `source`, or null when it is not a valid connection id. */
export function clientIdOf(source: ReplySource, connectionId: PhpExactValue | PhpKey | undefined): string | null {
  const id = typeof connectionId === 'string' ? Number(connectionId) : connectionId;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffffffff) return null;
  return encodeClientId(source.ip, source.port, id);
}

/** A session string inside a reply (PHP serialize bytes) as the plain object handlers see; `{}` when empty or unreadable. */
export function sessionOf(value: PhpExactValue | undefined): GatewaySession {
  if (typeof value === 'string') return asSession(decodeSession(Buffer.from(value)));
  if (Buffer.isBuffer(value)) return asSession(decodeSession(value));
  return {};
}

/**
 * A decoded session as an object. PHP arrays whose keys are 0..n−1 — above all the empty session
 * `a:0:{}` a PHP worker writes for `$_SESSION = []` — decode to JS arrays; a session is a
 * `Record`, so they become `{}` / `{"0": …}`.
 */
export function asSession(value: unknown): GatewaySession {
  if (Array.isArray(value)) return Object.assign({}, value);
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) ? (value as GatewaySession) : {};
}

/**
 * Sets `record[key]`. A key of `"__proto__"` (a legal group or uid) is defined as an own property
 * instead of replacing the record's prototype.
 */
export function setEntry<V>(record: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
