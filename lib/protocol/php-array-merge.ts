import { PhpUnserializeError } from '../errors/php-unserialize.error.js';
import { phpSerialize, phpUnserializeExact } from './php-serialize.js';
import { PhpArray } from './php-value.js';
import { sessionMergeNotArray, sessionMergeUndecodable } from '../gateway-worker.messages.js';
import type { PhpExactValue } from './php-value.js';

/**
 * How {@link replaceRecursiveIn} sees one representation of PHP arrays: the exact model
 * (`PhpArray`, copied as PHP copies) or plain JS objects and arrays (changed in place, as a
 * handler's live session is).
 */
interface ArrayModel<A> {
  isArray(value: unknown): value is A;
  /** The array that receives the merge: a copy (PHP semantics) or the array itself (in place). */
  target(array: A): A;
  entries(array: A): Iterable<[string | number, unknown]>;
  get(array: A, key: string | number): unknown;
  set(array: A, key: string | number, value: unknown): void;
}

/**
 * The one `array_replace_recursive` algorithm (docs/protocol.md §9.4): for each `(k, v)` of
 * `update`, in order, when `base[k]` and `v` are both arrays they merge recursively; otherwise
 * `base[k] = v` (new keys go at the end; scalars, `null` and opaque values simply replace). Lists
 * merge by index, they are not appended.
 */
function replaceRecursiveIn<A>(model: ArrayModel<A>, base: A, update: A): A {
  const out = model.target(base);
  for (const [k, v] of model.entries(update)) {
    const old = model.get(out, k);
    model.set(out, k, model.isArray(old) && model.isArray(v) ? replaceRecursiveIn(model, old, v) : v);
  }
  return out;
}

const exactModel: ArrayModel<PhpArray<unknown>> = {
  isArray: (v): v is PhpArray<unknown> => v instanceof PhpArray,
  target: (a) => a.clone(),
  entries: (a) => a as Iterable<[string | number, unknown]>,
  get: (a, k) => a.get(k),
  set: (a, k, v) => void a.set(k, v),
};

type PlainArray = Record<string, unknown>;
const plainModel: ArrayModel<PlainArray> = {
  isArray: (v): v is PlainArray =>
    v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype),
  target: (a) => a,
  entries: (a) => Object.entries(a),
  get: (a, k) => a[k],
  set: (a, k, v) => void (a[k] = v),
};

/**
 * PHP `array_replace_recursive($base, ...$replacements)` (docs/protocol.md §9.4) on exact-model
 * arrays. Keys match under PHP key normalization. Like PHP it returns a new array and leaves the
 * inputs untouched; unchanged sub-arrays and opaque values are shared with the inputs, not copied.
 */
export function arrayReplaceRecursive<V = PhpExactValue>(base: PhpArray<V>, ...replacements: PhpArray<V>[]): PhpArray<V> {
  let result = base as PhpArray<unknown>;
  for (const update of replacements) result = replaceRecursiveIn(exactModel, result, update as PhpArray<unknown>);
  // With no replacements PHP still returns a copy.
  return (result === base ? base.clone() : result) as PhpArray<V>;
}

/**
 * `array_replace_recursive` on plain values (a handler's session), **in place**: objects and
 * lists merge recursively (lists by index), anything else replaces. Returns `base`. The same
 * algorithm as {@link arrayReplaceRecursive}, so a worker's live session and the gateway's stored
 * one end up equal after an `updateSession`.
 */
export function replaceRecursive<T extends Record<string, any>>(base: T, update: Record<string, any>): T {
  return replaceRecursiveIn(plainModel, base as PlainArray, update as PlainArray) as T;
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
