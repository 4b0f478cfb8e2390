import { phpKeyNotInt64, phpKeyOutOfRange, phpKeyWrongType } from '../gateway-worker.messages.js';

/**
 * The data model for PHP serialize() values (docs/protocol.md §0, §9.3).
 *
 * Two views exist:
 * - the *exact* model ({@link PhpExactValue}): every PHP array is a {@link PhpArray} (an ordered map
 *   with PHP key rules), every PHP float a {@link PhpFloat}; it re-serializes byte-for-byte;
 * - the *plain* model: JS arrays, plain objects and numbers, which is what handler code wants to see
 *   but loses int-vs-float and the order of integer-like object keys.
 */

/**
 * A normalized PHP array key.
 *
 * - `number`: an integer key within ±(2^53−1), the only range a JS number holds exactly;
 * - `string`: every other key. That includes integer keys outside ±(2^53−1) but inside int64, which
 *   are kept as their canonical decimal string (e.g. `"9223372036854775807"`). Such a string is still an
 *   *integer* key for PHP: the serializer writes it as `i:<n>;`, because it decides `i:` vs `s:` with
 *   {@link isPhpIntKey} on the string form. Using one representation per key (never both a bigint and a
 *   string) keeps key identity a plain `Map` lookup.
 */
export type PhpKey = number | string;

/** A value in the exact model: what `phpUnserializeExact()` returns and `phpSerialize()` re-emits byte-exactly. */
export type PhpExactValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | PhpFloat
  | PhpOpaque
  | PhpArray<PhpExactValue>;

const INT64_MAX_DIGITS = '9223372036854775807';
const INT64_MIN_ABS_DIGITS = '9223372036854775808';
const INT64_MIN_NUMBER = -(2 ** 63);
const INT64_LIMIT_NUMBER = 2 ** 63;

/**
 * True when `key` is a PHP *integer* array key: a safe-integer number, or a string that is a
 * canonical decimal integer (`^(0|-?[1-9][0-9]*)$`) inside the signed 64-bit range (§0).
 * `"0123"`, `"1.5"`, `" 1"`, `"-0"` and `"9223372036854775808"` are not.
 *
 * Runs on every string key the serializer writes, so it is a byte scan, not a regex.
 */
export function isPhpIntKey(key: string | number): boolean {
  if (typeof key === 'number') return Number.isSafeInteger(key);
  const n = key.length;
  // Shortest "0", longest "-9223372036854775808" (20 chars).
  if (n === 0 || n > 20) return false;
  let i = 0;
  const neg = key.charCodeAt(0) === 0x2d;
  if (neg) {
    if (n === 1) return false;
    i = 1;
  }
  const first = key.charCodeAt(i);
  // A leading zero is only canonical for "0" itself; "-0" is a string key in PHP.
  if (first === 0x30) return n === 1;
  if (first < 0x31 || first > 0x39) return false;
  for (let j = i + 1; j < n; j++) {
    const c = key.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  const digits = n - i;
  if (digits < 19) return true;
  if (digits > 19) return false;
  // Same-length digit strings compare like the numbers they spell.
  return neg ? key.slice(1) <= INT64_MIN_ABS_DIGITS : key <= INT64_MAX_DIGITS;
}

/**
 * Applies PHP's array-key rule (§0) so that `"123"` and `123` are the same key.
 *
 * - a string that {@link isPhpIntKey} accepts becomes a `number` when it is a safe integer, and
 *   otherwise stays as its (already canonical) decimal string — see {@link PhpKey};
 * - any other string is returned unchanged;
 * - a number must be an integer inside int64: safe integers are returned as is (`-0` becomes `0`),
 *   larger ones become their decimal string;
 * - a bigint inside int64 is treated like the equivalent number.
 *
 * @throws RangeError for a non-integer number or an integer outside int64 (PHP would silently
 *   truncate floats; that is almost always a bug in the caller).
 * @throws TypeError for any other key type.
 */
export function normalizePhpKey(key: string | number | bigint): PhpKey {
  if (typeof key === 'string') {
    if (!isPhpIntKey(key)) return key;
    // Up to 15 digits (plus sign) is always a safe integer; beyond that, check.
    if (key.length <= 15) return Number(key);
    const n = Number(key);
    return Number.isSafeInteger(n) ? n : key;
  }
  if (typeof key === 'number') {
    if (Number.isSafeInteger(key)) return key === 0 ? 0 : key;
    if (Number.isInteger(key) && key >= INT64_MIN_NUMBER && key < INT64_LIMIT_NUMBER) {
      return BigInt(key).toString();
    }
    throw new RangeError(phpKeyNotInt64(key));
  }
  if (typeof key === 'bigint') {
    if (key >= -(2n ** 63n) && key < 2n ** 63n) return normalizePhpKey(key.toString());
    throw new RangeError(phpKeyOutOfRange(key));
  }
  throw new TypeError(phpKeyWrongType(typeof key));
}

/**
 * A PHP float. Wrapping it keeps int and float apart in the exact model, so `d:2;` does not come back
 * as `i:2;` after a decode/encode round trip (§9.3).
 */
export class PhpFloat {
  /** @param value the IEEE-754 double; `-0`, `Infinity` and `NaN` are allowed. */
  constructor(readonly value: number) {}
}

/**
 * A serialized PHP object, enum, custom-serialized object, reference or old escaped string
 * (`O:`, `C:`, `E:`, `r:`, `R:`, `S:`), kept as its exact bytes.
 *
 * PHP classes are never instantiated from untrusted data (§10); the token is carried through and
 * re-emitted verbatim by the serializer, so PHP workers get their objects back unchanged.
 *
 * @publicApi
 */
export class PhpOpaque {
  /** @param raw the complete token, e.g. `O:8:"stdClass":1:{s:1:"a";i:1;}`. Not validated when built by hand. */
  constructor(readonly raw: Buffer) {}

  /** The type letter of the token (`'O'`, `'C'`, `'E'`, `'r'`, `'R'` or `'S'`), for logging. */
  get kind(): string {
    return this.raw.length > 0 ? String.fromCharCode(this.raw[0]!) : '';
  }
}

/**
 * A PHP array: an ordered map whose keys follow PHP's rules. Every key passes through
 * {@link normalizePhpKey} on `set`/`get`/`has`/`delete`, so `arr.get("5")` finds the entry set with
 * `arr.set(5, …)`. Insertion order is kept and is what the serializer writes; overwriting a key keeps
 * its position, as in PHP.
 */
export class PhpArray<V = unknown> implements Iterable<[PhpKey, V]> {
  private readonly map = new Map<PhpKey, V>();

  /** Builds an array from `[key, value]` pairs, in order; a repeated key overwrites in place. */
  static from<V>(entries: Iterable<readonly [string | number | bigint, V]>): PhpArray<V> {
    const arr = new PhpArray<V>();
    for (const [k, v] of entries) arr.set(k, v);
    return arr;
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** The value at `key`, or `undefined` when absent. */
  get(key: string | number | bigint): V | undefined {
    return this.map.get(normalizePhpKey(key));
  }

  /** Sets `key` to `value`: appended when new, replaced in place otherwise. */
  set(key: string | number | bigint, value: V): this {
    this.map.set(normalizePhpKey(key), value);
    return this;
  }

  /** True when `key` is present (PHP `array_key_exists`, so a `null` value counts). */
  has(key: string | number | bigint): boolean {
    return this.map.has(normalizePhpKey(key));
  }

  /** Removes `key`; true when it was present. */
  delete(key: string | number | bigint): boolean {
    return this.map.delete(normalizePhpKey(key));
  }

  /** A shallow copy (nested arrays are shared), like PHP's copy-on-assign of the outer array. */
  clone(): PhpArray<V> {
    const copy = new PhpArray<V>();
    for (const [k, v] of this.map) copy.map.set(k, v);
    return copy;
  }

  /** Keys in order (normalized: see {@link PhpKey}). */
  keys(): IterableIterator<PhpKey> {
    return this.map.keys();
  }

  /** Values in order. */
  values(): IterableIterator<V> {
    return this.map.values();
  }

  /** `[key, value]` pairs in order. */
  entries(): IterableIterator<[PhpKey, V]> {
    return this.map.entries();
  }

  /** Same as {@link entries}. */
  [Symbol.iterator](): IterableIterator<[PhpKey, V]> {
    return this.map.entries();
  }

  /** True when the keys are exactly `0, 1, …, size−1` in that order (PHP 8.1 `array_is_list`). */
  isList(): boolean {
    let i = 0;
    for (const k of this.map.keys()) {
      if (k !== i) return false;
      i++;
    }
    return true;
  }
}

/**
 * PHP's `empty()` (§0): true for `''`, `'0'`, `0`, `-0`, `0n`, `0.0` (also as a {@link PhpFloat}),
 * `null`, `undefined`, `false`, an empty JS array, an empty {@link PhpArray} or `Map`, an empty plain
 * object, and a Buffer holding `''` or `'0'`. Everything else, including `NaN`, `'0.0'`, `' '` and
 * objects ({@link PhpOpaque}), is non-empty, as in PHP.
 *
 * It decides whether a uid or group is silently rejected, so uid `"0"` cannot be bound (§5.7).
 */
export function isPhpEmpty(value: unknown): boolean {
  switch (typeof value) {
    case 'undefined':
      return true;
    case 'boolean':
      return !value;
    case 'number':
      return value === 0;
    case 'bigint':
      return value === 0n;
    case 'string':
      return value === '' || value === '0';
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) return value.length === 0;
      if (value instanceof PhpArray || value instanceof Map) return value.size === 0;
      if (value instanceof PhpFloat) return value.value === 0;
      if (value instanceof Uint8Array) return value.length === 0 || (value.length === 1 && value[0] === 0x30);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        for (const k in value) if (Object.prototype.hasOwnProperty.call(value, k)) return false;
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}
