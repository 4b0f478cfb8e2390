/**
 * One process of the cluster as `gateway-worker status` shows it (the columns of PHP's status
 * table). Gateways report their own; workers report theirs to every gateway they are connected
 * to, so one query per gateway covers the whole cluster.
 *
 * @publicApi
 */
export interface ProcessStats {
  tier: 'gateway' | 'business-worker';
  /**
   * `'php'` for a PHP peer: it reports nothing itself, so only what PHP's own commands (or the
   * gateway it is connected to) reveal is known; pid, memory, send_fail, totals and qps are 0.
   * Absent for TypeScript processes.
   */
  implementation?: 'php';
  /** The process's name: the gateway's `name`, or the worker key `"<name>:<index>"`. */
  name: string;
  /** The host: the gateway's lanIp, or the worker's address as its gateway sees it. */
  host: string;
  pid: number;
  /** Resident memory, bytes. */
  memory: number;
  /** What it listens on: public URIs and the internal address (gateways), `-` for workers. */
  listening: string;
  /** Client connections (gateways) or connected gateways (workers). */
  connections: number;
  /** Messages dropped because a buffer was full. */
  sendFailures: number;
  /** Gateways: events workers received but never confirmed before they died (lost with them). */
  lostEvents?: number;
  /** Events forwarded (gateways) or handled (workers) since start. */
  totalRequests: number;
  /** Requests during the last second. */
  qps: number;
  state: 'running' | 'draining' | 'stopping';
  startedAt: number;
  /** Gateways: clients whose socket is not read now (flow control, or waiting for a worker). */
  pausedClients?: number;
  /** Gateways: how often each limit bit (drops by reason, pauses, hung workers, refused peers). */
  limits?: Record<string, number>;
  /** Gateways: resumable clients (waiting now, bytes held, resumes, hand-overs, expiries…). */
  resume?: ResumeStats;
}

/**
 * How often each thing happened to a gateway's resumable clients (`gateway.resumeWindow`).
 *
 * @publicApi
 */
export interface ResumeCounts {
  /** Connections of opted-in clients that broke and were kept. */
  parked: number;
  /** Clients resumed on this gateway (its own, or handed over). */
  resumes: number;
  /** Clients handed over to this gateway by another. */
  handovers: number;
  /** Clients handed over from this gateway to another. */
  handedOff: number;
  /** Kept clients closed for good: the window passed. */
  expiries: number;
  /** A client's unacknowledged messages exceeded `resumeBufferSize` / `resumeTotalBufferSize`. */
  overflows: number;
  /** Resumes refused (unknown client, wrong token, old gateway gone): the client started over. */
  refused: number;
}

/**
 * A gateway's resumable clients, as `status` and the metrics show them: the counts, and what is
 * held now.
 *
 * @publicApi
 */
export interface ResumeStats extends ResumeCounts {
  /** Clients waiting now (connection broken, within `resumeWindow`). */
  waiting: number;
  /** Bytes of unacknowledged messages held for resumable clients now. */
  bytes: number;
}
