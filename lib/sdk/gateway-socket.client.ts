// The client SDK, for browsers and Node (`import { GatewaySocketClient } from 'nestjs-gateway-worker/client'`).
// It must load in a browser as it is: no Node import, no dependency — only the resume envelope and
// the SDK's errors (and their messages), which import nothing else.
import { ClientDisconnectedError } from '../errors/client-disconnected.error.js';
import { RequestFailedError } from '../errors/request-failed.error.js';
import { RequestTimeoutError } from '../errors/request-timeout.error.js';
import { sdkNoWebSocket } from '../gateway-worker.messages.js';
import {
  CONTROL_ACK,
  CONTROL_ACK_WITH_MESSAGE,
  CONTROL_BYTE,
  CONTROL_PING,
  CONTROL_WELCOME,
  RESUME_SUBPROTOCOL,
  resumeOffer,
  type ResumeWelcome,
} from '../protocol/resume-envelope.js';

/**
 * The part of a WebSocket (the browser's, or `ws`'s in Node) the client uses.
 *
 * @publicApi
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

/**
 * A WebSocket constructor: `globalThis.WebSocket` in browsers (and Node 22+), `ws`'s `WebSocket` in Node 20.
 *
 * @publicApi
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Map of event names to their data types (an interface or a type).
 *
 * @publicApi
 */
export type ClientEventMap = Record<string, any>;

/**
 * `'connecting'` (first connection), `'open'`, `'reconnecting'` (the connection broke; retrying
 * with backoff), `'closed'` (`close()` was called, or `maxAttempts` ran out).
 *
 * @publicApi
 */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * What a state listener gets.
 *
 * @publicApi
 */
export interface ClientStateChange {
  state: ClientState;
  /** The client_id while open. */
  clientId: string | null;
  /** On `'open'` after a reconnect: true when the gateway kept the client (nothing was lost). */
  resumed: boolean;
  /** On `'open'` when a resume was refused (the client starts over: new client_id, empty session): why. */
  reason?: string;
  /** On `'reconnecting'`: the attempt (1, 2, …) and the delay before it, ms. */
  attempt?: number;
  delay?: number;
}

/**
 * Options of {@link GatewaySocketClient}.
 *
 * @publicApi
 */
export interface GatewaySocketClientOptions {
  /** The gateway's websocket URL (`ws://host:7272`, `wss://host/wss`). */
  url: string;
  /** The WebSocket constructor; default `globalThis.WebSocket`. Node 20: `import { WebSocket } from 'ws'`. */
  WebSocket?: WebSocketConstructor;
  /** Reconnection: exponential backoff with jitter. */
  reconnect?: {
    /** First delay, ms (default 250). */
    initialDelay?: number;
    /** Largest delay, ms (default 10000). */
    maxDelay?: number;
    /** Growth per attempt (default 2). */
    factor?: number;
    /** Each delay is reduced by a random fraction up to this (default 0.5): clients do not reconnect in lockstep. */
    jitter?: number;
    /** Attempts before giving up (`'closed'`); default Infinity. `0` disables reconnecting. */
    maxAttempts?: number;
  };
  /** Acknowledge at least every this many ms while messages arrive (default 1000). */
  ackInterval?: number;
  /** …and at once after this many unacknowledged messages (default 256)… */
  ackEvery?: number;
  /** …or this many unacknowledged bytes (characters of text messages; default 65536), well below the gateway's `resumeBufferSize`. */
  ackBytes?: number;
  /** Default timeout of `request()`, ms (default 10000). */
  requestTimeout?: number;
}

interface PendingRequest {
  event: string;
  resolve: (value: any) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
const WELCOME = CONTROL_WELCOME.charCodeAt(0);
const PING = CONTROL_PING.charCodeAt(0);

/**
 * A websocket client of a GatewayWorker cluster that survives network blips: it opts in to the
 * gateways' resume envelope, reconnects by itself (exponential backoff with jitter) and resumes —
 * same client_id, session, uid and groups, and every message sent to it meanwhile, once, in
 * order — while the gateway's `resumeWindow` lasts. It speaks `@nestjs/websockets`' format:
 * `emit(event, data)` / `on(event, handler)` with `{"event", "data"}` messages, and
 * `request(event, data)` resolves with a `@SubscribeMessage` handler's return value.
 *
 * ```ts
 * interface ServerEvents { said: { from: string; text: string } }
 * interface ClientEvents { say: { text: string } }
 * const client = new GatewaySocketClient<ServerEvents, ClientEvents>({ url: 'ws://127.0.0.1:7272' });
 * client.on('said', (m) => console.log(m.from, m.text));
 * client.onState((s) => console.log(s.state, s.clientId));
 * await client.connect();
 * const ack = await client.request('say', { text: 'hi' }, { timeout: 5000 });
 * ```
 *
 * Messages from the client are not kept across a break: `emit()` while not open queues them
 * until the connection is open again (in order), and a request pending when the connection
 * breaks rejects with `ClientDisconnectedError` (it may or may not have been handled).
 * @typeParam In events the server sends (`on`)
 * @typeParam Out events the client sends (`emit`, `request`)
 *
 * @publicApi
 */
export class GatewaySocketClient<In extends ClientEventMap = Record<string, any>, Out extends ClientEventMap = Record<string, any>> {
  private readonly o: Required<Omit<GatewaySocketClientOptions, 'reconnect' | 'WebSocket'>> & { reconnect: Required<NonNullable<GatewaySocketClientOptions['reconnect']>>; WebSocket: WebSocketConstructor };
  private ws: WebSocketLike | null = null;
  private stateValue: ClientState = 'closed';
  private id: string | null = null;
  private token = '';
  /** Application messages received from the gateway (the envelope's count). */
  private received = 0;
  private acked = 0;
  /** Size of the messages received since the last ack. */
  private unackedBytes = 0;
  /** The gateway speaks the envelope on this connection. */
  private envelope = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private ackTimer: ReturnType<typeof setInterval> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly outbox: (string | Uint8Array)[] = [];
  private readonly listeners = new Map<string, Set<(data: any) => void>>();
  private readonly rawListeners = new Set<(message: string | Uint8Array) => void>();
  private readonly stateListeners = new Set<(change: ClientStateChange) => void>();
  private opened: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(options: GatewaySocketClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError(sdkNoWebSocket());
    const r = options.reconnect ?? {};
    this.o = {
      url: options.url,
      WebSocket: WS,
      ackInterval: options.ackInterval ?? 1000,
      ackEvery: options.ackEvery ?? 256,
      ackBytes: options.ackBytes ?? 65_536,
      requestTimeout: options.requestTimeout ?? 10_000,
      reconnect: { initialDelay: r.initialDelay ?? 250, maxDelay: r.maxDelay ?? 10_000, factor: r.factor ?? 2, jitter: r.jitter ?? 0.5, maxAttempts: r.maxAttempts ?? Infinity },
    };
  }

  /** The connection state. */
  get state(): ClientState {
    return this.stateValue;
  }

  /** The client_id (kept across resumes; null before the first connection opened). */
  get clientId(): string | null {
    return this.id;
  }

  /** Opens the connection; resolves once the gateway welcomed it (rejects if `close()` is called first). */
  connect(): Promise<void> {
    if (this.stateValue === 'open') return Promise.resolve();
    const opened = new Promise<void>((resolve, reject) => (this.opened = { resolve, reject }));
    if (this.stateValue === 'closed') {
      this.attempt = 0;
      this.setState({ state: 'connecting', clientId: this.id, resumed: false });
      this.open();
    }
    return opened;
  }

  /** Closes for good (close frame 1000: the gateway does not keep the client). Pending requests reject. */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      this.detach(ws);
      if (this.envelope && this.received > this.acked) this.sendAck(ws);
      ws.close(1000);
    }
    this.stopAcks();
    this.failPending(true);
    this.opened?.reject(new ClientDisconnectedError('connect', true));
    this.opened = null;
    this.setState({ state: 'closed', clientId: this.id, resumed: false });
  }

  /** Listens to an event of the server (`{"event": event, "data": …}`); returns a function that stops listening. */
  on<E extends keyof In & string>(event: E, handler: (data: In[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** Every application message as received (text as a string, binary as bytes), `{event, data}` or not. */
  onMessage(handler: (message: string | Uint8Array) => void): () => void {
    this.rawListeners.add(handler);
    return () => void this.rawListeners.delete(handler);
  }

  /** Connection state changes. */
  onState(handler: (change: ClientStateChange) => void): () => void {
    this.stateListeners.add(handler);
    return () => void this.stateListeners.delete(handler);
  }

  /** Sends `{"event": event, "data": data}` (queued while not open). */
  emit<E extends keyof Out & string>(event: E, data: Out[E]): void {
    this.send(JSON.stringify({ event, data }));
  }

  /** Sends a message as it is: text, or bytes in a binary frame (queued while not open). */
  send(message: string | Uint8Array): void {
    if (this.stateValue === 'open' && this.ws) this.write(this.ws, message);
    else this.outbox.push(message);
  }

  /**
   * Sends `{"event", "data", "id"}` and resolves with the reply of the `@SubscribeMessage(event)`
   * handler: its return value (a `WsResponse`'s `data`), or undefined when it returned nothing.
   * Rejects with `RequestFailedError` (the server answered with an exception),
   * `RequestTimeoutError`, or `ClientDisconnectedError` (the connection broke first). Needs an
   * open connection (it is not queued).
   */
  request<R = unknown, E extends keyof Out & string = keyof Out & string>(event: E, data: Out[E], options: { timeout?: number } = {}): Promise<R> {
    const ws = this.ws;
    if (this.stateValue !== 'open' || !ws) return Promise.reject(new ClientDisconnectedError(event, this.stateValue === 'closed'));
    const id = this.nextId++;
    const timeout = options.timeout ?? this.o.requestTimeout;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(event, timeout));
      }, timeout);
      this.pending.set(id, { event, resolve, reject, timer });
      this.write(ws, JSON.stringify({ event, data, id }));
    });
  }

  // ---- the connection ------------------------------------------------------------------------

  private open(): void {
    const protocols = [RESUME_SUBPROTOCOL];
    if (this.id && this.token) protocols.push(resumeOffer({ clientId: this.id, token: this.token, received: this.received }));
    let ws: WebSocketLike;
    try {
      ws = new this.o.WebSocket(this.o.url, protocols);
    } catch {
      this.broken();
      return;
    }
    this.ws = ws;
    this.envelope = false;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      // A gateway without the envelope (a PHP gateway) is open now; ours welcomes first.
      if (ws.protocol !== RESUME_SUBPROTOCOL) this.welcomed(ws, null);
      else this.envelope = true;
    };
    ws.onmessage = (ev) => this.receive(ws, ev.data);
    ws.onclose = () => {
      if (this.ws === ws) this.broken();
    };
    ws.onerror = () => undefined; // onclose follows
  }

  private detach(ws: WebSocketLike): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Still listening to errors: `ws` (Node) throws an 'error' nobody listens to, e.g. when a
    // connection that never opened is closed.
    ws.onerror = () => undefined;
  }

  private receive(ws: WebSocketLike, data: unknown): void {
    let message: string | Uint8Array = typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
    if (this.envelope && first(message) === CONTROL_BYTE) {
      const kind = second(message);
      if (kind !== CONTROL_BYTE) return this.control(ws, message, kind);
      message = message.slice(1); // an escaped application message
    }
    if (this.envelope) {
      this.received++;
      this.unackedBytes += message.length;
      if (this.received - this.acked >= this.o.ackEvery || this.unackedBytes >= this.o.ackBytes) this.sendAck(ws);
    }
    this.dispatch(message);
  }

  private control(ws: WebSocketLike, message: string | Uint8Array, kind: number | undefined): void {
    if (kind === PING) return this.sendAck(ws);
    if (kind !== WELCOME) return; // unknown controls: a newer gateway
    const text = typeof message === 'string' ? message : new TextDecoder().decode(message);
    this.welcomed(ws, JSON.parse(text.slice(2)) as ResumeWelcome);
  }

  /** The connection is open (welcomed by the gateway, or without the envelope). */
  private welcomed(ws: WebSocketLike, welcome: ResumeWelcome | null): void {
    const asked = this.id !== null && this.token !== '';
    const resumed = welcome?.resumed === true;
    if (welcome) {
      this.id = welcome.id;
      this.token = welcome.token;
      this.received = this.acked = welcome.seq;
    } else this.id = null;
    this.attempt = 0;
    this.startAcks();
    this.setState({ state: 'open', clientId: this.id, resumed, ...(asked && !resumed && welcome?.reason ? { reason: welcome.reason } : {}) });
    this.opened?.resolve();
    this.opened = null;
    for (const m of this.outbox.splice(0)) this.write(ws, m);
  }

  /** The connection broke (or could not be made): pending requests reject, and we retry. */
  private broken(): void {
    const ws = this.ws;
    if (ws) this.detach(ws);
    this.ws = null;
    this.stopAcks();
    this.failPending(false);
    const r = this.o.reconnect;
    if (this.attempt >= r.maxAttempts) {
      this.opened?.reject(new ClientDisconnectedError('connect'));
      this.opened = null;
      return this.setState({ state: 'closed', clientId: this.id, resumed: false });
    }
    this.attempt++;
    const base = Math.min(r.maxDelay, r.initialDelay * r.factor ** (this.attempt - 1));
    const delay = Math.round(base * (1 - r.jitter * Math.random()));
    this.setState({ state: 'reconnecting', clientId: this.id, resumed: false, attempt: this.attempt, delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private write(ws: WebSocketLike, message: string | Uint8Array): void {
    if (ws.readyState !== OPEN) {
      this.outbox.push(message);
      return;
    }
    if (this.envelope) {
      if (this.received > this.acked) {
        // Piggybacked, in the same frame: `\0a<n>;` then the message as it is.
        this.acked = this.received;
        this.unackedBytes = 0;
        const head = `\u0000${CONTROL_ACK_WITH_MESSAGE}${this.received};`;
        message = typeof message === 'string' ? head + message : prefix(new TextEncoder().encode(head), message);
      } else if (first(message) === CONTROL_BYTE) message = typeof message === 'string' ? '\u0000' + message : prefix(new Uint8Array(1), message);
    }
    ws.send(message);
  }

  private sendAck(ws: WebSocketLike): void {
    if (ws.readyState !== OPEN) return;
    this.acked = this.received;
    this.unackedBytes = 0;
    ws.send(`\u0000${CONTROL_ACK}${this.received}`);
  }

  private startAcks(): void {
    this.stopAcks();
    if (!this.envelope) return;
    this.ackTimer = setInterval(() => {
      if (this.ws && this.received > this.acked) this.sendAck(this.ws);
    }, this.o.ackInterval);
    // Node: the timer must not keep a process alive by itself.
    (this.ackTimer as { unref?: () => void }).unref?.();
  }

  private stopAcks(): void {
    if (this.ackTimer) clearInterval(this.ackTimer);
    this.ackTimer = null;
  }

  private dispatch(message: string | Uint8Array): void {
    for (const l of this.rawListeners) l(message);
    // Only JSON objects can be `{event, data}` or a reply: nothing else is parsed.
    if (typeof message !== 'string' || message.charCodeAt(0) !== 0x7b) return;
    let value: { event?: unknown; data?: unknown; id?: unknown };
    try {
      value = JSON.parse(message);
    } catch {
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (typeof value.id === 'number') {
      const p = this.pending.get(value.id);
      if (p) {
        this.pending.delete(value.id);
        clearTimeout(p.timer);
        if (value.event === 'exception') p.reject(new RequestFailedError(p.event, value.data));
        else p.resolve(value.data);
        return;
      }
    }
    if (typeof value.event !== 'string') return;
    for (const l of this.listeners.get(value.event) ?? []) l(value.data);
  }

  private failPending(closed: boolean): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new ClientDisconnectedError(p.event, closed));
    }
  }

  private setState(change: ClientStateChange): void {
    this.stateValue = change.state;
    for (const l of this.stateListeners) l(change);
  }
}

function first(m: string | Uint8Array): number | undefined {
  return typeof m === 'string' ? (m.length ? m.charCodeAt(0) : undefined) : m[0];
}

function second(m: string | Uint8Array): number | undefined {
  return typeof m === 'string' ? (m.length > 1 ? m.charCodeAt(1) : undefined) : m[1];
}

function prefix(head: Uint8Array, m: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + m.length);
  out.set(head, 0);
  out.set(m, head.length);
  return out;
}
