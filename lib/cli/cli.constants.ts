/** Environment variable giving a managed process its index among the processes of its tier. */
export const ENV_PROCESS_INDEX = 'GATEWAY_WORKER_PROCESS_INDEX';
/** Environment variable counting reloads: business workers of a new generation get a new worker key. */
export const ENV_GENERATION = 'GATEWAY_WORKER_GENERATION';
/** The IPC message a tier sends to the master once it is serving. */
export const READY_MESSAGE = 'gateway-worker:ready';
/**
 * Set by `gateway-worker start` on the master process it spawns (`'foreground'` or `'daemon'`):
 * that process runs the ProcessManager instead of spawning a master itself.
 */
export const ENV_MASTER = 'GATEWAY_WORKER_MASTER';
