/**
 * Microseconds on the monotonic clock (CLOCK_MONOTONIC through `process.hrtime`). Every process on
 * the machine reads the same clock, so a timestamp taken by a sender can be compared with the
 * receipt time in another process.
 */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
