import type { ClientConnection } from './client-connection.js';
import { OutgoingMessage } from './outgoing-message.js';
import { PING_FRAME } from './resume-frames.js';

/** The heartbeat settings of a gateway (PHP's `pingInterval`, `pingNotResponseLimit`, `pingData`). */
export interface HeartbeatOptions {
  /** Seconds; 0 = off. */
  pingInterval: number;
  pingNotResponseLimit: number;
  /** Empty: send nothing. */
  pingData: Buffer;
}

/**
 * The gateway's heartbeat, exactly PHP's algorithm (docs/protocol.md §5.9), as one sweep timer per
 * gateway process — never a timer per connection. Each client's counter starts at −1 and is reset
 * by every message from it; each tick (every `pingInterval/2` when silent clients are closed,
 * every `pingInterval` otherwise) destroys the clients at `2 × limit` and counts the others up,
 * sending `pingData` as a normal protocol message (a text frame for websocket, a line for text)
 * on every second tick (every tick when the limit is 0).
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private readonly ping: OutgoingMessage | null;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly clients: ReadonlyMap<number, ClientConnection>,
    /** Hard close of a silent client (no close frame, as PHP). */
    private readonly destroy: (client: ClientConnection) => void,
  ) {
    this.ping = options.pingData.length ? new OutgoingMessage(options.pingData) : null;
  }

  /** The tick period in ms, or 0 when the heartbeat is off. */
  get period(): number {
    const { pingInterval, pingNotResponseLimit } = this.options;
    if (!(pingInterval > 0)) return 0;
    return (pingNotResponseLimit > 0 ? pingInterval / 2 : pingInterval) * 1000;
  }

  start(): void {
    const period = this.period;
    if (period === 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), period);
    // The listeners keep the process alive; the sweep must not keep a closing one.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep over every client. */
  tick(): void {
    const limit = this.options.pingNotResponseLimit;
    const closeAt = 2 * limit;
    const ping = this.ping;
    for (const client of this.clients.values()) {
      // A client we stopped reading (flow control) cannot be heard: it is not silent. A kept
      // client has no connection to ping.
      if (client.paused || client.parked) continue;
      if (limit > 0 && client.pingCount >= closeAt) {
        this.destroy(client);
        continue;
      }
      const count = ++client.pingCount;
      if (count === 0 || (limit > 0 && count % 2 === 1)) continue;
      // An opted-in client gets the envelope's ping, which the SDK answers (not an application message).
      if (client.envelope) client.control(PING_FRAME);
      else if (ping !== null) client.write(ping.framedFor(client.protocol));
    }
  }
}
