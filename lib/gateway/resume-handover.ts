import type { Socket } from 'node:net';
import { handoverConnectionClosed, handoverFailed, handoverNoAnswer, handoverRefusedHere } from '../gateway-worker.messages.js';
import { encodeClientId } from '../protocol/client-id.js';
import { ExtensionCommand, type HandoverReply } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR } from '../protocol/gateway-command.js';
import { encodeGatewayPacket, type GatewayPacket } from '../protocol/gateway-packet.js';
import { phpSerialize, phpUnserialize } from '../protocol/php-serialize.js';
import type { ResumeRequest } from '../protocol/resume-envelope.js';
import type { ClientConnection } from './client-connection.js';
import { HandoverLink } from './handover.link.js';
import type { ClientLifecycle } from './client-lifecycle.js';
import type { InnerCommand } from './inner-port.js';
import type { InnerConnection } from './inner-connection.js';
import { ResumeBuffer } from './resume-buffer.js';

/** The settings of hand-overs. */
export interface ResumeHandoverOptions {
  secretKey: string;
  connectTimeout: number;
  /** How long each step may take, ms. */
  timeout: number;
  innerMaxPackageSize: number;
}

/** Body of RESUME_HANDOVER: `peek` reads the client (uid, groups) and leaves it; `take` moves it. */
interface HandoverAsk {
  token: string;
  received: number;
  step: 'peek' | 'take';
}

/**
 * Resuming on another gateway (docs/protocol.md §8.4): a client's new connection
 * landed here, but its client_id names another TypeScript gateway of the cluster. This gateway
 * asks that one, on an authorized internal connection, in two steps:
 *
 * 1. `peek` — the client's uid and groups. A stand-in client joins them here at once, kept (no
 *    connection yet): what the cluster sends to that uid or group from now on is recorded for it.
 * 2. `take` — the old gateway removes the client from its tables (no ON_CLOSE) and answers with
 *    its session, uid, groups and the messages the client has not received. Those go first; then
 *    what the stand-in recorded meanwhile, except the messages the old gateway had already
 *    (workers send a uid's or group's messages to every gateway: those reached both).
 *
 * A message that reached this gateway before step 1 and the old one only after step 2 — a
 * worker whose link to the old gateway lags by the whole hand-over — would be missed: the
 * window is one internal round trip. The worker gets CLIENT_RESUMED with the previous client_id.
 */
export class ResumeHandover {
  constructor(
    private readonly lifecycle: ClientLifecycle,
    private readonly options: ResumeHandoverOptions,
    /** This gateway's address and lanIp (as a number), for client_ids. */
    private readonly self: () => { lanIpLong: number; lanPort: number },
    /** Answers a query on an internal link (docs/protocol.md §2.9 framing). */
    private readonly reply: (conn: InnerConnection, bytes: Buffer) => void,
  ) {}

  /** The old gateway's side: the command table entry. */
  commands(): [number, InnerCommand][] {
    return [[ExtensionCommand.RESUME_HANDOVER, { access: 'authorized', handle: (conn, packet) => this.answer(conn, packet) }]];
  }

  /**
   * The new gateway's side: takes client `ask.clientId` over from `address`, installing it here
   * on `socket` (kept, announced, its messages to replay), or says why not.
   */
  async take(ask: ResumeRequest, address: string, socket: Socket, clientIp: number, clientPort: number): Promise<ClientConnection | string> {
    const { connectionId } = decodeId(ask.clientId);
    const link = new HandoverLink({ address, secretKey: this.options.secretKey, connectTimeout: this.options.connectTimeout, maxReplySize: this.options.innerMaxPackageSize });
    const step = async (s: HandoverAsk['step']): Promise<HandoverReply> => {
      const body = Buffer.from(JSON.stringify({ token: ask.token, received: ask.received, step: s } satisfies HandoverAsk));
      const raw = await link.request(encodeGatewayPacket({ cmd: ExtensionCommand.RESUME_HANDOVER, connectionId, flag: FLAG_BODY_IS_SCALAR, body }), this.options.timeout);
      return JSON.parse(String(phpUnserialize(raw))) as HandoverReply;
    };
    let standIn: ClientConnection | null = null;
    try {
      const peek = await step('peek').catch((err: Error) => ({ ok: false as const, reason: handoverNoAnswer(address, err.message) }));
      if (!peek.ok) return peek.reason;
      if (socket.destroyed) return handoverConnectionClosed();
      standIn = this.lifecycle.standIn(socket, clientIp, clientPort, peek.uid, peek.groups);
      if (!standIn) return handoverRefusedHere();
      const took = await step('take');
      if (!took.ok) {
        this.lifecycle.dropStandIn(standIn);
        return took.reason;
      }
      this.install(standIn, ask.received, took);
      return standIn;
    } catch (err) {
      if (standIn) this.lifecycle.dropStandIn(standIn);
      return handoverFailed(address, (err as Error).message);
    } finally {
      link.close();
    }
  }

  /** The stand-in becomes the client: the old gateway's state, its messages, then the ones recorded here that it did not have. */
  private install(client: ClientConnection, received: number, took: Extract<HandoverReply, { ok: true }>): void {
    const recorded = client.resume!;
    const buffer = new ResumeBuffer(recorded.token);
    buffer.sent = buffer.acked = received;
    for (const f of mergeHandedOver(took.frames, recorded.after(0) ?? [])) buffer.push(f, f.length);
    this.lifecycle.installHandedOver(client, buffer, Buffer.from(took.session, 'base64'), took.uid, took.groups);
  }

  /** The old gateway's side of RESUME_HANDOVER. */
  private answer(conn: InnerConnection, packet: GatewayPacket): void {
    let ask: HandoverAsk;
    try {
      ask = JSON.parse(packet.body.toString()) as HandoverAsk;
    } catch {
      ask = { token: '', received: -1, step: 'peek' };
    }
    const { lanIpLong, lanPort } = this.self();
    const clientId = encodeClientId(lanIpLong, lanPort, packet.connectionId);
    const client = this.lifecycle.resumable({ clientId, token: String(ask.token), received: Number(ask.received) });
    let reply: HandoverReply;
    if (typeof client === 'string') reply = { ok: false, reason: client };
    else {
      const groups = client.groups ? [...client.groups.values()] : [];
      if (ask.step !== 'take') reply = { ok: true, session: '', uid: client.uid, groups, frames: [], sent: client.resume!.sent };
      else {
        const frames = (client.resume!.after(ask.received) ?? []).map((f) => (Buffer.isBuffer(f) ? f : Buffer.concat(f as Buffer[])).toString('base64'));
        reply = { ok: true, session: client.session.toString('base64'), uid: client.uid, groups, frames, sent: client.resume!.sent };
        this.lifecycle.handedOff(client);
      }
    }
    this.reply(conn, phpSerialize(JSON.stringify(reply)));
  }
}

/**
 * The messages of a handed-over client, in order: the old gateway's (`theirs`, base64), then those
 * the stand-in recorded here that the old gateway did not have. Workers send a uid's or group's
 * messages to every gateway, so a message both had is delivered once — recognised by its bytes,
 * each of the old gateway's frames cancelling at most one recorded frame.
 */
export function mergeHandedOver(theirs: readonly string[], recorded: readonly (Buffer | readonly Buffer[])[]): Buffer[] {
  const out: Buffer[] = theirs.map((f) => Buffer.from(f, 'base64'));
  const seen = new Map<string, number>();
  for (const f of theirs) seen.set(f, (seen.get(f) ?? 0) + 1);
  for (const f of recorded) {
    const frame = Buffer.isBuffer(f) ? f : Buffer.concat(f as Buffer[]);
    const key = frame.toString('base64');
    const n = seen.get(key) ?? 0;
    if (n > 0) seen.set(key, n - 1);
    else out.push(frame);
  }
  return out;
}

function decodeId(clientId: string): { connectionId: number } {
  return { connectionId: parseInt(clientId.slice(12, 20), 16) };
}
