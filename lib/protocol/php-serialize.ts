import { isUtf8 } from 'node:buffer';
import { PhpSerializeError } from '../errors/php-serialize.error.js';
import { PhpUnserializeError } from '../errors/php-unserialize.error.js';
import { isPhpIntKey, normalizePhpKey, PhpArray, PhpFloat, PhpOpaque } from './php-value.js';
import type { PhpExactValue, PhpKey } from './php-value.js';
import { phpUnserializeInputType, phpUnserializeInvalid, phpUnserializeMaxDepth, phpUnserializeTooDeep } from '../gateway-worker.messages.js';

/*
 * PHP serialize()/unserialize() (docs/protocol.md §9), byte-exact.
 *
 * Both directions run on every event in the hot path (sessions ride along with every packet), so:
 * - the writer fills one growable Buffer with direct byte stores, no intermediate string concatenation;
 * - the reader walks the Buffer with an index, scans integers byte by byte and only builds a JS string
 *   when a PHP string value or key is complete.
 *
 * The reader also faces hostile input (anyone who can set a session, §10): every declared length or
 * count is checked against the bytes that are actually left *before* it is used, nesting is bounded,
 * and every failure is a PhpUnserializeError carrying the byte offset.
 */

// ---------------------------------------------------------------------------------------------------
// Byte constants (plain consts, not a const enum: Vitest transpiles files one by one).

const CH_QUOTE = 0x22;
const CH_PLUS = 0x2b;
const CH_MINUS = 0x2d;
const CH_DOT = 0x2e;
const CH_0 = 0x30;
const CH_1 = 0x31;
const CH_9 = 0x39;
const CH_COLON = 0x3a;
const CH_SEMI = 0x3b;
const CH_BACKSLASH = 0x5c;
const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;
const CH_C = 0x43;
const CH_E = 0x45;
const CH_I = 0x49;
const CH_N = 0x4e;
const CH_O = 0x4f;
const CH_R = 0x52;
const CH_S = 0x53;
const CH_a = 0x61;
const CH_b = 0x62;
const CH_d = 0x64;
const CH_e = 0x65;
const CH_i = 0x69;
const CH_r = 0x72;
const CH_s = 0x73;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Default and hard limits on array/object nesting. Both directions use the same default so that whatever we write we can read back. */
const DEFAULT_MAX_DEPTH = 512;
const HARD_MAX_DEPTH = 2048;

// ---------------------------------------------------------------------------------------------------
// Float formatting (§9.2)

/**
 * Formats a double the way PHP's serialize() does with `serialize_precision = -1` (§9.2): shortest
 * round-trip digits; exponent form (`1.0E+25`, `5.0E-324`) when the decimal exponent is < −4 or ≥ 17;
 * otherwise plain decimal without a trailing `.0` (`2`, `0.0001`, `10000000000000000`). Also `INF`,
 * `-INF`, `NAN` and `-0`.
 */
export function formatPhpFloat(value: number): string {
  if (value !== value) return 'NAN';
  if (value === Infinity) return 'INF';
  if (value === -Infinity) return '-INF';
  if (value === 0) return 1 / value < 0 ? '-0' : '0';
  const abs = value < 0 ? -value : value;
  // In [1e-4, 1e17) the exponent is in [-4, 16] and JS's own toString already prints the shortest
  // digits in plain decimal without ".0" (it only switches to exponents at e ≥ 21 or e ≤ −7).
  if (abs >= 1e-4 && abs < 1e17) return String(value);
  // toExponential() with no argument gives the shortest round-trip digits: "-1.2345e+17", "5e-324".
  const s = value.toExponential();
  const ePos = s.indexOf('e');
  const neg = s.charCodeAt(0) === CH_MINUS;
  const mantissa = s.slice(neg ? 1 : 0, ePos);
  const exp = Number(s.slice(ePos + 1));
  const digits = mantissa.length > 1 ? mantissa.slice(0, 1) + mantissa.slice(2) : mantissa;
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 17) {
    return `${sign}${digits[0]}.${digits.length > 1 ? digits.slice(1) : '0'}E${exp < 0 ? '-' : '+'}${exp < 0 ? -exp : exp}`;
  }
  // Unreachable given the fast path above, kept so the function is correct on its own.
  if (exp >= 0) {
    const intPart = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return frac ? `${sign}${intPart}.${frac}` : `${sign}${intPart}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

// ---------------------------------------------------------------------------------------------------
// Writer

/** A growable output buffer with direct byte stores. */
class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Writes a string known to be ASCII (headers, numbers). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /**
   * Writes `<letter>:<n><end>` for a safe integer `n`, e.g. `i:42;`, `a:3:{`, `s:5:"`, with the digits
   * produced arithmetically: no number-to-string conversion on the hot path.
   */
  intToken(letter: number, n: number, end1: number, end2 = -1): void {
    // Sign + 16 digits + 4 fixed bytes.
    this.reserve(22);
    const b = this.buf;
    let p = this.pos;
    b[p++] = letter;
    b[p++] = CH_COLON;
    if (n < 0) {
      b[p++] = CH_MINUS;
      n = -n;
    }
    if (n < 10) {
      b[p++] = CH_0 + n;
    } else {
      let digits = 1;
      for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
      let q = p + digits;
      p = q;
      while (n >= 10) {
        const next = Math.floor(n / 10);
        b[--q] = CH_0 + (n - next * 10);
        n = next;
      }
      b[--q] = CH_0 + n;
    }
    b[p++] = end1;
    if (end2 >= 0) b[p++] = end2;
    this.pos = p;
  }

  /** Writes one byte. */
  byte(c: number): void {
    this.reserve(1);
    this.buf[this.pos++] = c;
  }

  bytes(src: Uint8Array): void {
    this.reserve(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** `s:<byte length>:"<utf-8 bytes>";` */
  phpString(s: string): void {
    const n = s.length;
    // Most session strings and keys are short ASCII: one pass decides, a second copies.
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.intToken(CH_s, n, CH_COLON, CH_QUOTE);
        this.reserve(n + 2);
        const b = this.buf;
        let p = this.pos;
        for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
        b[p++] = CH_QUOTE;
        b[p++] = CH_SEMI;
        this.pos = p;
        return;
      }
    }
    // Lone surrogates are written as U+FFFD (EF BF BD), as everywhere Node encodes strings; the byte
    // length below counts them the same way, so the header always matches.
    const len = Buffer.byteLength(s, 'utf8');
    this.intToken(CH_s, len, CH_COLON, CH_QUOTE);
    this.reserve(len + 2);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
    this.buf[this.pos++] = CH_QUOTE;
    this.buf[this.pos++] = CH_SEMI;
  }

  /** `s:<length>:"<raw bytes>";` */
  phpBytes(src: Uint8Array): void {
    this.intToken(CH_s, src.length, CH_COLON, CH_QUOTE);
    this.reserve(src.length + 2);
    this.buf.set(src, this.pos);
    this.pos += src.length;
    this.buf[this.pos++] = CH_QUOTE;
    this.buf[this.pos++] = CH_SEMI;
  }

  /** The written bytes as a Buffer of their own. */
  result(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** Internal: a serialize failure on its way up; each container frame adds its key, the top builds the PhpSerializeError. */
class SerializeFailure {
  readonly segments: PhpKey[] = [];
  constructor(
    readonly problem: string,
    readonly hint?: string,
  ) {}
}

/** Options for {@link phpSerialize}. */
export interface PhpSerializeOptions {
  /** Name of the value in error paths, e.g. `'session'` gives `session.profile.birthday`. Default `'value'`. */
  rootName?: string;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

function formatPath(root: string, segments: readonly PhpKey[]): string {
  let out = root;
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function describe(value: unknown): { problem: string; hint?: string } {
  switch (typeof value) {
    case 'function':
      return { problem: `a function${value.name ? ` (${value.name})` : ''}` };
    case 'symbol':
      return { problem: `a symbol (${String(value)})` };
    case 'object': {
      if (value instanceof Date) {
        return { problem: 'a Date', hint: 'Store it as a string (toISOString()) or a number (getTime()) instead.' };
      }
      if (value instanceof Set) return { problem: 'a Set', hint: 'Convert it to an array first ([...set]).' };
      const ctor = (value as { constructor?: { name?: unknown } }).constructor;
      const name = ctor && typeof ctor.name === 'string' && ctor.name ? ctor.name : 'an unknown class';
      return {
        problem: `an instance of ${name}`,
        hint: 'PHP objects cannot be created from TypeScript; convert it to a plain object, or pass a PhpOpaque holding bytes PHP produced.',
      };
    }
    default:
      return { problem: `a value of type ${typeof value}` };
  }
}

/** Walks a value and writes it; one instance per top-level call. */
class Serializer {
  /** Containers on the current path, indexed by depth, for cycle reporting. */
  private readonly stack: object[] = [];

  constructor(readonly w: ByteWriter) {}

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.w.phpString(v);
        return;
      case 'number':
        // -0 is a safe integer for JS but a float for PHP (`d:-0;`).
        if (Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0)) this.w.intToken(CH_i, v, CH_SEMI);
        else this.w.ascii(`d:${formatPhpFloat(v)};`);
        return;
      case 'boolean':
        this.w.ascii(v ? 'b:1;' : 'b:0;');
        return;
      case 'undefined':
        // PHP has no undefined. A nested one (e.g. `{ room: undefined }`) is written as N; so the key
        // survives (JSON.stringify would drop it) and the element count stays what the object shows.
        this.w.ascii('N;');
        return;
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) {
          throw new SerializeFailure(`the bigint ${v}, outside the signed 64-bit range`, 'PHP ints are 64-bit; store it as a string.');
        }
        this.w.ascii(`i:${v};`);
        return;
      case 'object':
        if (v === null) {
          this.w.ascii('N;');
          return;
        }
        this.object(v, depth);
        return;
      default: {
        const d = describe(v);
        throw new SerializeFailure(d.problem, d.hint);
      }
    }
  }

  private object(v: object, depth: number): void {
    // Most common first: JS arrays and plain objects (session data), then the library's own types.
    if (Array.isArray(v)) return this.list(v, depth);
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return this.plainObject(v as Record<string, unknown>, depth);
    if (v instanceof PhpFloat) {
      if (typeof v.value !== 'number') throw new SerializeFailure('a PhpFloat whose value is not a number');
      this.w.ascii(`d:${formatPhpFloat(v.value)};`);
      return;
    }
    if (v instanceof Uint8Array) {
      this.w.phpBytes(v);
      return;
    }
    if (v instanceof PhpOpaque) {
      if (!(v.raw instanceof Uint8Array)) throw new SerializeFailure('a PhpOpaque whose raw is not a Buffer');
      this.w.bytes(v.raw);
      return;
    }
    if (v instanceof PhpArray) return this.phpArray(v as PhpArray<unknown>, depth);
    if (v instanceof Map) return this.map(v as Map<unknown, unknown>, depth);
    const d = describe(v);
    throw new SerializeFailure(d.problem, d.hint);
  }

  /** Depth and cycle guard, called before writing a container's header. */
  private enter(container: object, depth: number): void {
    if (depth >= DEFAULT_MAX_DEPTH) {
      // Only now look for a cycle: the common (acyclic, shallow) case pays nothing for it.
      if (this.stack.includes(container)) {
        throw new SerializeFailure('a circular reference', 'PHP serialize() output cannot hold cycles; break the cycle first.');
      }
      throw new SerializeFailure(
        `nesting deeper than ${DEFAULT_MAX_DEPTH} levels`,
        'phpUnserialize() refuses such input, so it is not written either; flatten the structure.',
      );
    }
    this.stack[depth] = container;
  }

  /** Writes a key: `i:` for PHP integer keys (including canonical int64 strings), `s:` otherwise. */
  private key(k: PhpKey): void {
    if (typeof k === 'number') this.w.intToken(CH_i, k, CH_SEMI);
    else if (isPhpIntKey(k)) this.w.ascii(`i:${k};`);
    else this.w.phpString(k);
  }

  /** @param identity what the cycle check tracks: the Map when `arr` was built from one. */
  private phpArray(arr: PhpArray<unknown>, depth: number, identity: object = arr): void {
    this.enter(identity, depth);
    this.w.intToken(CH_a, arr.size, CH_COLON, CH_LBRACE);
    let key: PhpKey | undefined;
    try {
      for (const [k, v] of arr) {
        key = k;
        this.key(k);
        this.value(v, depth + 1);
      }
    } catch (e) {
      if (e instanceof SerializeFailure && key !== undefined) e.segments.unshift(key);
      throw e;
    }
    this.w.byte(CH_RBRACE);
  }

  private list(arr: unknown[], depth: number): void {
    this.enter(arr, depth);
    const n = arr.length;
    this.w.intToken(CH_a, n, CH_COLON, CH_LBRACE);
    let i = 0;
    try {
      // Holes in sparse arrays read as undefined and are written as N;, keeping keys 0..n−1.
      for (; i < n; i++) {
        this.w.intToken(CH_i, i, CH_SEMI);
        this.value(arr[i], depth + 1);
      }
    } catch (e) {
      if (e instanceof SerializeFailure) e.segments.unshift(i);
      throw e;
    }
    this.w.byte(CH_RBRACE);
  }

  private plainObject(obj: Record<string, unknown>, depth: number): void {
    this.enter(obj, depth);
    // JS enumeration order: integer-like keys first (ascending), then the rest in insertion order.
    // Key normalization cannot merge two keys of one object: only canonical strings become ints.
    const keys = Object.keys(obj);
    this.w.intToken(CH_a, keys.length, CH_COLON, CH_LBRACE);
    let key = '';
    try {
      for (let i = 0; i < keys.length; i++) {
        key = keys[i]!;
        this.key(key);
        this.value(obj[key], depth + 1);
      }
    } catch (e) {
      if (e instanceof SerializeFailure) e.segments.unshift(normalizePhpKey(key));
      throw e;
    }
    this.w.byte(CH_RBRACE);
  }

  private map(m: Map<unknown, unknown>, depth: number): void {
    // Keys 1 and "1" of one Map are one PHP key: normalizing into a PhpArray resolves such
    // collisions the PHP way (the later value wins, at the first position).
    const arr = new PhpArray<unknown>();
    for (const [k, v] of m) {
      try {
        arr.set(k as string | number | bigint, v);
      } catch (e) {
        const f = new SerializeFailure(
          `a Map key that is not a PHP array key (${typeof k === 'symbol' ? String(k) : typeof k === 'object' ? 'an object' : String(k)})`,
          e instanceof Error ? e.message : undefined,
        );
        throw f;
      }
    }
    // The PhpArray is new on every visit, so the Map itself must be what the cycle check sees.
    this.phpArray(arr, depth, m);
  }
}

/** Shared output buffer: serialize is synchronous, so one buffer serves every call that is not nested. */
let scratch: ByteWriter | null = null;
const SCRATCH_KEEP_LIMIT = 1 << 20;

/**
 * PHP `serialize()` (§9.1), byte-exact.
 *
 * | JS value | Written as |
 * |---|---|
 * | `null`, `undefined` (also nested, e.g. an object property) | `N;` |
 * | boolean | `b:0;` / `b:1;` |
 * | number: safe integer (not `-0`) | `i:<n>;` |
 * | number: anything else | `d:<§9.2 repr>;`, e.g. `d:0.5;`, `d:-0;`, `d:INF;`, `d:NAN;` |
 * | bigint within int64 | `i:<n>;` |
 * | string | `s:<UTF-8 byte length>:"…";` |
 * | `Buffer` / `Uint8Array` | `s:<length>:"<raw bytes>";` |
 * | {@link PhpFloat} | `d:…;` |
 * | {@link PhpArray}, `Map`, JS array (keys 0..n−1), plain object (keys in JS enumeration order) | `a:<n>:{…}` with keys normalized (§0): `"123"` is written `i:123;` |
 * | {@link PhpOpaque} | its raw bytes, verbatim |
 *
 * @throws PhpSerializeError for anything else (functions, symbols, Dates, other class instances,
 *   cycles, bigints outside int64, nesting deeper than 512), with the path of the offending value.
 */
export function phpSerialize(value: unknown, options?: PhpSerializeOptions): Buffer {
  // A getter on a plain object could call phpSerialize re-entrantly: it then gets its own buffer.
  let w = scratch;
  scratch = null;
  if (w === null) w = new ByteWriter(256);
  else w.pos = 0;
  try {
    new Serializer(w).value(value, 0);
    return w.result();
  } catch (e) {
    if (e instanceof SerializeFailure) {
      throw new PhpSerializeError(e.problem, formatPath(options?.rootName ?? 'value', e.segments), e.hint);
    }
    if (isStackOverflow(e)) {
      throw new PhpSerializeError('nesting too deep for the remaining call stack', options?.rootName ?? 'value', 'Flatten the structure.');
    }
    throw e;
  } finally {
    // Keep a moderate buffer for the next call; let a huge one go.
    if (w.buf.length <= SCRATCH_KEEP_LIMIT) scratch = w;
  }
}

// ---------------------------------------------------------------------------------------------------
// Reader

/** Options for {@link phpUnserialize} and {@link phpUnserializeExact}. */
export interface PhpUnserializeOptions {
  /** Maximum nesting of arrays and objects. Default 512, at most 2048. Deeper input is rejected. */
  maxDepth?: number;
  /**
   * What to do with PHP references (`r:<n>;` / `R:<n>;`), anywhere in the input, including inside
   * objects. Default `true`: keep each as a {@link PhpOpaque}. `false`: reject the input. A reference
   * is an index into the value slots of the *whole* serialization, so it only stays valid while the
   * structure around it is unchanged; merging sessions uses `false` for that reason.
   */
  allowReferences?: boolean;
}

function describeByte(buf: Buffer, at: number): string {
  if (at >= buf.length) return 'end of input';
  const c = buf[at]!;
  const hex = `0x${c.toString(16).padStart(2, '0')}`;
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}' (${hex})` : `byte ${hex}`;
}

/*
 * Decoded-string cache for short strings: bytes → JS string, direct-mapped by an FNV-1a hash of the
 * bytes. Session keys ("uid", "name", …) and many values repeat on every event; a hit skips the
 * native decode and the UTF-8 check, and hands V8 a string it has already internalized as a property
 * key. Bounded: 4096 slots of at most 16 bytes. Strings are immutable, so sharing them is safe.
 */
const SHORT_STRING_MAX = 16;
const STRING_CACHE_SLOTS = 4096;
const STRING_CACHE_MASK = STRING_CACHE_SLOTS - 1;
const cacheBytes = new Uint8Array(STRING_CACHE_SLOTS * SHORT_STRING_MAX);
/** Length of the cached string's bytes; 0 = empty slot (the empty string never goes through the cache). */
const cacheLength = new Uint8Array(STRING_CACHE_SLOTS);
const cacheString: string[] = new Array<string>(STRING_CACHE_SLOTS).fill('');

/** Walks a Buffer holding one serialized value. One instance per call. */
class Parser {
  pos = 0;
  private depth = 0;
  private readonly end: number;
  /** Bounds of the last string read by {@link readStringBounds}. */
  private strStart = 0;
  private strEnd = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly exact: boolean,
    private readonly maxDepth: number,
    private readonly allowReferences: boolean,
  ) {
    this.end = buf.length;
  }

  fail(expected: string, at: number = this.pos): never {
    throw new PhpUnserializeError(phpUnserializeInvalid(at, expected, describeByte(this.buf, at)), at);
  }

  private expect(byte: number, what: string): void {
    if (this.buf[this.pos] !== byte) this.fail(what);
    this.pos++;
  }

  /** Reads the complete input as one value; anything after it is an error. */
  top(): unknown {
    const v = this.value();
    if (this.pos !== this.end) this.fail('end of input after the value (trailing bytes)');
    return v;
  }

  value(): unknown {
    const buf = this.buf;
    const p = this.pos;
    switch (buf[p]) {
      case CH_N:
        if (buf[p + 1] !== CH_SEMI) this.fail("';' after 'N'", p + 1);
        this.pos = p + 2;
        return null;
      case CH_b: {
        if (buf[p + 1] !== CH_COLON) this.fail("':' after 'b'", p + 1);
        const c = buf[p + 2];
        if (c !== CH_0 && c !== CH_1) this.fail("'0' or '1' (boolean)", p + 2);
        if (buf[p + 3] !== CH_SEMI) this.fail("';' after the boolean", p + 3);
        this.pos = p + 4;
        return c === CH_1;
      }
      case CH_i: {
        this.pos = p + 1;
        this.expect(CH_COLON, "':' after 'i'");
        const v = this.readInt();
        this.expect(CH_SEMI, "';' after the integer");
        return v;
      }
      case CH_d: {
        this.pos = p + 1;
        this.expect(CH_COLON, "':' after 'd'");
        const v = this.readFloat();
        return this.exact ? new PhpFloat(v) : v;
      }
      case CH_s:
        this.pos = p + 1;
        this.readStringBounds();
        return this.decodeString(this.strStart, this.strEnd);
      case CH_a: {
        const count = this.readArrayHeader(p);
        const v = this.exact ? this.exactArray(count) : this.plainArray(count);
        this.depth--;
        this.expect(CH_RBRACE, "'}' closing the array (the element count does not match the elements)");
        return v;
      }
      case CH_O:
      case CH_C:
      case CH_E:
      case CH_r:
      case CH_R:
      case CH_S:
        this.skipOpaque();
        // Copy: never keep a view into the caller's buffer, which may be a pooled socket chunk.
        return new PhpOpaque(Buffer.from(buf.subarray(p, this.pos)));
      default:
        return this.fail(p >= this.end ? 'a value' : 'a value type letter (N, b, i, d, s, a, O, C, E, r, R or S)', p);
    }
  }

  /**
   * `[+-]?[0-9]+` as PHP accepts it (leading zeros allowed). Returns a number inside ±(2^53−1), a
   * bigint outside it, and fails outside int64 (PHP would clamp with a warning; silently changing a
   * value is worse than refusing it).
   */
  private readInt(): number | bigint {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos;
    let p = start;
    let neg = false;
    const c0 = buf[p];
    if (c0 === CH_MINUS) {
      neg = true;
      p++;
    } else if (c0 === CH_PLUS) {
      p++;
    }
    const digitsStart = p;
    let n = 0;
    while (p < end) {
      const c = buf[p]!;
      if (c < CH_0 || c > CH_9) break;
      n = n * 10 + (c - CH_0);
      p++;
    }
    const nd = p - digitsStart;
    if (nd === 0) this.fail('a decimal integer', p);
    this.pos = p;
    // 15 digits always fit a double exactly; `0 - n` turns "-0" into +0.
    if (nd <= 15) return neg ? 0 - n : n;
    let sig = digitsStart;
    while (sig < p - 1 && buf[sig] === CH_0) sig++;
    // More than 19 significant digits cannot be an int64: refuse before BigInt() sees a huge string.
    if (p - sig > 19) this.fail('an integer in the signed 64-bit range', start);
    const abs = BigInt(buf.toString('latin1', sig, p));
    const v = neg ? -abs : abs;
    if (v < INT64_MIN || v > INT64_MAX) this.fail('an integer in the signed 64-bit range', start);
    return v >= SAFE_MIN && v <= SAFE_MAX ? Number(v) : v;
  }

  /** An unsigned length or count (`[0-9]+`); fails when it exceeds `limit` (the bytes that could hold it). */
  private readLength(what: string, limit: number): number {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    let n = 0;
    while (p < this.end) {
      const c = buf[p]!;
      if (c < CH_0 || c > CH_9) break;
      n = n * 10 + (c - CH_0);
      p++;
    }
    if (p === start) this.fail(`a decimal ${what}`, p);
    if (n > limit) {
      this.fail(`a ${what} that fits in the ${this.end - p} bytes left (declared ${n > 1e15 ? 'a huge number' : n})`, start);
    }
    this.pos = p;
    return n;
  }

  /**
   * After the type letter: `:<len>:"<len bytes>";`. Sets strStart/strEnd. Also used for keys.
   * The length is checked against the input before anything is sliced or allocated.
   */
  private readStringBounds(): void {
    this.expect(CH_COLON, "':' after 's'");
    const len = this.readLength('string length', this.end - this.pos);
    this.expect(CH_COLON, "':' after the string length");
    this.expect(CH_QUOTE, "'\"' opening the string");
    const start = this.pos;
    const stop = start + len;
    if (stop + 2 > this.end) this.fail(`${len} string bytes then '";' (the input ends first)`, start);
    if (this.buf[stop] !== CH_QUOTE) this.fail(`'"' after ${len} string bytes (the declared length does not match)`, stop);
    if (this.buf[stop + 1] !== CH_SEMI) this.fail("';' after the string", stop + 1);
    this.pos = stop + 2;
    this.strStart = start;
    this.strEnd = stop;
  }

  /** A JS string when the bytes are valid UTF-8, otherwise a copy of the bytes. */
  private decodeString(a: number, b: number): string | Buffer {
    const n = b - a;
    if (n === 0) return '';
    if (n > SHORT_STRING_MAX) return this.decodeLong(a, b);
    // Short strings (keys above all) repeat on every event: look them up by their bytes first.
    const buf = this.buf;
    let h = 0x811c9dc5;
    for (let i = a; i < b; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 16)) & STRING_CACHE_MASK;
    const base = slot * SHORT_STRING_MAX;
    if (cacheLength[slot] === n) {
      let i = a;
      let o = base;
      while (i < b && cacheBytes[o] === buf[i]) {
        i++;
        o++;
      }
      if (i === b) return cacheString[slot]!;
    }
    let ascii = true;
    for (let i = a; i < b; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    let s: string;
    if (ascii) s = buf.toString('latin1', a, b);
    else if (isUtf8(buf.subarray(a, b))) s = buf.toString('utf8', a, b);
    else return Buffer.from(buf.subarray(a, b));
    // Only valid UTF-8 is cached, so a hit is valid UTF-8 too.
    cacheLength[slot] = n;
    for (let i = a, o = base; i < b; i++, o++) cacheBytes[o] = buf[i]!;
    cacheString[slot] = s;
    return s;
  }

  private decodeLong(a: number, b: number): string | Buffer {
    const buf = this.buf;
    if (b - a <= 32) {
      let i = a;
      while (i < b && buf[i]! < 0x80) i++;
      if (i === b) return buf.toString('latin1', a, b);
    }
    const view = buf.subarray(a, b);
    // isUtf8 rejects overlong forms, encoded surrogates and code points past U+10FFFF, so every
    // string it accepts re-encodes to the same bytes (toString('utf8') keeps a BOM, too).
    if (isUtf8(view)) return buf.toString('utf8', a, b);
    return Buffer.from(view);
  }

  /** After `a` at `p`: `:<count>:{`. Checks the count against the input and enters one nesting level. */
  private readArrayHeader(p: number): number {
    this.pos = p + 1;
    this.expect(CH_COLON, "':' after 'a'");
    // The smallest element is `i:0;N;` (6 bytes), and '}' follows.
    const count = this.readLength('element count', Math.floor((this.end - this.pos) / 6));
    this.expect(CH_COLON, "':' after the element count");
    this.expect(CH_LBRACE, "'{' opening the array");
    if (++this.depth > this.maxDepth) this.fail(`nesting no deeper than ${this.maxDepth} levels`, p);
    return count;
  }

  /**
   * An array key: `i:<n>;` or `s:<len>:"…";`, normalized (PHP normalizes `s:3:"123";` to int 123 when
   * reading, too). Binary (non-UTF-8) string keys are refused: a JS key cannot carry them without
   * changing their bytes, and a changed session key would be silent corruption.
   */
  private readKey(): PhpKey {
    const buf = this.buf;
    const p = this.pos;
    const t = buf[p];
    if (t === CH_i) {
      this.pos = p + 1;
      this.expect(CH_COLON, "':' after 'i'");
      const v = this.readInt();
      this.expect(CH_SEMI, "';' after the integer key");
      // Int64 keys beyond ±(2^53−1) are kept as their canonical decimal string (see PhpKey).
      return typeof v === 'number' ? v : v.toString();
    }
    if (t === CH_s) {
      this.pos = p + 1;
      this.readStringBounds();
      const k = this.decodeString(this.strStart, this.strEnd);
      if (typeof k !== 'string') this.fail('an array key that is valid UTF-8 (binary keys are not supported)', p);
      return normalizePhpKey(k);
    }
    return this.fail("an array key ('i:' or 's:')", p);
  }

  private plainArray(count: number): unknown[] | Record<string, unknown> {
    const list: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const k = this.readKey();
      if (k !== i) {
        // Not a list after all: move what we have into an object and continue there.
        // Plain objects put integer-like keys first in ascending order whatever PHP's order was;
        // use phpUnserializeExact() where the order matters.
        const obj: Record<string, unknown> = {};
        for (let j = 0; j < i; j++) obj[j] = list[j];
        assign(obj, k, this.value());
        for (i++; i < count; i++) {
          const k2 = this.readKey();
          assign(obj, k2, this.value());
        }
        return obj;
      }
      list.push(this.value());
    }
    return list;
  }

  private exactArray(count: number): PhpArray<PhpExactValue> {
    const arr = new PhpArray<PhpExactValue>();
    for (let i = 0; i < count; i++) {
      const k = this.readKey();
      arr.set(k, this.value() as PhpExactValue);
    }
    return arr;
  }

  /** Validates one value without building it (inside opaque tokens). */
  private skipValue(): void {
    const p = this.pos;
    switch (this.buf[p]) {
      case CH_a: {
        const count = this.readArrayHeader(p);
        for (let i = 0; i < count; i++) {
          this.skipKey();
          this.skipValue();
        }
        this.depth--;
        this.expect(CH_RBRACE, "'}' closing the array (the element count does not match the elements)");
        return;
      }
      case CH_s:
        this.pos = p + 1;
        this.readStringBounds();
        return;
      case CH_O:
      case CH_C:
      case CH_E:
      case CH_r:
      case CH_R:
      case CH_S:
        this.skipOpaque();
        return;
      default:
        // Scalars are cheap to decode; reuse the full reader for them.
        this.value();
    }
  }

  /** A key inside an opaque token: any bytes are fine, they are kept verbatim. */
  private skipKey(): void {
    const p = this.pos;
    const t = this.buf[p];
    if (t === CH_i) {
      this.pos = p + 1;
      this.expect(CH_COLON, "':' after 'i'");
      this.readInt();
      this.expect(CH_SEMI, "';' after the integer key");
      return;
    }
    if (t === CH_s) {
      this.pos = p + 1;
      this.readStringBounds();
      return;
    }
    this.fail("a key ('i:' or 's:')", p);
  }

  /** `"<name>"` after a length (`O:`, `C:`, `E:`): the quotes around exactly `len` bytes. */
  private skipQuoted(what: string): void {
    const len = this.readLength(`${what} length`, this.end - this.pos);
    this.expect(CH_COLON, `':' after the ${what} length`);
    this.expect(CH_QUOTE, `'"' opening the ${what}`);
    const stop = this.pos + len;
    if (stop >= this.end) this.fail(`${len} bytes of ${what} then '"' (the input ends first)`, this.pos);
    if (this.buf[stop] !== CH_QUOTE) this.fail(`'"' after the ${what} (the declared length does not match)`, stop);
    this.pos = stop + 1;
  }

  /** Moves past one `O:`, `C:`, `E:`, `r:`, `R:` or `S:` token, validating its structure. */
  private skipOpaque(): void {
    const p = this.pos;
    const t = this.buf[p]!;
    this.pos = p + 1;
    this.expect(CH_COLON, `':' after '${String.fromCharCode(t)}'`);
    switch (t) {
      case CH_O: {
        // O:<len>:"<class>":<count>:{<key><value>…}
        this.skipQuoted('class name');
        this.expect(CH_COLON, "':' after the class name");
        const count = this.readLength('property count', Math.floor((this.end - this.pos) / 6));
        this.expect(CH_COLON, "':' after the property count");
        this.expect(CH_LBRACE, "'{' opening the object");
        if (++this.depth > this.maxDepth) this.fail(`nesting no deeper than ${this.maxDepth} levels`, p);
        for (let i = 0; i < count; i++) {
          this.skipKey();
          this.skipValue();
        }
        this.depth--;
        this.expect(CH_RBRACE, "'}' closing the object (the property count does not match)");
        return;
      }
      case CH_C: {
        // C:<len>:"<class>":<datalen>:{<datalen bytes>}   (no ';')
        this.skipQuoted('class name');
        this.expect(CH_COLON, "':' after the class name");
        const len = this.readLength('data length', this.end - this.pos);
        this.expect(CH_COLON, "':' after the data length");
        this.expect(CH_LBRACE, "'{' opening the custom data");
        const stop = this.pos + len;
        if (stop >= this.end) this.fail(`${len} bytes of custom data then '}' (the input ends first)`, this.pos);
        this.pos = stop;
        this.expect(CH_RBRACE, "'}' after the custom data (the declared length does not match)");
        return;
      }
      case CH_E:
        // E:<len>:"<Class>:<Case>";
        this.skipQuoted('enum name');
        this.expect(CH_SEMI, "';' after the enum name");
        return;
      case CH_r:
      case CH_R:
        if (!this.allowReferences) this.fail('no PHP reference (r:/R:); references are refused here', p);
        this.readLength('reference index', Number.MAX_SAFE_INTEGER);
        this.expect(CH_SEMI, "';' after the reference index");
        return;
      default: {
        // S:<len>:"<len chars, each a byte or \xx>";
        const len = this.readLength('string length', this.end - this.pos);
        this.expect(CH_COLON, "':' after the string length");
        this.expect(CH_QUOTE, "'\"' opening the string");
        const buf = this.buf;
        for (let i = 0; i < len; i++) {
          if (this.pos >= this.end) this.fail('more escaped string characters (the input ends first)');
          if (buf[this.pos] === CH_BACKSLASH) {
            if (!isHex(buf[this.pos + 1]) || !isHex(buf[this.pos + 2])) this.fail('two hex digits after \\', this.pos + 1);
            this.pos += 3;
          } else {
            this.pos++;
          }
        }
        this.expect(CH_QUOTE, "'\"' after the escaped string (the declared length does not match)");
        this.expect(CH_SEMI, "';' after the escaped string");
      }
    }
  }

  /**
   * After `d:`: `NAN`, `INF`, `-INF`, or PHP's number syntax
   * `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`, then `;`.
   */
  private readFloat(): number {
    const buf = this.buf;
    const start = this.pos;
    const c0 = buf[start];
    if (c0 === CH_N) {
      if (buf[start + 1] === 0x41 && buf[start + 2] === CH_N && buf[start + 3] === CH_SEMI) {
        this.pos = start + 4;
        return NaN;
      }
      this.fail("'NAN;'", start);
    }
    if (c0 === CH_I || (c0 === CH_MINUS && buf[start + 1] === CH_I)) {
      const i = c0 === CH_MINUS ? start + 1 : start;
      if (buf[i + 1] === CH_N && buf[i + 2] === 0x46 && buf[i + 3] === CH_SEMI) {
        this.pos = i + 4;
        return c0 === CH_MINUS ? -Infinity : Infinity;
      }
      this.fail("'INF;' or '-INF;'", start);
    }
    let p = start;
    if (c0 === CH_MINUS || c0 === CH_PLUS) p++;
    const intStart = p;
    p = this.skipDigits(p);
    let digits = p - intStart;
    if (buf[p] === CH_DOT) {
      const fracStart = ++p;
      p = this.skipDigits(p);
      digits += p - fracStart;
    }
    if (digits === 0) this.fail('a float (digits, INF, -INF or NAN)', p);
    if (buf[p] === CH_e || buf[p] === CH_E) {
      p++;
      if (buf[p] === CH_MINUS || buf[p] === CH_PLUS) p++;
      const expStart = p;
      p = this.skipDigits(p);
      if (p === expStart) this.fail('exponent digits', p);
    }
    if (buf[p] !== CH_SEMI) this.fail("';' after the float", p);
    this.pos = p + 1;
    // The token is validated above; Number() accepts exactly that syntax ("1.", ".5", "+1e5").
    return Number(buf.toString('latin1', start, p));
  }

  private skipDigits(p: number): number {
    const buf = this.buf;
    while (p < this.end) {
      const c = buf[p]!;
      if (c < CH_0 || c > CH_9) break;
      p++;
    }
    return p;
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= CH_0 && c <= CH_9) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** Sets a key on a plain object; `__proto__` becomes an own property instead of replacing the prototype. */
function assign(obj: Record<string, unknown>, key: PhpKey, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function toBuffer(input: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(input)) return input;
  // A JS string is taken as UTF-8 text, because s:<len> counts UTF-8 bytes.
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new PhpUnserializeError(phpUnserializeInputType(input === null ? 'null' : typeof input), 0);
}

function run(input: Buffer | Uint8Array | string, exact: boolean, options: PhpUnserializeOptions | undefined): unknown {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > HARD_MAX_DEPTH) {
    throw new RangeError(phpUnserializeMaxDepth(HARD_MAX_DEPTH, maxDepth));
  }
  try {
    return new Parser(toBuffer(input), exact, maxDepth, options?.allowReferences ?? true).top();
  } catch (e) {
    // The depth limit keeps recursion to a few thousand frames, but the caller may already be deep
    // in its own stack: a stack overflow must still surface as bad input, not crash the caller.
    if (isStackOverflow(e)) {
      throw new PhpUnserializeError(phpUnserializeTooDeep(), 0);
    }
    throw e;
  }
}

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && e.message.includes('call stack');
}

/**
 * PHP `unserialize()` into plain JS values, for handler code:
 * - an array whose keys are exactly 0..n−1 in order → a JS array; any other array → a plain object
 *   (created with `{}`; integer-like keys come first in ascending order, whatever PHP's order was —
 *   use {@link phpUnserializeExact} when order matters);
 * - int → `number`, or `bigint` outside ±(2^53−1); float → `number` (so `d:2;` becomes `2` and would
 *   be written back as `i:2;`);
 * - string → `string` when the bytes are valid UTF-8, otherwise a `Buffer` (a copy);
 * - `b:` → boolean; `N;` → `null`;
 * - objects, enums and references → {@link PhpOpaque} (never instantiated).
 *
 * A string input is encoded as UTF-8 first.
 *
 * @throws PhpUnserializeError (with the byte offset) for anything that is not exactly one complete,
 *   well-formed value: truncation, wrong lengths or counts, trailing bytes, nesting past `maxDepth`,
 *   unknown type letters, bad keys, non-UTF-8 array keys. Never another error for bad input.
 * @throws RangeError when `options.maxDepth` is not an integer from 1 to 2048 (a programming error).
 */
export function phpUnserialize(input: Buffer | Uint8Array | string, options?: PhpUnserializeOptions): unknown {
  return run(input, false, options);
}

/**
 * PHP `unserialize()` into the exact model ({@link PhpExactValue}): every array is a {@link PhpArray}
 * (order and key types kept), every float a {@link PhpFloat}; strings, ints and opaque tokens as in
 * {@link phpUnserialize}.
 *
 * For every input PHP's serialize() produces (except arrays with non-UTF-8 keys, which are refused),
 * `phpSerialize(phpUnserializeExact(b))` equals `b` byte for byte.
 *
 * @throws PhpUnserializeError as {@link phpUnserialize}.
 * @throws RangeError when `options.maxDepth` is not an integer from 1 to 2048 (a programming error).
 */
export function phpUnserializeExact(input: Buffer | Uint8Array | string, options?: PhpUnserializeOptions): PhpExactValue {
  return run(input, true, options) as PhpExactValue;
}
