import { GatewayCommand } from '../protocol/gateway-command.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import type { GatewayPacket } from '../protocol/gateway-packet.js';
import { phpUnserialize } from '../protocol/php-serialize.js';
import { PhpOpaque } from '../protocol/php-value.js';
import { long2ip } from '../utils/ip.util.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import type { GatewayListenerInfo } from '../protocol/extension-command.js';
import { WebSocketConnectRequest } from './websocket-connect.request.js';

/**
 * The client events a BusinessWorker dispatches to handlers.
 *
 * @publicApi
 */
export type GatewayEventName = 'connect' | 'message' | 'close' | 'websocketConnect';

/**
 * A client session as handlers see it: a plain object, PHP-serialized on the wire.
 *
 * @publicApi
 */
export type GatewaySession = Record<string, any>;

const EVENT_OF: Record<number, GatewayEventName> = {
  [GatewayCommand.ON_CONNECT]: 'connect',
  [GatewayCommand.ON_MESSAGE]: 'message',
  [GatewayCommand.ON_CLOSE]: 'close',
  [GatewayCommand.ON_WEBSOCKET_CONNECT]: 'websocketConnect',
};

/** The worker-side facilities an event context needs (implemented by BusinessWorkerServer). */
export interface GatewayEventHost {
  /** Sends a command packet to the gateway at `address` over the worker connection. */
  sendToGateway(address: string, packet: Buffer): boolean;
  /** The public listener `port` of the gateway at `address`, when that gateway described it (TypeScript gateways do). */
  listenerOf?(address: string, port: number): GatewayListenerInfo | undefined;
}

/**
 * Everything about one client event, as `@Ctx()` gives it: who the client is, which gateway holds
 * it, the message, and its session. PHP keeps these in `Context` statics and `$_SERVER`; here they
 * travel with the call (and through AsyncLocalStorage for GatewayService), so concurrent events of
 * different clients never see each other's state.
 *
 * @publicApi
 */
export class GatewayEventContext {
  /** The event: `'connect'`, `'message'`, `'close'` or `'websocketConnect'`. */
  readonly event: GatewayEventName;
  /** The client's id: 20 hex characters naming its gateway and connection. */
  readonly clientId: string;
  /** `"<lanIp>:<lanPort>"` of the gateway process holding the client (PHP `GATEWAY_ADDR` + internal port). */
  readonly gatewayAddress: string;
  /** The public port the client connected to (PHP `$_SERVER['GATEWAY_PORT']`). */
  readonly gatewayPort: number;
  /** The client's port (PHP `$_SERVER['REMOTE_PORT']`). */
  readonly remotePort: number;
  /** @internal the originating packet */
  readonly packet: GatewayPacket;
  /** @internal the host worker */
  readonly host: GatewayEventHost;
  /** @internal session bytes this event arrived with (after stale-session correction). */
  readonly sessionBytes: Buffer;
  /** @internal the session was replaced through GatewayService: the bytes now at the gateway. */
  sessionWritten: Buffer | null = null;
  private sessionValue: GatewaySession | undefined;
  private messageValue: unknown;
  private requestValue: WebSocketConnectRequest | null | undefined;

  /** @internal built by the BusinessWorker for each event. */
  constructor(host: GatewayEventHost, packet: GatewayPacket, clientId: string, sessionBytes: Buffer) {
    this.host = host;
    this.packet = packet;
    this.event = EVENT_OF[packet.cmd] ?? 'message';
    this.clientId = clientId;
    this.gatewayAddress = `${long2ip(packet.localIp)}:${packet.localPort}`;
    this.gatewayPort = packet.gatewayPort;
    this.remotePort = packet.clientPort;
    this.sessionBytes = sessionBytes;
  }

  /**
   * The client's IPv4 address (`'0.0.0.0'` for IPv6 clients, as in PHP). Behind a proxy the
   * gateway trusts (`gateway.trustedProxies`), the address from `X-Real-IP` / `X-Forwarded-For`.
   */
  get remoteAddress(): string {
    return long2ip(this.packet.clientIp);
  }

  /**
   * The client's protocol (`'websocket'`, `'text'`, `'frame'`, `'tcp'`), or undefined when the
   * gateway did not say (a PHP gateway).
   */
  get protocol(): ClientProtocolName | undefined {
    return this.host.listenerOf?.(this.gatewayAddress, this.gatewayPort)?.protocol;
  }

  /** True when the client connected over TLS (`wss://`, `text+tls://`); undefined from a PHP gateway. */
  get secure(): boolean | undefined {
    return this.host.listenerOf?.(this.gatewayAddress, this.gatewayPort)?.tls;
  }

  /**
   * The websocket upgrade request (headers, path, query, cookies) of a `websocketConnect` event;
   * null for the other events (the gateway keeps no request after the handshake).
   */
  get request(): WebSocketConnectRequest | null {
    if (this.requestValue === undefined) {
      if (this.packet.cmd !== GatewayCommand.ON_WEBSOCKET_CONNECT) this.requestValue = null;
      else {
        let data: unknown = null;
        try {
          data = phpUnserialize(this.packet.body);
        } catch {
          data = null;
        }
        this.requestValue = new WebSocketConnectRequest(data);
      }
    }
    return this.requestValue;
  }

  /**
   * The message of an `@OnMessage` event: a string (UTF-8) for every client protocol, or the
   * unserialized value when a custom PHP protocol sent a structured body. Use `rawMessage` for
   * binary data.
   */
  get message(): unknown {
    if (this.messageValue === undefined) {
      const { body, flag } = this.packet;
      if (flag & FLAG_BODY_IS_SCALAR) this.messageValue = body.toString();
      else {
        try {
          this.messageValue = phpUnserialize(body);
        } catch {
          this.messageValue = false;
        }
      }
    }
    return this.messageValue;
  }

  /** The message bytes exactly as the client sent them (after the protocol's framing). */
  get rawMessage(): Buffer {
    return this.packet.body;
  }

  /**
   * The client's session, shared by all workers through the gateway. Mutate it or assign a new
   * object: when the handler settles, a changed session is written back to the gateway (not for
   * `close` events, where the client is already gone).
   */
  get session(): GatewaySession {
    if (this.sessionValue === undefined) this.sessionValue = decodeSession(this.sessionBytes);
    return this.sessionValue;
  }

  set session(value: GatewaySession) {
    this.sessionValue = value ?? {};
  }

  /** @internal whether `session` was ever read or assigned (no write-back needed otherwise). */
  get sessionTouched(): boolean {
    return this.sessionValue !== undefined;
  }
}

/**
 * Session bytes → plain object. An undecodable or non-array session reads as `{}`; a PHP list
 * (including the empty array `a:0:{}`, which plain decoding gives as `[]`) becomes an object keyed
 * by index, so handlers can always add keys to it.
 */
export function decodeSession(bytes: Buffer): GatewaySession {
  if (bytes.length === 0) return {};
  try {
    const value = phpUnserialize(bytes);
    if (Array.isArray(value)) return { ...value };
    return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof PhpOpaque) ? (value as GatewaySession) : {};
  } catch {
    return {};
  }
}
