import { GatewayCommand } from '../protocol/gateway-command.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import type { GatewayPacket } from '../protocol/gateway-packet.js';
import { phpUnserialize } from '../protocol/php-serialize.js';
import { long2ip } from '../utils/ip.util.js';
import type { ClientProtocolName } from '../protocol/client-protocol.js';
import { ExtensionCommand, type GatewayListenerInfo } from '../protocol/extension-command.js';
import type { ClientSession, GatewaySession } from './client-session.js';
import { WebSocketConnectRequest } from './websocket-connect.request.js';

export type { GatewaySession } from './client-session.js';

/**
 * The client events a BusinessWorker dispatches to handlers.
 *
 * @publicApi
 */
export type GatewayEventName = 'connect' | 'message' | 'close' | 'websocketConnect' | 'disconnect' | 'resume';

/**
 * What `@OnDisconnect` (`{ window }`) and `@OnResume` (`{ previousClientId }`) handlers get as `@Payload()`.
 *
 * @publicApi
 */
export interface GatewayResumeEvent {
  /** `disconnect`: how long (ms) the gateway keeps the client for a resume. */
  window?: number;
  /** `resume`: the client_id the client had before (equal to `clientId` when it resumed on the same gateway). */
  previousClientId?: string;
}

const EVENT_OF: Record<number, GatewayEventName> = {
  [GatewayCommand.ON_CONNECT]: 'connect',
  [GatewayCommand.ON_MESSAGE]: 'message',
  [GatewayCommand.ON_CLOSE]: 'close',
  [GatewayCommand.ON_WEBSOCKET_CONNECT]: 'websocketConnect',
  [ExtensionCommand.CLIENT_DISCONNECTED]: 'disconnect',
  [ExtensionCommand.CLIENT_RESUMED]: 'resume',
};

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
  /** @internal the client's session: the one object that holds it while the event runs. */
  readonly clientSession: ClientSession;
  /** @internal the public listener the client came in on, when its gateway described it. */
  private readonly listener: GatewayListenerInfo | undefined;
  /** @internal the client sent a binary websocket frame (FLAG_BINARY from a TypeScript gateway). */
  private readonly binary: boolean;
  private messageValue: unknown;
  private requestValue: WebSocketConnectRequest | null | undefined;

  /** @internal built by the BusinessWorker for each event. */
  constructor(packet: GatewayPacket, clientId: string, session: ClientSession, listener: GatewayListenerInfo | undefined, binary: boolean) {
    this.packet = packet;
    this.event = EVENT_OF[packet.cmd] ?? 'message';
    this.clientId = clientId;
    this.gatewayAddress = `${long2ip(packet.localIp)}:${packet.localPort}`;
    this.gatewayPort = packet.gatewayPort;
    this.remotePort = packet.clientPort;
    this.clientSession = session;
    this.listener = listener;
    this.binary = binary;
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
    return this.listener?.protocol;
  }

  /** True when the client connected over TLS (`wss://`, `text+tls://`); undefined from a PHP gateway. */
  get secure(): boolean | undefined {
    return this.listener?.tls;
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
   * The message of an `@OnMessage` event: a `Buffer` when the client sent a binary websocket
   * frame (TypeScript gateways say so), otherwise a string (UTF-8) for every client protocol, or
   * the unserialized value when a custom PHP protocol sent a structured body. `rawMessage` always
   * has the bytes.
   */
  get message(): unknown {
    if (this.messageValue === undefined) {
      const { body, flag } = this.packet;
      if (this.binary) this.messageValue = body;
      else if (flag & FLAG_BODY_IS_SCALAR) this.messageValue = body.toString();
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

  /** The details of a `disconnect` or `resume` event (resumable clients); null for the other events. */
  get resumeEvent(): GatewayResumeEvent | null {
    if (this.event !== 'disconnect' && this.event !== 'resume') return null;
    try {
      return JSON.parse(this.packet.body.toString()) as GatewayResumeEvent;
    } catch {
      return {};
    }
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
    return this.clientSession.get();
  }

  set session(value: GatewaySession) {
    this.clientSession.set(value);
  }
}
