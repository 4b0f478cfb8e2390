/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Smallest finite value (NaN when none). */
export const min = (values: readonly number[]) => finiteOr(Math.min(...values.filter(Number.isFinite)));
/** Largest finite value (NaN when none). */
export const max = (values: readonly number[]) => finiteOr(Math.max(...values.filter(Number.isFinite)));
const finiteOr = (x: number) => (Number.isFinite(x) ? x : NaN);

/** The p-th percentile (0..100) by nearest rank; sorts `values` in place. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[rank]!;
}

/**
 * Element-wise ratio a[i] / b[i] of two equally long series (runs paired by index). Pairs with a
 * missing or non-positive value are left out: a negative memory delta is noise, not a ratio.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => (x > 0 && b[i]! > 0 ? x / b[i]! : NaN)).filter(Number.isFinite);
}
