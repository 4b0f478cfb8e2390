import type { ProcessStats } from './process-stats.js';

/** What is known of a PHP peer: where it is and what it is, nothing it would have to report. */
const unknownFigures = { pid: 0, memory: 0, sendFailures: 0, totalRequests: 0, qps: 0, startedAt: 0 } as const;

/**
 * A PHP BusinessWorker connected to a TypeScript gateway, from the gateway's side: its worker key
 * (`"<remoteIp>:<name>:<index>"`, as the gateway registered it) and its address.
 */
export function phpWorkerStats(registeredKey: string, remoteAddress: string): ProcessStats {
  const host = remoteAddress.replace(/^::ffff:/, '');
  const name = registeredKey.startsWith(`${host}:`) ? registeredKey.slice(host.length + 1) : registeredKey;
  return { tier: 'business-worker', implementation: 'php', name, host, listening: '-', connections: 1, state: 'running', ...unknownFigures };
}

/** A PHP gateway, as `status` sees it through PHP's own queries: its internal address and client count. */
export function phpGatewayStats(address: string, connections: number): ProcessStats {
  const host = address.slice(0, address.lastIndexOf(':'));
  return { tier: 'gateway', implementation: 'php', name: 'Gateway', host, listening: `inner ${address}`, connections, state: 'running', ...unknownFigures };
}
