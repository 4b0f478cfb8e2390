import type { Logger } from '@nestjs/common';
import { invalidBody, invalidExtJson, sessionMergeFailed } from '../gateway-worker.messages.js';
import { FLAG_BINARY } from '../protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, FLAG_NOT_CALL_ENCODE, GatewayCommand } from '../protocol/gateway-command.js';
import type { GatewayPacket } from '../protocol/gateway-packet.js';
import { mergeSerializedSessions } from '../protocol/php-array-merge.js';
import { phpUnserialize } from '../protocol/php-serialize.js';
import type { ClientConnection } from './client-connection.js';
import { phpKey, type GatewayTables } from './gateway-tables.js';
import type { InnerCommand } from './inner-port.js';
import type { InnerConnection } from './inner-connection.js';
import { OutgoingMessage } from './outgoing-message.js';

/** Values of a JSON list or object (PHP iterates values for `connections`, `group`, `where.*`). */
export const valuesOf = (x: unknown): unknown[] =>
  Array.isArray(x) ? x : x !== null && typeof x === 'object' ? Object.values(x) : [];

/** A uid/group from JSON: strings as they are, numbers in decimal; anything else is unusable. */
export const scalarKey = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;

/** The ext_data of a command as JSON; undefined (logged) when it is not JSON. */
export function extJson(packet: GatewayPacket, conn: InnerConnection, logger: Logger): unknown {
  try {
    return JSON.parse(packet.extData.toString());
  } catch {
    logger.warn(invalidExtJson(packet.cmd, conn.name));
    return undefined;
  }
}

/** The ids an `exclude` names: keys of an object (what PHP reads), or values of a list (robustness). */
function excludeSet(x: unknown): Set<number> | null {
  if (x === null || x === undefined) return null;
  const ids = Array.isArray(x) ? x : typeof x === 'object' ? Object.keys(x) : [];
  const set = new Set<number>();
  for (const id of ids) {
    const n = Number(id);
    if (Number.isInteger(n)) set.add(n);
  }
  return set;
}

/**
 * PHP's commands that act on clients (docs/protocol.md §5.7): sends, closes, sessions, uids and
 * groups. Where PHP would crash the gateway process on bad input (§10), this logs and drops.
 */
export class ClientCommands {
  constructor(
    private readonly tables: GatewayTables,
    private readonly logger: Logger,
  ) {}

  /** The command table entries. */
  commands(): [number, InnerCommand][] {
    const { tables } = this;
    const on = (handle: (client: ClientConnection, packet: GatewayPacket, conn: InnerConnection) => void): InnerCommand => ({
      access: 'authorized',
      handle: (conn, packet) => {
        const client = tables.clients.get(packet.connectionId);
        if (client) handle(client, packet, conn);
      },
    });
    const all = (handle: (packet: GatewayPacket, conn: InnerConnection) => void): InnerCommand => ({ access: 'authorized', handle: (conn, packet) => handle(packet, conn) });
    return [
      [
        GatewayCommand.SEND_TO_ONE,
        on((client, packet, conn) => {
          const msg = this.outgoing(packet, conn);
          if (msg) client.write(msg.framedFor(client.protocol));
        }),
      ],
      [GatewayCommand.SEND_TO_ALL, all((packet, conn) => this.sendToAll(packet, conn))],
      [GatewayCommand.SEND_TO_UID, all((packet, conn) => this.sendToUid(packet, conn))],
      [GatewayCommand.SEND_TO_GROUP, all((packet, conn) => this.sendToGroup(packet, conn))],
      [GatewayCommand.KICK, on((client, packet) => client.kick(kickMessage(packet)))],
      [GatewayCommand.DESTROY, on((client) => client.destroy())],
      [GatewayCommand.UPDATE_SESSION, on((client, packet) => this.updateSession(client, packet.extData))],
      [GatewayCommand.SET_SESSION, on((client, packet) => (client.session = Buffer.from(packet.extData)))],
      [GatewayCommand.BIND_UID, on((client, packet) => tables.bindUid(client, packet.extData.toString()))],
      [GatewayCommand.UNBIND_UID, on((client) => tables.unbindUid(client))],
      [GatewayCommand.JOIN_GROUP, on((client, packet) => tables.joinGroup(client, packet.extData.toString()))],
      [GatewayCommand.LEAVE_GROUP, on((client, packet) => tables.leaveGroup(client, packet.extData.toString()))],
      [GatewayCommand.UNGROUP, all((packet) => tables.ungroup(packet.extData.toString()))],
    ];
  }

  /** The message of a send command, or null (logged) when the body cannot be sent. */
  private outgoing(packet: GatewayPacket, conn: InnerConnection): OutgoingMessage | null {
    const body = this.messageBytes(packet, conn);
    return body ? new OutgoingMessage(body, (packet.flag & FLAG_NOT_CALL_ENCODE) !== 0, (packet.flag & FLAG_BINARY) !== 0) : null;
  }

  private messageBytes(packet: GatewayPacket, conn: InnerConnection): Buffer | null {
    if (packet.flag & FLAG_BODY_IS_SCALAR) return packet.body;
    let value: unknown;
    try {
      value = phpUnserialize(packet.body);
    } catch {
      value = false;
    }
    if (typeof value === 'string') return Buffer.from(value);
    if (Buffer.isBuffer(value)) return value;
    if (typeof value === 'number' || typeof value === 'bigint') return Buffer.from(String(value));
    if (value !== null && typeof value === 'object') {
      // Workerman's websocket encoder JSON-encodes arrays; do that for every protocol instead of
      // crashing on text clients as PHP does.
      return Buffer.from(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    }
    this.logger.warn(invalidBody(packet.cmd, conn.name));
    return null;
  }

  private sendToAll(packet: GatewayPacket, conn: InnerConnection): void {
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    const { clients } = this.tables;
    if (packet.extData.length === 0) {
      for (const c of clients.values()) c.write(msg.framedFor(c.protocol));
      return;
    }
    const data = extJson(packet, conn, this.logger) as { connections?: unknown; exclude?: unknown } | undefined;
    if (!data || typeof data !== 'object') return;
    if (data.connections !== undefined) {
      for (const id of valuesOf(data.connections)) {
        const c = clients.get(Number(id));
        if (c) c.write(msg.framedFor(c.protocol));
      }
      return;
    }
    const exclude = excludeSet(data.exclude);
    for (const c of clients.values()) if (!exclude?.has(c.id)) c.write(msg.framedFor(c.protocol));
  }

  private sendToUid(packet: GatewayPacket, conn: InnerConnection): void {
    const uids = valuesOf(extJson(packet, conn, this.logger));
    if (uids.length === 0) return;
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    for (const v of uids) {
      const uid = scalarKey(v);
      const members = uid === null ? undefined : this.tables.uids.get(phpKey(uid));
      if (members) for (const c of members.values()) c.write(msg.framedFor(c.protocol));
    }
  }

  private sendToGroup(packet: GatewayPacket, conn: InnerConnection): void {
    const data = extJson(packet, conn, this.logger) as { group?: unknown; exclude?: unknown } | undefined;
    if (!data || typeof data !== 'object' || data.group === undefined) return;
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    const exclude = excludeSet(data.exclude);
    for (const v of valuesOf(data.group)) {
      const group = scalarKey(v);
      const members = group === null ? undefined : this.tables.groups.get(phpKey(group));
      if (!members) continue;
      // A client in two listed groups gets the message twice, as in PHP.
      for (const c of members.values()) if (!exclude?.has(c.id)) c.write(msg.framedFor(c.protocol));
    }
  }

  private updateSession(client: ClientConnection, update: Buffer): void {
    try {
      client.session = mergeSerializedSessions(client.session, update);
    } catch (err) {
      this.logger.warn(sessionMergeFailed(client.id.toString(), (err as Error).message));
    }
  }
}

/** CMD_KICK's last message: null for `N;`/false, the text otherwise (always framed, as PHP does). */
function kickMessage(packet: GatewayPacket): Buffer | null {
  if (packet.flag & FLAG_BODY_IS_SCALAR) return packet.body;
  let value: unknown = null;
  try {
    value = phpUnserialize(packet.body);
  } catch {
    value = null;
  }
  if (value === null || value === false) return null;
  if (typeof value === 'string') return Buffer.from(value);
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(typeof value === 'object' ? JSON.stringify(value) : String(value));
}
