/**
 * Options of a query that fans out to every gateway.
 *
 * @publicApi
 */
export interface QueryOptions {
  /** Per-gateway timeout in ms. Default: the module's `queryTimeout` (5000). */
  timeout?: number;
  /**
   * What to do when some gateways do not answer in time or are unreachable: `'return'` (default)
   * the merged answer of the others, logging a warning; `'throw'` a `PartialResultError` that
   * carries that answer and the failed gateways.
   */
  partial?: 'return' | 'throw';
}
