/**
 * PHP's `(string)` of a scalar, which is what a PHP peer puts on the wire for a scalar body
 * (docs/protocol.md §2.3): ints in decimal, `true` → `"1"`, `false` → `""`, floats with `precision=14`
 * (`0.1 + 0.2` → `"0.3"`, `1e20` → `"1.0E+20"`, `-0.0` → `"-0"`, `NAN`, `INF`). Exact ties at the
 * 14th digit round half up here, half to even in PHP.
 */
export function phpStringCast(value: number | bigint | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '';
  if (Object.is(value, -0)) return '-0';
  if (typeof value === 'bigint' || Number.isSafeInteger(value)) return String(value);
  if (Number.isNaN(value)) return 'NAN';
  if (!Number.isFinite(value)) return value > 0 ? 'INF' : '-INF';
  const sign = value < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(value).toExponential(13).split('e') as [string, string];
  const exp = Number(expText);
  const digits = mantissa.replace('.', '').replace(/0+$/, '');
  if (exp < -4 || exp >= 14) {
    const rest = digits.slice(1) || '0';
    return `${sign}${digits[0]}.${rest}E${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fraction = digits.slice(exp + 1);
  return sign + whole + (fraction ? `.${fraction}` : '');
}
