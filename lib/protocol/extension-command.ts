import type { ProcessStats } from './process-stats.js';
import type { ClientProtocolName } from './client-protocol.js';

/**
 * The TypeScript extensions of the GatewayProtocol. They use command numbers PHP leaves unused
 * (29–199, docs/protocol.md §2.6) and travel only between peers that both announced them, so a PHP
 * gateway or worker never receives one:
 *
 * - a TypeScript worker adds `"features": [...]` to its CMD_WORKER_CONNECT JSON body (a PHP gateway
 *   reads only `worker_key` and `secret_key`);
 * - a TypeScript gateway answers a worker that listed {@link WorkerFeature.GATEWAY_INFO} with one
 *   {@link ExtensionCommand.GATEWAY_INFO} packet, before any event;
 * - for a worker that listed {@link WorkerFeature.WEBSOCKET_VERDICT}, the gateway marks
 *   CMD_ON_WEBSOCKET_CONNECT with {@link FLAG_AWAITS_VERDICT} and holds the websocket handshake until
 *   the worker sends {@link ExtensionCommand.WEBSOCKET_VERDICT}.
 */
export const ExtensionCommand = {
  /** Worker → gateway: accept or reject a held websocket handshake. connection_id = the client; body = JSON {@link WebSocketVerdict}. */
  WEBSOCKET_VERDICT: 150,
  /** Gateway → worker: what the gateway listens on. Body = JSON {@link GatewayInfo}. */
  GATEWAY_INFO: 151,
  /**
   * Caller → gateway query: the status of the gateway and of the workers connected to it, for
   * `gateway-worker status`. Reply (§2.9 framing): a PHP string holding JSON {@link GatewayStatusReply}.
   */
  STATUS: 152,
  /** Worker → gateway, every second: the worker's own status. Body = JSON `ProcessStats`. */
  WORKER_STATS: 153,
  /**
   * Worker → gateway: "I am stopping: send me no more events". The gateway holds the events of the
   * worker's clients until the worker has gone, then hands them, in order, to another worker.
   * Gateway → worker: the acknowledgement — no event follows it on this link.
   */
  WORKER_DRAIN: 154,
  /**
   * Worker → gateway, after each event it handled (after the event's own commands and session
   * write-back, on the same link): connection_id = the client whose event it was. Each one
   * returns one event of that client's budget of events in flight (flow control: the gateway
   * stops reading a client whose budget is spent), and a gateway counts what was sent but never
   * confirmed when a worker dies or hangs.
   */
  EVENTS_HANDLED: 155,
  /**
   * Gateway → worker, first thing on the link of a worker that the gateway had declared hung
   * (it sent nothing for `workerHangTimeout` while events were outstanding, so the gateway cut its
   * link and counted those events as lost): "this happened to you". Body = JSON
   * `{ "silentMs": number, "outstanding": number }`. The worker logs it; it is connected again.
   */
  WORKER_HUNG: 156,
  /**
   * Gateway → worker, an event of the client (like ON_CLOSE, after its other events, confirmed with
   * EVENTS_HANDLED): an opted-in client's connection broke and the gateway keeps it — client_id,
   * session, uid, groups, and the messages sent to it — for the resume window. Body = JSON
   * `{ "window": ms }`. Only to workers that announced {@link WorkerFeature.RESUME_EVENTS}. ON_CLOSE
   * follows only if the window passes (or a bound is exceeded) without a resume.
   */
  CLIENT_DISCONNECTED: 157,
  /**
   * Gateway → worker, an event of the client: a kept client is connected again (on this gateway,
   * same client_id; or handed over from another, under this gateway's new client_id). Body = JSON
   * `{ "previousClientId": string }` (equal to the client's id when it resumed where it was). Only
   * to workers with {@link WorkerFeature.RESUME_EVENTS}.
   */
  CLIENT_RESUMED: 158,
  /**
   * Gateway → gateway query, on an authorized client connection (CMD_GATEWAY_CLIENT_CONNECT with
   * the secret key): "hand client connection_id over to me". Body = JSON
   * `{ "token": string, "received": number }`. Reply (§2.9 framing): a PHP string holding JSON
   * {@link HandoverReply}. On success the old gateway has removed the client from its tables
   * without ON_CLOSE (the new gateway sends CLIENT_RESUMED); the messages it held after `received`
   * travel in the reply, in order.
   */
  RESUME_HANDOVER: 159,
} as const;

/** Reply of RESUME_HANDOVER. */
export type HandoverReply =
  | {
      ok: true;
      /** The session bytes, base64. */
      session: string;
      uid: string | null;
      groups: string[];
      /** Messages already framed for the client, base64, in order: those after `received`. */
      frames: string[];
      /** Messages the old gateway had sent in all (the client's count continues from `received`). */
      sent: number;
    }
  | { ok: false; reason: string };

/** Reply of STATUS. */
export interface GatewayStatusReply {
  gateway: ProcessStats;
  workers: ProcessStats[];
}

/** Flag bit on CMD_ON_WEBSOCKET_CONNECT: the gateway holds the handshake until a verdict comes back. */
export const FLAG_AWAITS_VERDICT = 0x04;

/**
 * Flag bit of binary messages, between TypeScript peers: on CMD_ON_MESSAGE, the client sent a
 * binary websocket frame; on the send commands, write a binary websocket frame (text frames
 * otherwise). PHP never sets it and ignores it.
 */
export const FLAG_BINARY = 0x08;

/** The features a TypeScript worker can announce in CMD_WORKER_CONNECT (`"features": [...]`). */
export const WorkerFeature = {
  /** Send me {@link ExtensionCommand.GATEWAY_INFO} (client protocols of the public ports). */
  GATEWAY_INFO: 'gateway_info',
  /** I have `@OnWebSocketConnect` handlers: hold websocket handshakes for my verdict. */
  WEBSOCKET_VERDICT: 'websocket_verdict',
  /**
   * I confirm each event I have handled, naming its client ({@link ExtensionCommand.EVENTS_HANDLED}):
   * the gateway gives each client a budget of events in flight and detects a hung worker.
   */
  FLOW_CONTROL: 'flow_control',
  /** Send me {@link ExtensionCommand.CLIENT_DISCONNECTED} and {@link ExtensionCommand.CLIENT_RESUMED} events (resumable clients). */
  RESUME_EVENTS: 'resume_events',
} as const;

/** One public listener, as GATEWAY_INFO describes it. */
export interface GatewayListenerInfo {
  port: number;
  protocol: ClientProtocolName;
  tls: boolean;
}

/** Body of GATEWAY_INFO. */
export interface GatewayInfo {
  name: string;
  listeners: GatewayListenerInfo[];
}

/** Body of WEBSOCKET_VERDICT: `status` 101 accepts; any 4xx/5xx rejects with that HTTP status. */
export interface WebSocketVerdict {
  status: number;
  /** Text of the rejection response. */
  message?: string;
}

/** How a gateway treats a worker's websocket handshakes. */
export type WebSocketConnectMode =
  /** A PHP worker (no features): ON_CONNECT, then CMD_ON_WEBSOCKET_CONNECT as an event; the handshake is not held. */
  | 'event'
  /** A TypeScript worker without `@OnWebSocketConnect` handlers: no CMD_ON_WEBSOCKET_CONNECT at all. */
  | 'none'
  /** A TypeScript worker with handlers: CMD_ON_WEBSOCKET_CONNECT first, the handshake held for its verdict, then ON_CONNECT. */
  | 'verdict';

/** The mode a CMD_WORKER_CONNECT body announces. */
export function webSocketConnectMode(hello: unknown): WebSocketConnectMode {
  const features = hello !== null && typeof hello === 'object' ? (hello as { features?: unknown }).features : undefined;
  if (!Array.isArray(features)) return 'event';
  return features.includes(WorkerFeature.WEBSOCKET_VERDICT) ? 'verdict' : 'none';
}
