/**
 * Set by `gateway-worker start` on the master process it spawns (`'foreground'` or `'daemon'`):
 * that process runs the ProcessManager instead of spawning a master itself.
 */
export const ENV_MASTER = 'GATEWAY_WORKER_MASTER';
