import { PhpUnserializeError } from '../errors/php-unserialize.error.js';
import { phpSerialize, phpUnserializeExact } from './php-serialize.js';
import { PhpArray } from './php-value.js';
import type { PhpExactValue } from './php-value.js';
import { sessionMergeNotArray, sessionMergeUndecodable } from '../gateway-worker.messages.js';

/**
 * PHP `array_replace_recursive($base, ...$replacements)` (docs/protocol.md §9.4) on exact-model arrays.
 *
 * For each `(k, v)` of each replacement, in order: when `base` has `k` and both `base[k]` and `v` are
 * arrays, they are merged recursively; otherwise `base[k] = v` (new keys go at the end; scalars,
 * `null` and opaque values simply replace). Lists merge by index, they are not appended. Keys match
 * under PHP key normalization.
 *
 * Like PHP it returns a new array and leaves the inputs untouched; unchanged sub-arrays and opaque
 * values are shared with the inputs, not copied.
 */
export function arrayReplaceRecursive<V = PhpExactValue>(
  base: PhpArray<V>,
  ...replacements: PhpArray<V>[]
): PhpArray<V> {
  let result = base;
  for (const update of replacements) result = replaceOne(result, update);
  // With no replacements PHP still returns a copy.
  return result === base ? base.clone() : result;
}

function replaceOne<V>(base: PhpArray<V>, update: PhpArray<V>): PhpArray<V> {
  const out = base.clone();
  for (const [k, v] of update) {
    const old = out.get(k);
    if (old instanceof PhpArray && v instanceof PhpArray) {
      // A nested array of a PhpArray<V> is itself one of the V values.
      out.set(k, replaceOne(old as PhpArray<V>, v as PhpArray<V>) as unknown as V);
    } else {
      out.set(k, v);
    }
  }
  return out;
}

function asBuffer(input: Buffer | string): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
}

function describeType(v: PhpExactValue): string {
  if (v === null) return 'null';
  if (v instanceof Buffer) return 'a binary string';
  if (typeof v === 'object') return v.constructor.name;
  return typeof v;
}

function decodeSessionArray(bytes: Buffer, which: 'current session' | 'update'): PhpArray<PhpExactValue> {
  let v: PhpExactValue;
  try {
    // References (r:/R:) index the value slots of the whole serialization; merging moves slots, so
    // they would silently point at the wrong values afterwards. Refuse instead of corrupting.
    v = phpUnserializeExact(bytes, { allowReferences: false });
  } catch (e) {
    if (e instanceof PhpUnserializeError) {
      throw new PhpUnserializeError(sessionMergeUndecodable(which, e.message), e.offset);
    }
    throw e;
  }
  if (!(v instanceof PhpArray)) {
    throw new PhpUnserializeError(sessionMergeNotArray(which, describeType(v)), 0);
  }
  return v;
}

/**
 * The gateway's UPDATE_SESSION rule (§5.7):
 * - when the current session is PHP-falsy (`''` or `'0'`), the update becomes the session verbatim
 *   (not even validated, exactly like PHP);
 * - otherwise `serialize(array_replace_recursive(unserialize(current), unserialize(update)))`, in the
 *   exact model, so untouched parts (float-vs-int, key order, objects) keep their bytes.
 *
 * PHP objects and enums are carried through unchanged as opaque tokens.
 *
 * @returns the new session bytes.
 * @throws PhpUnserializeError when either side is malformed, does not decode to an array, or contains
 *   PHP references (`r:`/`R:`). PHP would crash the gateway process here; the caller should log the
 *   error and keep the old session.
 */
export function mergeSerializedSessions(current: Buffer | string, update: Buffer | string): Buffer {
  const cur = asBuffer(current);
  const upd = asBuffer(update);
  if (cur.length === 0 || (cur.length === 1 && cur[0] === 0x30)) {
    // Verbatim, and a copy: the caller may hand us a view into a pooled socket buffer.
    return Buffer.from(upd);
  }
  const base = decodeSessionArray(cur, 'current session');
  const replacement = decodeSessionArray(upd, 'update');
  return phpSerialize(arrayReplaceRecursive(base, replacement));
}
