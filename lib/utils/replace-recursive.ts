const isContainer = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype);

/**
 * PHP's `array_replace_recursive` on plain values, in place: for each key of `update`, two arrays
 * (objects or lists) merge recursively — lists by index, not appended — and anything else replaces.
 * Returns `base`.
 */
export function replaceRecursive<T extends Record<string, any>>(base: T, update: Record<string, any>): T {
  for (const key of Object.keys(update)) {
    const next = update[key];
    const prev = (base as Record<string, unknown>)[key];
    (base as Record<string, unknown>)[key] = isContainer(prev) && isContainer(next) ? replaceRecursive(prev, next) : next;
  }
  return base;
}
