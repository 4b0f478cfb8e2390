/**
 * The messages the harness and its child processes (servers, client drivers, the pusher)
 * exchange over Node's IPC channel: a request/response pair for commands, and one `ready` event.
 */

/** A command sent by the harness. */
export interface RpcRequest {
  rpc: number;
  cmd: string;
  args?: unknown;
}

/** The answer to one command. */
export interface RpcResponse {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Sent once by a child when it is listening / connected and can take commands. */
export interface ReadyEvent {
  event: 'ready';
  info: unknown;
}

/** CPU time and memory of one process, as `process.cpuUsage()` and `process.memoryUsage()` give them. */
export interface ProcessUsage {
  cpuUs: number;
  rss: number;
  heapUsed: number;
  external: number;
}
