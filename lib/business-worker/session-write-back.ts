import type { Logger } from '@nestjs/common';
import { sessionNotWritable } from '../gateway-worker.messages.js';
import { FLAG_BODY_IS_SCALAR, GatewayCommand } from '../protocol/gateway-command.js';
import { encodeGatewayPacket } from '../protocol/gateway-packet.js';
import { ClientSession } from './client-session.js';
import { SessionTracker } from './session-tracker.js';

/** Where a session write goes: the worker's link to the client's gateway. */
export interface SessionSink {
  write(packet: Buffer): boolean;
}

/**
 * Session write-back (docs/protocol.md §6.5): opens each event's {@link ClientSession} with the
 * bytes it should see, and after the handlers sends CMD_SET_SESSION when they changed it. Writes
 * are remembered until the gateway's next event confirms them ({@link SessionTracker}), so an
 * event that left the gateway before a write still sees it.
 */
export class SessionWriteBack {
  private readonly tracker = new SessionTracker();

  constructor(private readonly logger: Logger) {}

  /** Clients with a write not yet seen in one of their events (diagnostics, tests). */
  get unconfirmed(): number {
    return this.tracker.size;
  }

  /** The session of an event that arrived with `extData`. A close event's session is final: nothing is tracked for it. */
  open(clientId: string, extData: Buffer, isClose: boolean): ClientSession {
    if (isClose) {
      this.tracker.forget(clientId);
      return new ClientSession(clientId, extData, null);
    }
    return new ClientSession(clientId, this.tracker.resolve(clientId, extData), this.tracker);
  }

  /** Sends the session back to the client's gateway if the handlers changed it. */
  writeBack(session: ClientSession, connectionId: number, sink: SessionSink): void {
    let bytes: Buffer | null;
    try {
      bytes = session.pendingWrite();
    } catch (err) {
      this.logger.error(sessionNotWritable(session.clientId, (err as Error).message));
      return;
    }
    if (!bytes) return;
    sink.write(encodeGatewayPacket({ cmd: GatewayCommand.SET_SESSION, connectionId, flag: FLAG_BODY_IS_SCALAR, extData: bytes }));
    session.committed(bytes);
  }

  /** The client will not come back (closed, or its websocket refused): forget its writes. */
  forget(clientId: string): void {
    this.tracker.forget(clientId);
  }
}
