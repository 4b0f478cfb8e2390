import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { formatPhpFloat, phpSerialize, phpUnserialize, phpUnserializeExact } from '../lib/protocol/php-serialize.js';
import { isPhpEmpty, isPhpIntKey, normalizePhpKey, PhpArray, PhpFloat, PhpOpaque } from '../lib/protocol/php-value.js';
import type { PhpExactValue } from '../lib/protocol/php-value.js';
import { arrayReplaceRecursive, mergeSerializedSessions } from '../lib/protocol/php-array-merge.js';
import { PhpSerializeError } from '../lib/errors/php-serialize.error.js';
import { PhpUnserializeError } from '../lib/errors/php-unserialize.error.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const ser = (v: unknown) => phpSerialize(v).toString('utf8');
const roundTripExact = (b: Buffer) => phpSerialize(phpUnserializeExact(b));

/** Asserts that `fn` throws a PhpUnserializeError (and nothing else) and returns it. */
function expectUnserializeError(fn: () => unknown): PhpUnserializeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PhpUnserializeError);
    expect(typeof (e as PhpUnserializeError).offset).toBe('number');
    return e as PhpUnserializeError;
  }
  throw new Error('expected a PhpUnserializeError, nothing was thrown');
}

/** Asserts that `fn` throws a PhpSerializeError and returns it. */
function expectSerializeError(fn: () => unknown): PhpSerializeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PhpSerializeError);
    return e as PhpSerializeError;
  }
  throw new Error('expected a PhpSerializeError, nothing was thrown');
}

// -------------------------------------------------------------------------------------------------
// TV-27

interface Row {
  name: string;
  /** What phpSerialize() is given. */
  value: unknown;
  /** PHP's bytes (hex when the spec gives hex, else the text). */
  hex?: string;
  text?: string;
  /** What plain phpUnserialize() returns. */
  plain: unknown;
}

const TV27: Row[] = [
  { name: "'abc'", value: 'abc', hex: '733a333a22616263223b', plain: 'abc' },
  { name: "''", value: '', hex: '733a303a22223b', plain: '' },
  { name: '42', value: 42, hex: '693a34323b', plain: 42 },
  { name: '-7', value: -7, hex: '693a2d373b', plain: -7 },
  {
    name: 'PHP_INT_MAX',
    value: 9223372036854775807n,
    hex: '693a393232333337323033363835343737353830373b',
    plain: 9223372036854775807n,
  },
  { name: '1.5', value: 1.5, hex: '643a312e353b', plain: 1.5 },
  { name: '0.1', value: 0.1, hex: '643a302e313b', plain: 0.1 },
  { name: '2.0', value: new PhpFloat(2), hex: '643a323b', plain: 2 },
  { name: '1e100', value: 1e100, hex: '643a312e30452b3130303b', plain: 1e100 },
  { name: '1.0E+25', value: 1e25, hex: '643a312e30452b32353b', plain: 1e25 },
  {
    name: '123456789012345678.0',
    value: 123456789012345678.0,
    hex: '643a312e32333435363738393031323334353638452b31373b',
    plain: 123456789012345678.0,
  },
  { name: '1e16', value: new PhpFloat(1e16), text: 'd:10000000000000000;', plain: 1e16 },
  { name: '1e16 as a JS number (not a safe integer)', value: 1e16, text: 'd:10000000000000000;', plain: 1e16 },
  { name: '0.0000001', value: 0.0000001, hex: '643a312e30452d373b', plain: 1e-7 },
  { name: '0.0001', value: 0.0001, text: 'd:0.0001;', plain: 0.0001 },
  { name: '0.00001', value: 0.00001, text: 'd:1.0E-5;', plain: 0.00001 },
  { name: '-0.0', value: -0, hex: '643a2d303b', plain: -0 },
  {
    name: '[INF,-INF,NAN]',
    value: [Infinity, -Infinity, NaN],
    hex: '613a333a7b693a303b643a494e463b693a313b643a2d494e463b693a323b643a4e414e3b7d',
    plain: [Infinity, -Infinity, NaN],
  },
  { name: 'true', value: true, hex: '623a313b', plain: true },
  { name: 'false', value: false, hex: '623a303b', plain: false },
  { name: 'null', value: null, hex: '4e3b', plain: null },
  { name: "'你好é'", value: '你好é', hex: '733a383a22e4bda0e5a5bdc3a9223b', plain: '你好é' },
  {
    name: "['a','b','c']",
    value: ['a', 'b', 'c'],
    hex: '613a333a7b693a303b733a313a2261223b693a313b733a313a2262223b693a323b733a313a2263223b7d',
    plain: ['a', 'b', 'c'],
  },
  { name: '[]', value: [], hex: '613a303a7b7d', plain: [] },
  {
    name: "[0=>'a', 2=>'b']",
    value: PhpArray.from([
      [0, 'a'],
      [2, 'b'],
    ]),
    hex: '613a323a7b693a303b733a313a2261223b693a323b733a313a2262223b7d',
    plain: { 0: 'a', 2: 'b' },
  },
  { name: '"a\\"b;\\0c"', value: 'a"b;\0c', hex: '733a363a226122623b0063223b', plain: 'a"b;\0c' },
];

describe('TV-27 PHP serialize vectors', () => {
  for (const row of TV27) {
    const expected = row.hex !== undefined ? Buffer.from(row.hex, 'hex') : bytes(row.text!);
    it(`serialize ${row.name}`, () => {
      expect(phpSerialize(row.value).toString('hex')).toBe(expected.toString('hex'));
    });
    it(`unserialize ${row.name}`, () => {
      expect(phpUnserialize(expected)).toEqual(row.plain);
      expect(roundTripExact(expected).equals(expected)).toBe(true);
    });
  }

  it('the -0 vector decodes to -0, not 0', () => {
    expect(Object.is(phpUnserialize('d:-0;'), -0)).toBe(true);
    const f = phpUnserializeExact('d:-0;');
    expect(f).toBeInstanceOf(PhpFloat);
    expect(Object.is((f as PhpFloat).value, -0)).toBe(true);
  });

  it('exact mode keeps floats as PhpFloat (d:2; stays d:2;)', () => {
    const v = phpUnserializeExact('a:2:{i:0;d:2;i:1;i:2;}') as PhpArray<PhpExactValue>;
    expect(v.get(0)).toEqual(new PhpFloat(2));
    expect(v.get(1)).toBe(2);
    expect(ser(v)).toBe('a:2:{i:0;d:2;i:1;i:2;}');
  });

  const SESSION_HEX =
    '613a373a7b733a333a22756964223b693a313030313b733a343a226e616d65223b733a333a22546f6d223b733a333a22766970223b623a313b733a353a2273636f7265223b643a392e353b733a343a22726f6f6d223b4e3b733a343a2274616773223b613a323a7b693a303b733a313a2278223b693a313b733a313a2279223b7d733a373a2270726f66696c65223b613a323a7b733a333a22616765223b693a32303b733a343a2263697479223b733a363a22e58c97e4baac223b7d7d';
  const session = {
    uid: 1001,
    name: 'Tom',
    vip: true,
    score: 9.5,
    room: null,
    tags: ['x', 'y'],
    profile: { age: 20, city: '北京' },
  };

  it('typical session: serialize', () => {
    expect(phpSerialize(session).toString('hex')).toBe(SESSION_HEX);
    expect(ser(session)).toBe(
      'a:7:{s:3:"uid";i:1001;s:4:"name";s:3:"Tom";s:3:"vip";b:1;s:5:"score";d:9.5;s:4:"room";N;s:4:"tags";a:2:{i:0;s:1:"x";i:1;s:1:"y";}s:7:"profile";a:2:{s:3:"age";i:20;s:4:"city";s:6:"北京";}}',
    );
  });

  it('typical session: unserialize (plain and exact)', () => {
    const buf = Buffer.from(SESSION_HEX, 'hex');
    expect(phpUnserialize(buf)).toEqual(session);
    const exact = phpUnserializeExact(buf) as PhpArray<PhpExactValue>;
    expect([...exact.keys()]).toEqual(['uid', 'name', 'vip', 'score', 'room', 'tags', 'profile']);
    expect(exact.get('score')).toEqual(new PhpFloat(9.5));
    expect((exact.get('tags') as PhpArray).isList()).toBe(true);
    expect(roundTripExact(buf).equals(buf)).toBe(true);
  });

  it('key normalization vector', () => {
    const expected =
      'a:6:{i:123;s:1:"a";s:4:"0123";s:1:"b";i:-5;s:1:"c";s:3:"1.5";s:1:"d";s:2:" 1";s:1:"e";s:19:"9223372036854775808";s:1:"f";}';
    const obj = { '123': 'a', '0123': 'b', '-5': 'c', '1.5': 'd', ' 1': 'e', '9223372036854775808': 'f' };
    expect(ser(obj)).toBe(expected);
    const entries: [string, string][] = Object.entries(obj);
    expect(ser(PhpArray.from(entries))).toBe(expected);
    expect(ser(new Map(entries))).toBe(expected);
    const exact = phpUnserializeExact(expected) as PhpArray;
    expect([...exact.keys()]).toEqual([123, '0123', -5, '1.5', ' 1', '9223372036854775808']);
    expect(roundTripExact(bytes(expected)).toString()).toBe(expected);
  });

  it('"-0" stays a string key, "123" becomes int 123 when reading', () => {
    const v = phpUnserializeExact('a:2:{s:3:"123";i:1;s:2:"-0";i:2;}') as PhpArray;
    expect([...v.keys()]).toEqual([123, '-0']);
    expect(ser(v)).toBe('a:2:{i:123;i:1;s:2:"-0";i:2;}');
    expect(phpUnserialize('a:2:{s:3:"123";i:1;s:2:"-0";i:2;}')).toEqual({ 123: 1, '-0': 2 });
  });
});

// -------------------------------------------------------------------------------------------------
// Float formatting beyond TV-27

/** An independent implementation of §9.2, straight from the text, to check the fast path against. */
function referenceFloat(v: number): string {
  if (Number.isNaN(v)) return 'NAN';
  if (v === Infinity) return 'INF';
  if (v === -Infinity) return '-INF';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expStr] = Math.abs(v).toExponential().split('e') as [string, string];
  const e = Number(expStr);
  const digits = mant.replace('.', '');
  const sign = v < 0 ? '-' : '';
  if (e < -4 || e >= 17) return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${e < 0 ? '-' : '+'}${Math.abs(e)}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const int = digits.padEnd(e + 1, '0').slice(0, e + 1);
  const frac = digits.slice(e + 1);
  return sign + int + (frac ? `.${frac}` : '');
}

describe('float formatting (§9.2)', () => {
  it.each([
    [2, '2'],
    [100, '100'],
    [1e15, '1000000000000000'],
    [1e16, '10000000000000000'],
    [1e17, '1.0E+17'],
    [1e21, '1.0E+21'],
    [123456789012345678, '1.2345678901234568E+17'],
    [5e-324, '5.0E-324'],
    [0.0001, '0.0001'],
    [0.00001, '1.0E-5'],
    [0.30000000000000004, '0.30000000000000004'],
    [-1.5e-7, '-1.5E-7'],
    [-1e300, '-1.0E+300'],
    [99999999999999990, '99999999999999980'],
    [1.7976931348623157e308, '1.7976931348623157E+308'],
  ])('%s → %s', (v, expected) => {
    expect(formatPhpFloat(v)).toBe(expected);
  });

  it('matches the reference rule and round-trips for arbitrary doubles', () => {
    fc.assert(
      fc.property(fc.double(), (d) => {
        const s = formatPhpFloat(d);
        expect(s).toBe(referenceFloat(d));
        const back = phpUnserialize(`d:${s};`) as number;
        expect(Object.is(back, d)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

// -------------------------------------------------------------------------------------------------
// Other serialize cases

describe('phpSerialize', () => {
  it('plain-object integer-like keys are written as i:', () => {
    expect(ser({ '123': 'a', x: 1 })).toBe('a:2:{i:123;s:1:"a";s:1:"x";i:1;}');
  });

  it('Map keys are normalized, and 1 / "1" collide the PHP way (later value, first position)', () => {
    const m = new Map<unknown, unknown>([
      [1, 'a'],
      ['x', 'c'],
      ['1', 'b'],
    ]);
    expect(ser(m)).toBe('a:2:{i:1;s:1:"b";s:1:"x";s:1:"c";}');
  });

  it('bigints: in range → i:, outside int64 → PhpSerializeError', () => {
    expect(ser(-9223372036854775808n)).toBe('i:-9223372036854775808;');
    expect(ser(5n)).toBe('i:5;');
    expectSerializeError(() => phpSerialize(2n ** 63n));
    expectSerializeError(() => phpSerialize([-(2n ** 63n) - 1n]));
  });

  it('numbers outside the safe integer range are floats', () => {
    expect(ser(2 ** 60)).toBe('d:1.152921504606847E+18;');
    expect(ser(Number.MAX_SAFE_INTEGER)).toBe('i:9007199254740991;');
  });

  it('Buffers and Uint8Arrays are raw byte strings', () => {
    expect(phpSerialize(Buffer.from([0xff, 0x00, 0x22])).equals(latin1('s:3:"\xff\x00\x22";'))).toBe(true);
    expect(phpSerialize(new Uint8Array([0x61])).toString()).toBe('s:1:"a";');
  });

  it('nested undefined is written as N;, holes too', () => {
    expect(ser({ a: undefined, b: 1 })).toBe('a:2:{s:1:"a";N;s:1:"b";i:1;}');
    // eslint-disable-next-line no-sparse-arrays
    expect(ser([1, , 3])).toBe('a:3:{i:0;i:1;i:1;N;i:2;i:3;}');
    expect(ser(undefined)).toBe('N;');
  });

  it('PhpOpaque is written verbatim', () => {
    const o = new PhpOpaque(bytes('O:8:"stdClass":1:{s:1:"a";i:1;}'));
    expect(ser({ o })).toBe('a:1:{s:1:"o";O:8:"stdClass":1:{s:1:"a";i:1;}}');
  });

  it('big int64 keys kept as strings are written as i:', () => {
    const a = new PhpArray().set('9223372036854775807', 1).set(9007199254740993n, 2);
    expect([...a.keys()]).toEqual(['9223372036854775807', '9007199254740993']);
    expect(ser(a)).toBe('a:2:{i:9223372036854775807;i:1;i:9007199254740993;i:2;}');
  });

  it('a lone surrogate is written as U+FFFD (EF BF BD), with a matching length', () => {
    expect(phpSerialize('a\uD800').equals(Buffer.from('s:4:"a\xef\xbf\xbd";', 'latin1'))).toBe(true);
    expect(phpSerialize('\uD800'.repeat(70)).subarray(0, 7).toString()).toBe('s:210:"');
  });

  it('short strings decode correctly whatever the string cache holds', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 17 }), { minLength: 1, maxLength: 50 }), (list) => {
        for (const u of list) {
          const raw = Buffer.from(u);
          const v = phpUnserialize(Buffer.concat([bytes(`s:${raw.length}:"`), raw, bytes('";')]));
          if (isUtf8(raw)) expect(v).toBe(raw.toString('utf8'));
          else expect(Buffer.isBuffer(v) && v.equals(raw)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('long and non-ASCII strings', () => {
    const s = 'é'.repeat(1000) + 'x'.repeat(100_000);
    const out = phpSerialize(s);
    expect(out.subarray(0, 10).toString()).toBe('s:102000:"');
    expect(phpUnserialize(out)).toBe(s);
  });

  it('names the path of a Date: session.profile.birthday', () => {
    const e = expectSerializeError(() =>
      phpSerialize({ uid: 1, profile: { birthday: new Date(0) } }, { rootName: 'session' }),
    );
    expect(e.path).toBe('session.profile.birthday');
    expect(e.message).toContain('session.profile.birthday');
    expect(e.message).toContain('Date');
  });

  it('rejects functions, symbols, class instances and Sets with a path', () => {
    expect(expectSerializeError(() => phpSerialize({ f: () => 1 })).path).toBe('value.f');
    expect(expectSerializeError(() => phpSerialize([1, Symbol('x')])).path).toBe('value[1]');
    class Foo {}
    const e = expectSerializeError(() => phpSerialize({ 'a b': [new Foo()] }));
    expect(e.path).toBe('value["a b"][0]');
    expect(e.message).toContain('Foo');
    expectSerializeError(() => phpSerialize(new Set([1])));
    expectSerializeError(() => phpSerialize(new Map([[{}, 1]])));
    expectSerializeError(() => phpSerialize(new Map([[1.5, 1]])));
  });

  it('rejects cycles (objects, arrays, Maps, PhpArrays)', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    expect(expectSerializeError(() => phpSerialize(o)).message).toContain('circular');
    const arr: unknown[] = [];
    arr.push(arr);
    expect(expectSerializeError(() => phpSerialize(arr)).message).toContain('circular');
    const m = new Map<string, unknown>();
    m.set('m', m);
    expect(expectSerializeError(() => phpSerialize(m)).message).toContain('circular');
    const p = new PhpArray<unknown>();
    p.set('p', p);
    expect(expectSerializeError(() => phpSerialize(p)).message).toContain('circular');
  });

  it('rejects nesting deeper than 512, accepts 512', () => {
    const nest = (n: number) => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    const ok = phpSerialize(nest(512));
    expect(phpUnserialize(ok)).toEqual(nest(512));
    expect(expectSerializeError(() => phpSerialize(nest(513))).message).toContain('deeper than 512');
  });

  it('recovers after an error (the shared buffer is reset)', () => {
    expectSerializeError(() => phpSerialize({ a: 'x'.repeat(10), f: () => 1 }));
    expect(ser({ a: 1 })).toBe('a:1:{s:1:"a";i:1;}');
  });

  it('results do not share memory between calls', () => {
    const a = phpSerialize('first');
    const b = phpSerialize('second');
    expect(a.toString()).toBe('s:5:"first";');
    expect(b.toString()).toBe('s:6:"second";');
  });
});

// -------------------------------------------------------------------------------------------------
// Other unserialize cases

describe('phpUnserialize', () => {
  it('opaque object round trip', () => {
    const raw = 'O:8:"stdClass":1:{s:1:"a";i:1;}';
    const v = phpUnserialize(raw);
    expect(v).toBeInstanceOf(PhpOpaque);
    expect((v as PhpOpaque).raw.toString()).toBe(raw);
    expect((v as PhpOpaque).kind).toBe('O');
    expect(ser(v)).toBe(raw);
    expect(roundTripExact(bytes(raw)).toString()).toBe(raw);
  });

  it('other opaque tokens (C:, E:, r:, R:, S:, nested objects, private props) round trip', () => {
    const data = 'x:i:0;a:0:{};m:a:0:{}';
    const cases = [
      `C:11:"ArrayObject":${data.length}:{${data}}`,
      'E:7:"Foo:Bar";',
      'a:2:{i:0;a:0:{}i:1;R:2;}',
      'a:2:{i:0;O:8:"stdClass":0:{}i:1;r:2;}',
      'S:3:"a\\62c";',
      'O:3:"Foo":2:{s:6:"\0Foo\0p";i:1;s:1:"o";O:3:"Bar":1:{i:0;a:1:{s:1:"k";d:0.5;}}}',
      'a:1:{s:1:"o";O:8:"stdClass":1:{s:1:"b";s:2:"\xff\xfe";}}',
    ];
    for (const c of cases) {
      const b = latin1(c);
      expect(roundTripExact(b).equals(b)).toBe(true);
      expect(phpSerialize(phpUnserialize(b)).equals(b)).toBe(true);
    }
  });

  it('references can be refused', () => {
    expectUnserializeError(() => phpUnserializeExact('a:2:{i:0;i:1;i:1;R:2;}', { allowReferences: false }));
    expectUnserializeError(() =>
      phpUnserialize('O:8:"stdClass":1:{s:1:"a";r:1;}', { allowReferences: false }),
    );
  });

  it('ints: number inside ±(2^53−1), bigint outside, error outside int64', () => {
    expect(phpUnserialize('i:9007199254740991;')).toBe(9007199254740991);
    expect(phpUnserialize('i:-9007199254740991;')).toBe(-9007199254740991);
    expect(phpUnserialize('i:9007199254740992;')).toBe(9007199254740992n);
    expect(phpUnserialize('i:-9223372036854775808;')).toBe(-9223372036854775808n);
    expect(phpUnserialize('i:000000000000000000000000000042;')).toBe(42);
    expect(phpUnserialize('i:+5;')).toBe(5);
    expect(Object.is(phpUnserialize('i:-0;'), 0)).toBe(true);
    expectUnserializeError(() => phpUnserialize('i:9223372036854775808;'));
    expectUnserializeError(() => phpUnserialize('i:-9223372036854775809;'));
    expectUnserializeError(() => phpUnserialize(`i:${'9'.repeat(100_000)};`));
    expect(ser(phpUnserializeExact('i:-9223372036854775808;'))).toBe('i:-9223372036854775808;');
  });

  it('int64 keys outside the safe range become canonical strings and are written back as i:', () => {
    const src = 'a:2:{i:9223372036854775807;s:1:"x";i:-9007199254740993;s:1:"y";}';
    const v = phpUnserializeExact(src) as PhpArray;
    expect([...v.keys()]).toEqual(['9223372036854775807', '-9007199254740993']);
    expect(ser(v)).toBe(src);
    expect(phpUnserialize(src)).toEqual({ '9223372036854775807': 'x', '-9007199254740993': 'y' });
  });

  it('non-UTF-8 strings come back as Buffers and serialize to the same bytes', () => {
    for (const raw of ['\xff\xfe', '\xc0\xaf', '\xed\xa0\x80', 'ok\x80', '\xf4\x90\x80\x80', 'x'.repeat(40) + '\xe9']) {
      const b = latin1(`s:${raw.length}:"${raw}";`);
      const v = phpUnserialize(b);
      expect(Buffer.isBuffer(v)).toBe(true);
      expect((v as Buffer).equals(latin1(raw))).toBe(true);
      expect(phpSerialize(v).equals(b)).toBe(true);
      expect(roundTripExact(b).equals(b)).toBe(true);
    }
    // Valid UTF-8, including a BOM and U+FFFD itself, is a string.
    expect(phpUnserialize(bytes('s:6:"\uFEFF\uFFFD";'))).toBe('\uFEFF\uFFFD');
  });

  it('decoded Buffers do not alias the input', () => {
    const input = latin1('s:2:"\xff\xfe";');
    const v = phpUnserialize(input) as Buffer;
    input.fill(0);
    expect(v.equals(latin1('\xff\xfe'))).toBe(true);
  });

  it('plain mode: non-list arrays become objects, __proto__ is an own key', () => {
    expect(phpUnserialize('a:2:{i:1;s:1:"a";i:0;s:1:"b";}')).toEqual({ 1: 'a', 0: 'b' });
    expect(phpUnserialize('a:2:{i:0;s:1:"a";s:1:"k";i:1;}')).toEqual({ 0: 'a', k: 1 });
    const v = phpUnserialize('a:1:{s:9:"__proto__";a:1:{s:1:"x";i:1;}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(ser(v)).toBe('a:1:{s:9:"__proto__";a:1:{s:1:"x";i:1;}}');
  });

  it('accepts a Uint8Array and a string input', () => {
    expect(phpUnserialize(new Uint8Array(bytes('i:1;')))).toBe(1);
    expect(phpUnserialize('s:2:"é";')).toBe('é');
  });

  it('accepts PHP float spellings it does not produce itself', () => {
    expect(phpUnserialize('d:1.;')).toBe(1);
    expect(phpUnserialize('d:.5;')).toBe(0.5);
    expect(phpUnserialize('d:+1e5;')).toBe(100000);
    expect(phpUnserialize('d:1E-2;')).toBe(0.01);
  });

  it('a nesting of 512 is fine, 513 is not', () => {
    const nest = (n: number) => 'a:1:{i:0;'.repeat(n) + 'N;' + '}'.repeat(n);
    expect(() => phpUnserialize(nest(512))).not.toThrow();
    const e = expectUnserializeError(() => phpUnserialize(nest(513)));
    expect(e.message).toContain('512');
    expectUnserializeError(() => phpUnserialize(nest(100_000)));
    expectUnserializeError(() => phpUnserialize('O:1:"A":1:{i:0;'.repeat(600)));
    expect(() => phpUnserialize(nest(600), { maxDepth: 600 })).not.toThrow();
    expect(() => phpUnserialize('N;', { maxDepth: 0 })).toThrow(RangeError);
    expect(() => phpUnserialize('N;', { maxDepth: 5000 })).toThrow(RangeError);
  });

  it('a caller that has used up most of the stack still gets PhpUnserializeError, not a stack overflow', () => {
    const input = 'a:1:{i:0;'.repeat(2048) + 'N;' + '}'.repeat(2048);
    const dive = (k: number, f: () => unknown): unknown => (k === 0 ? f() : dive(k - 1, f));
    // Find how deep `dive` itself can go here, then parse from a little above that.
    let lo = 0;
    let hi = 1_000_000;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      try {
        dive(mid, () => 0);
        lo = mid;
      } catch {
        hi = mid;
      }
    }
    let outcome: unknown;
    try {
      outcome = dive(Math.max(0, lo - 200), () => phpUnserializeExact(input, { maxDepth: 2048 }));
    } catch (e) {
      outcome = e;
    }
    if (!(outcome instanceof PhpUnserializeError)) throw outcome;
    expect(outcome.message).toContain('call stack');
  });

  it('a huge declared count or length fails at once without allocating', () => {
    const t = Date.now();
    expectUnserializeError(() => phpUnserialize('a:2000000000:{i:0;N;}'));
    expectUnserializeError(() => phpUnserialize('s:2000000000:"abc";'));
    expectUnserializeError(() => phpUnserialize(`s:${'9'.repeat(5000)}:"a";`));
    expectUnserializeError(() => phpUnserialize('O:8:"stdClass":999999999:{}'));
    expectUnserializeError(() => phpUnserialize('C:3:"Foo":999999999:{}'));
    expect(Date.now() - t).toBeLessThan(1000);
  });

  const MALFORMED: [string, string | Buffer][] = [
    ['empty input', ''],
    ['truncated int', 'i:5'],
    ['truncated string', 's:5:"ab'],
    ['truncated array', 'a:2:{i:0;i:1;'],
    ['truncated after N', 'N'],
    ['string length too long', 's:5:"abc";'],
    ['string length too short', 's:2:"abc";'],
    ['string without closing ;', 's:3:"abc"'],
    ['array count larger than entries', 'a:2:{i:0;i:1;}'],
    ['array count smaller than entries', 'a:1:{i:0;i:1;i:1;i:2;}'],
    ['array count larger than the input can hold', 'a:1000:{i:0;i:1;}'],
    ['trailing garbage', 'i:5;x'],
    ['two values', 'N;N;'],
    ['trailing newline', 'b:1;\n'],
    ['unknown type letter', 'x:1;'],
    ['lowercase null', 'n;'],
    ['float key', 'a:1:{d:1.5;i:1;}'],
    ['null key', 'a:1:{N;i:1;}'],
    ['array key', 'a:1:{a:0:{}i:1;}'],
    ['bool key', 'a:1:{b:1;i:1;}'],
    ['non-UTF-8 string key', latin1('a:1:{s:1:"\xff";i:1;}')],
    ['boolean 2', 'b:2;'],
    ['empty float', 'd:;'],
    ['float with two dots', 'd:1.2.3;'],
    ['float word', 'd:abc;'],
    ['float lone dot', 'd:.;'],
    ['float bad exponent', 'd:1e;'],
    ['float -NAN', 'd:-NAN;'],
    ['float INFINITY', 'd:INFINITY;'],
    ['empty int', 'i:;'],
    ['int sign only', 'i:-;'],
    ['int with space', 'i: 1;'],
    ['int overflow', 'i:99999999999999999999;'],
    ['negative string length', 's:-1:"";'],
    ['object property count mismatch', 'O:8:"stdClass":1:{}'],
    ['object class length mismatch', 'O:5:"stdClass":0:{}'],
    ['object without closing brace', 'O:8:"stdClass":0:{'],
    ['custom object data length mismatch', 'C:3:"Foo":5:{x}'],
    ['enum without ;', 'E:7:"Foo:Bar"'],
    ['reference without index', 'r:;'],
    ['escaped string bad escape', 'S:1:"\\zz";'],
    ['escaped string truncated', 'S:5:"ab'],
    ['missing colon', 'a1:{}'],
    ['missing brace', 'a:0:}'],
  ];

  for (const [name, input] of MALFORMED) {
    it(`malformed: ${name}`, () => {
      expectUnserializeError(() => phpUnserialize(input));
      expectUnserializeError(() => phpUnserializeExact(input));
    });
  }

  it('reports the byte offset and what was expected', () => {
    const e = expectUnserializeError(() => phpUnserialize('i:5;x'));
    expect(e.offset).toBe(4);
    expect(e.message).toContain('byte 4');
    expect(e.message).toContain('trailing');
    const e2 = expectUnserializeError(() => phpUnserialize('a:1:{s:1:"k";i:1'));
    expect(e2.offset).toBe(16);
    expect(e2.message).toContain("';'");
    expect(e2.message).toContain('end of input');
    const e3 = expectUnserializeError(() => phpUnserialize('s:3:"ab";'));
    expect(e3.offset).toBe(5);
    // A count the remaining bytes cannot hold is refused at the count itself, before any element.
    const e4 = expectUnserializeError(() => phpUnserialize('a:1000:{i:0;i:1;}'));
    expect(e4.offset).toBe(2);
    expect(e4.message).toContain('bytes left');
  });

  it('wrong input types are PhpUnserializeErrors too', () => {
    expectUnserializeError(() => phpUnserialize(null as unknown as string));
    expectUnserializeError(() => phpUnserialize(42 as unknown as string));
  });
});

// -------------------------------------------------------------------------------------------------
// Values and keys

describe('php-value', () => {
  it('isPhpIntKey / normalizePhpKey follow §0', () => {
    for (const k of ['0', '123', '-5', '9223372036854775807', '-9223372036854775808']) expect(isPhpIntKey(k)).toBe(true);
    for (const k of ['0123', '1.5', ' 1', '-0', '9223372036854775808', '-9223372036854775809', '', '-', '1e3', '+1', '00'])
      expect(isPhpIntKey(k)).toBe(false);
    expect(normalizePhpKey('123')).toBe(123);
    expect(normalizePhpKey('-0')).toBe('-0');
    expect(normalizePhpKey(-0)).toBe(0);
    expect(Object.is(normalizePhpKey(-0), 0)).toBe(true);
    expect(normalizePhpKey('9007199254740991')).toBe(9007199254740991);
    expect(normalizePhpKey('9007199254740992')).toBe('9007199254740992');
    expect(normalizePhpKey(2 ** 60)).toBe('1152921504606846976');
    expect(normalizePhpKey(12n)).toBe(12);
    expect(() => normalizePhpKey(1.5)).toThrow(RangeError);
    expect(() => normalizePhpKey(2 ** 63)).toThrow(RangeError);
    expect(() => normalizePhpKey(NaN)).toThrow(RangeError);
  });

  it('PhpArray: "5" and 5 are one key, order is kept, overwrite keeps position', () => {
    const a = new PhpArray<string>();
    a.set('b', 'x').set(5, 'y').set('a', 'z');
    a.set('5', 'Y');
    expect(a.size).toBe(3);
    expect(a.get(5)).toBe('Y');
    expect(a.has('5')).toBe(true);
    expect([...a.keys()]).toEqual(['b', 5, 'a']);
    expect(a.delete('5')).toBe(true);
    a.set(5, 'again');
    expect([...a]).toEqual([
      ['b', 'x'],
      ['a', 'z'],
      [5, 'again'],
    ]);
    expect([...a.values()]).toEqual(['x', 'z', 'again']);
    expect(a.isList()).toBe(false);
    expect(PhpArray.from(['p', 'q'].entries()).isList()).toBe(true);
    expect(new PhpArray().isList()).toBe(true);
    expect(
      PhpArray.from([
        [1, 'a'],
        [0, 'b'],
      ]).isList(),
    ).toBe(false);
    const c = a.clone();
    c.set('new', 'n');
    expect(a.has('new')).toBe(false);
  });

  it('isPhpEmpty follows PHP empty()', () => {
    for (const v of ['', '0', 0, -0, 0n, null, undefined, false, [], new PhpArray(), new Map(), {}, new PhpFloat(0), Buffer.alloc(0), bytes('0')]) {
      expect(isPhpEmpty(v)).toBe(true);
    }
    for (const v of ['0.0', ' ', 'a', '00', 1, -1, NaN, true, [0], { a: undefined }, new PhpFloat(0.1), new PhpOpaque(bytes('O:8:"stdClass":0:{}')), bytes('00')]) {
      expect(isPhpEmpty(v)).toBe(false);
    }
    expect(isPhpEmpty(Object.create(null))).toBe(true);
  });
});

// -------------------------------------------------------------------------------------------------
// TV-28 and UPDATE_SESSION

describe('TV-28 array_replace_recursive / UPDATE_SESSION', () => {
  const OLD = 'a:4:{s:1:"a";i:1;s:1:"b";a:2:{s:1:"x";i:1;s:1:"y";i:2;}s:1:"l";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}s:1:"s";s:3:"str";}';
  const UPD = 'a:4:{s:1:"b";a:2:{s:1:"y";i:20;s:1:"z";i:30;}s:1:"l";a:1:{i:0;i:9;}s:1:"s";a:1:{s:3:"now";s:5:"array";}s:1:"n";N;}';
  const RESULT =
    'a:5:{s:1:"a";i:1;s:1:"b";a:3:{s:1:"x";i:1;s:1:"y";i:20;s:1:"z";i:30;}s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"s";a:1:{s:3:"now";s:5:"array";}s:1:"n";N;}';

  it('merge result is byte-exact', () => {
    expect(mergeSerializedSessions(OLD, UPD).toString()).toBe(RESULT);
    expect(mergeSerializedSessions(bytes(OLD), bytes(UPD)).toString()).toBe(RESULT);
  });

  it('arrayReplaceRecursive on PhpArrays, inputs untouched', () => {
    const base = phpUnserializeExact(OLD) as PhpArray;
    const upd = phpUnserializeExact(UPD) as PhpArray;
    expect(ser(arrayReplaceRecursive(base, upd))).toBe(RESULT);
    expect(ser(base)).toBe(OLD);
    expect(ser(upd)).toBe(UPD);
    expect(ser(arrayReplaceRecursive(base))).toBe(OLD);
    const more = phpUnserializeExact('a:1:{s:1:"a";i:2;}') as PhpArray;
    expect(ser(arrayReplaceRecursive(base, upd, more))).toBe(RESULT.replace('s:1:"a";i:1;', 's:1:"a";i:2;'));
  });

  it('observed on a live gateway: SET then UPDATE then GET', () => {
    const set = 'a:2:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}}';
    const update = 'a:2:{s:1:"l";a:1:{i:0;i:9;}s:1:"b";b:1;}';
    expect(mergeSerializedSessions(set, update).toString()).toBe(
      'a:3:{s:1:"a";i:1;s:1:"l";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:1:"b";b:1;}',
    );
  });

  it("PHP-falsy current session ('' or '0') takes the update verbatim", () => {
    expect(mergeSerializedSessions('', 'a:1:{s:5:"score";i:10;}').toString()).toBe('a:1:{s:5:"score";i:10;}');
    expect(mergeSerializedSessions('0', 'garbage').toString()).toBe('garbage');
  });

  it('keys match under normalization, floats and opaque objects keep their bytes', () => {
    const cur = 'a:3:{i:5;d:2;s:1:"o";O:8:"stdClass":1:{s:1:"a";i:1;}s:1:"f";d:1.0E+25;}';
    const upd = 'a:1:{s:1:"5";a:0:{}}';
    expect(mergeSerializedSessions(cur, upd).toString()).toBe(
      'a:3:{i:5;a:0:{}s:1:"o";O:8:"stdClass":1:{s:1:"a";i:1;}s:1:"f";d:1.0E+25;}',
    );
    const upd2 = 'a:1:{s:1:"n";E:7:"Foo:Bar";}';
    expect(mergeSerializedSessions(cur, upd2).toString()).toBe(cur.replace('a:3:', 'a:4:').slice(0, -1) + 's:1:"n";E:7:"Foo:Bar";}');
  });

  it('refuses what PHP would crash on, with a PhpUnserializeError', () => {
    const good = 'a:1:{s:1:"a";i:1;}';
    expect(expectUnserializeError(() => mergeSerializedSessions('i:5;', good)).message).toContain('not an array');
    expectUnserializeError(() => mergeSerializedSessions(good, 'b:0;'));
    expectUnserializeError(() => mergeSerializedSessions(good, ''));
    expectUnserializeError(() => mergeSerializedSessions('N;', good));
    expectUnserializeError(() => mergeSerializedSessions('a:1:{', good));
    expectUnserializeError(() => mergeSerializedSessions(good, 'a:1:{s:1:"a";O:8:"stdClass":0:{}}x'));
    // References would be renumbered by the merge: refused.
    expectUnserializeError(() => mergeSerializedSessions('a:2:{i:0;i:1;i:1;R:2;}', good));
  });
});

// -------------------------------------------------------------------------------------------------
// TV-30

describe('TV-30 crc32', () => {
  it('crc32 of a serialized session', () => {
    expect(crc32(bytes('a:1:{s:3:"uid";i:5;}'))).toBe(1386233829);
    expect(crc32(phpSerialize({ uid: 5 }))).toBe(0x52a03fe5);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });
});

// -------------------------------------------------------------------------------------------------
// Properties

const keyArb: fc.Arbitrary<string | number> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.constantFrom(
    '123',
    '0123',
    '-0',
    '-5',
    '1.5',
    ' 1',
    '9223372036854775807',
    '-9223372036854775808',
    '9223372036854775808',
    '9007199254740993',
    '__proto__',
  ),
);

const opaqueArb = fc
  .constantFrom(
    'O:8:"stdClass":1:{s:1:"a";i:1;}',
    'O:8:"stdClass":0:{}',
    'E:7:"Foo:Bar";',
    'C:3:"Foo":3:{abc}',
    'r:1;',
    'S:3:"a\\62c";',
  )
  .map((s) => new PhpOpaque(bytes(s)));

const leafArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double().map((d) => new PhpFloat(d)),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.string({ maxLength: 80 }),
  fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u)),
  opaqueArb,
);

const { value: exactArb } = fc.letrec<{ value: unknown; array: PhpArray<unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leafArb, tie('array')),
  array: fc
    .array(fc.tuple(keyArb, tie('value')), { maxLength: 6 })
    .map((entries) => PhpArray.from(entries)),
}));

/** What a JSON-like value looks like after serialize + plain unserialize (§9.3 list rule). */
function expectedPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expectedPlain);
  if (v !== null && typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.every((k, i) => normalizePhpKey(k) === i)) return keys.map((k) => expectedPlain(obj[k]));
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      Object.defineProperty(out, k, { value: expectedPlain(obj[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** Ways to break a valid serialization. */
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('setGrammar' as const),
    at: fc.nat(),
    byte: fc.constantFrom(...Buffer.from('0123456789:;{}"aisdbNOCErRS-.E').values()),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

function mutate(b: Buffer, m: Mutation): Buffer {
  const at = b.length === 0 ? 0 : m.at % (b.length + 1);
  switch (m.kind) {
    case 'truncate':
      return b.subarray(0, Math.min(at, Math.max(0, b.length - 1)));
    case 'set':
    case 'setGrammar': {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = m.byte;
      return c;
    }
    case 'insert':
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    case 'duplicate':
      return Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]);
  }
}

/** Decodes in both modes; only PhpUnserializeError may escape, and whatever decodes re-serializes. */
function decodeSafely(input: Buffer): void {
  for (const exact of [false, true]) {
    try {
      const v = exact ? phpUnserializeExact(input) : phpUnserialize(input);
      const again = phpSerialize(v);
      // What we write, we can read back.
      phpUnserializeExact(again);
    } catch (e) {
      if (!(e instanceof PhpUnserializeError)) throw e;
    }
  }
}

describe('properties', () => {
  it('(1) exact model: serialize ∘ unserializeExact is the identity on serialize output', () => {
    fc.assert(
      fc.property(exactArb, (v) => {
        const once = phpSerialize(v);
        const twice = phpSerialize(phpUnserializeExact(once));
        expect(twice.toString('hex')).toBe(once.toString('hex'));
      }),
      { numRuns: 2000 },
    );
  });

  it('(2) JSON-like values round trip through serialize / plain unserialize', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 5 }), (v) => {
        expect(phpUnserialize(phpSerialize(v))).toEqual(expectedPlain(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('(2b) objects with int-like and ordinary keys', () => {
    const objArb = fc.dictionary(keyArb.map(String), fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null)), {
      maxKeys: 8,
    });
    fc.assert(
      fc.property(objArb, (o) => {
        expect(phpUnserialize(phpSerialize(o))).toEqual(expectedPlain(o));
      }),
      { numRuns: 1000 },
    );
  });

  it('(3a) arbitrary bytes never throw anything but PhpUnserializeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (u) => decodeSafely(Buffer.from(u))),
      { numRuns: 2000 },
    );
  });

  it('(3b) grammar-shaped token soup never throws anything but PhpUnserializeError', () => {
    const tokenArb = fc.constantFrom(
      'a:', 'i:', 's:', 'd:', 'b:', 'O:', 'C:', 'E:', 'r:', 'R:', 'S:', 'N;', 'b:1;', 'i:0;', 'd:INF;',
      '0', '1', '2', '9', '-', '.', 'e', ':', ';', '{', '}', '"', '\\', 'a:1:{', 's:1:"', '"', 'O:8:"stdClass":',
    );
    fc.assert(
      fc.property(fc.array(tokenArb, { maxLength: 60 }), (tokens) => decodeSafely(bytes(tokens.join('')))),
      { numRuns: 2000 },
    );
  });

  it('(3c) mutated and truncated valid serializations never throw anything but PhpUnserializeError', () => {
    fc.assert(
      fc.property(exactArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (v, ms) => {
        let b = phpSerialize(v);
        for (const m of ms) b = mutate(b, m);
        decodeSafely(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('(3d) every strict prefix of a valid serialization is rejected', () => {
    fc.assert(
      fc.property(exactArb, (v) => {
        const b = phpSerialize(v);
        // The grammar is prefix-free: every value ends with ';' or '}' that a prefix lacks.
        for (let i = 0; i < b.length; i++) expectUnserializeError(() => phpUnserializeExact(b.subarray(0, i)));
      }),
      { numRuns: 300 },
    );
  });
});
