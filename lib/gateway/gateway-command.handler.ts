import type { Logger } from '@nestjs/common';
import { FLAG_BODY_IS_SCALAR, FLAG_NOT_CALL_ENCODE, GatewayCommand } from '../protocol/gateway-command.js';
import { decodeGatewayPacket, type GatewayPacket } from '../protocol/gateway-packet.js';
import { mergeSerializedSessions } from '../protocol/php-array-merge.js';
import { phpSerialize, phpUnserialize } from '../protocol/php-serialize.js';
import { normalizePhpKey, PhpArray } from '../protocol/php-value.js';
import { invalidBody, invalidExtJson, sessionMergeFailed, unknownCommand, wrongSecretKey } from '../gateway-worker.messages.js';
import type { ClientConnection } from './client-connection.js';
import { phpKey, type GatewayTables } from './gateway-tables.js';
import type { InnerConnection } from './inner-connection.js';
import { OutgoingMessage } from './outgoing-message.js';
import { GATEWAY_PROBE_EXT, type GatewayProbeReply } from '../protocol/gateway-probe.js';
import { ExtensionCommand } from './extension-protocol.js';

const N_NULL = Buffer.from('N;');
const EMPTY_ARRAY = Buffer.from('a:0:{}');

/** What the command handler needs from the gateway server. */
export interface GatewayCommandHost {
  readonly tables: GatewayTables;
  readonly secretKey: string;
  readonly logger: Logger;
  /** Registers an authorized worker connection under `"<remoteIp>:<worker_key>"`. */
  registerWorker(conn: InnerConnection, workerKey: string): void;
  /** Graceful close of a client after `message` (null: no message). */
  kick(client: ClientConnection, message: Buffer | null): void;
  /** Immediate close, pending output discarded. */
  destroy(client: ClientConnection): void;
}

/** Values of a JSON list or object (PHP iterates values for `connections`, `group`, `where.*`). */
const valuesOf = (x: unknown): unknown[] =>
  Array.isArray(x) ? x : x !== null && typeof x === 'object' ? Object.values(x) : [];

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

/** A uid/group from JSON: strings as they are, numbers in decimal; anything else is unusable. */
const scalarKey = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;

/**
 * Applies the commands that arrive on a gateway's internal port (PROTOCOL.md §5.7) and answers the
 * queries (§2.9). Where PHP would crash the gateway process on bad input (§10), this logs and drops.
 */
export class GatewayCommandHandler {
  constructor(private readonly host: GatewayCommandHost) {}

  /** Handles one complete packet from `conn`. Returns false when `conn` must be closed. */
  handle(conn: InnerConnection, raw: Buffer): boolean {
    const packet = decodeGatewayPacket(raw);
    const { cmd } = packet;
    const { tables, logger } = this.host;
    if (!conn.authorized && cmd !== GatewayCommand.WORKER_CONNECT && cmd !== GatewayCommand.GATEWAY_CLIENT_CONNECT) {
      logger.warn(`Gateway: unauthorized packet (cmd ${cmd}) from ${conn.name}; connection closed. Send the secret key first.`);
      return false;
    }
    const client = packet.connectionId ? tables.clients.get(packet.connectionId) : undefined;
    switch (cmd) {
      case GatewayCommand.SEND_TO_ONE: {
        const msg = this.outgoing(packet, conn);
        if (msg && client) client.write(msg.framedFor(client.protocol));
        return true;
      }
      case GatewayCommand.SEND_TO_ALL:
        this.sendToAll(packet, conn);
        return true;
      case GatewayCommand.KICK:
        if (client) this.host.kick(client, this.kickMessage(packet));
        return true;
      case GatewayCommand.DESTROY:
        if (client) this.host.destroy(client);
        return true;
      case GatewayCommand.UPDATE_SESSION:
        if (client) this.updateSession(client, packet.extData);
        return true;
      case GatewayCommand.SET_SESSION:
        if (client) client.session = Buffer.from(packet.extData);
        return true;
      case GatewayCommand.BIND_UID:
        if (client) tables.bindUid(client, packet.extData.toString());
        return true;
      case GatewayCommand.UNBIND_UID:
        if (client) tables.unbindUid(client);
        return true;
      case GatewayCommand.SEND_TO_UID:
        this.sendToUid(packet, conn);
        return true;
      case GatewayCommand.JOIN_GROUP:
        if (client) tables.joinGroup(client, packet.extData.toString());
        return true;
      case GatewayCommand.LEAVE_GROUP:
        if (client) tables.leaveGroup(client, packet.extData.toString());
        return true;
      case GatewayCommand.UNGROUP:
        tables.ungroup(packet.extData.toString());
        return true;
      case GatewayCommand.SEND_TO_GROUP:
        this.sendToGroup(packet, conn);
        return true;
      case GatewayCommand.WORKER_CONNECT:
      case GatewayCommand.GATEWAY_CLIENT_CONNECT:
        return this.authenticate(conn, packet);
      case GatewayCommand.GET_SESSION_BY_CLIENT_ID:
        conn.reply(client ? (client.session.length ? client.session : EMPTY_ARRAY) : N_NULL);
        return true;
      case GatewayCommand.IS_ONLINE:
        // The probe of `gateway-worker status` (lib/protocol/gateway-probe.ts): a PHP gateway answers it `i:0;`.
        if (packet.connectionId === 0 && packet.extData.toString() === GATEWAY_PROBE_EXT) {
          const probe: GatewayProbeReply = { implementation: 'typescript', commands: Object.values(ExtensionCommand) };
          this.replyValue(conn, JSON.stringify(probe));
          return true;
        }
        this.replyValue(conn, client ? 1 : 0);
        return true;
      case GatewayCommand.GET_ALL_CLIENT_SESSIONS:
        this.replyValue(conn, this.sessionsOf(tables.clients.values()));
        return true;
      case GatewayCommand.GET_CLIENT_SESSIONS_BY_GROUP: {
        const members = tables.groups.get(phpKey(packet.extData.toString()));
        this.replyValue(conn, this.sessionsOf(members ? members.values() : []));
        return true;
      }
      case GatewayCommand.GET_CLIENT_COUNT_BY_GROUP: {
        const group = packet.extData.toString();
        this.replyValue(conn, group === '' ? tables.clients.size : (tables.groups.get(phpKey(group))?.size ?? 0));
        return true;
      }
      case GatewayCommand.GET_CLIENT_ID_BY_UID: {
        const members = tables.uids.get(phpKey(packet.extData.toString()));
        this.replyValue(conn, members ? [...members.keys()] : []);
        return true;
      }
      case GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID: {
        const result = new PhpArray();
        for (const v of valuesOf(this.json(packet, conn))) {
          const uid = scalarKey(v);
          if (uid === null) continue;
          result.set(uid, [...(tables.uids.get(phpKey(uid))?.keys() ?? [])]);
        }
        this.replyValue(conn, result);
        return true;
      }
      case GatewayCommand.BATCH_GET_CLIENT_COUNT_BY_GROUP: {
        const result = new PhpArray();
        for (const v of valuesOf(this.json(packet, conn))) {
          const group = scalarKey(v);
          if (group === null) continue;
          result.set(group, tables.groups.get(phpKey(group))?.size ?? 0);
        }
        this.replyValue(conn, result);
        return true;
      }
      case GatewayCommand.GET_GROUP_ID_LIST:
        this.replyValue(conn, [...tables.groups.keys()].map((k) => normalizePhpKey(k)));
        return true;
      case GatewayCommand.SELECT:
        this.replyValue(conn, this.select(packet, conn));
        return true;
      default:
        logger.warn(unknownCommand(conn.name, cmd));
        return false;
    }
  }

  private authenticate(conn: InnerConnection, packet: GatewayPacket): boolean {
    const { logger, secretKey } = this.host;
    let data: { secret_key?: unknown; worker_key?: unknown } | null = null;
    try {
      data = JSON.parse(packet.body.toString());
    } catch {
      data = null;
    }
    const isWorker = packet.cmd === GatewayCommand.WORKER_CONNECT;
    const what = isWorker ? `worker connection${typeof data?.worker_key === 'string' ? ` "${data.worker_key}"` : ''}` : 'client connection';
    if (!data || typeof data !== 'object' || data.secret_key !== secretKey) {
      logger.warn(wrongSecretKey('Gateway', conn.name, what));
      return false;
    }
    conn.authorized = true;
    if (isWorker) {
      if (typeof data.worker_key !== 'string' || data.worker_key === '') {
        logger.warn(`Gateway: CMD_WORKER_CONNECT from ${conn.name} without a worker_key; closed.`);
        return false;
      }
      this.host.registerWorker(conn, data.worker_key);
    }
    return true;
  }

  /** The message of a send command, or null (logged) when the body cannot be sent. */
  private outgoing(packet: GatewayPacket, conn: InnerConnection): OutgoingMessage | null {
    const body = this.messageBytes(packet, conn);
    return body ? new OutgoingMessage(body, (packet.flag & FLAG_NOT_CALL_ENCODE) !== 0) : null;
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
    this.host.logger.warn(invalidBody(packet.cmd, conn.name));
    return null;
  }

  private kickMessage(packet: GatewayPacket): Buffer | null {
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

  private json(packet: GatewayPacket, conn: InnerConnection): unknown {
    try {
      return JSON.parse(packet.extData.toString());
    } catch {
      this.host.logger.warn(invalidExtJson(packet.cmd, conn.name));
      return undefined;
    }
  }

  private sendToAll(packet: GatewayPacket, conn: InnerConnection): void {
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    const { clients } = this.host.tables;
    if (packet.extData.length === 0) {
      for (const c of clients.values()) c.write(msg.framedFor(c.protocol));
      return;
    }
    const data = this.json(packet, conn) as { connections?: unknown; exclude?: unknown } | undefined;
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
    const uids = valuesOf(this.json(packet, conn));
    if (uids.length === 0) return;
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    for (const v of uids) {
      const uid = scalarKey(v);
      const members = uid === null ? undefined : this.host.tables.uids.get(phpKey(uid));
      if (members) for (const c of members.values()) c.write(msg.framedFor(c.protocol));
    }
  }

  private sendToGroup(packet: GatewayPacket, conn: InnerConnection): void {
    const data = this.json(packet, conn) as { group?: unknown; exclude?: unknown } | undefined;
    if (!data || typeof data !== 'object' || data.group === undefined) return;
    const msg = this.outgoing(packet, conn);
    if (!msg) return;
    const exclude = excludeSet(data.exclude);
    for (const v of valuesOf(data.group)) {
      const group = scalarKey(v);
      const members = group === null ? undefined : this.host.tables.groups.get(phpKey(group));
      if (!members) continue;
      // A client in two listed groups gets the message twice, as in PHP.
      for (const c of members.values()) if (!exclude?.has(c.id)) c.write(msg.framedFor(c.protocol));
    }
  }

  private updateSession(client: ClientConnection, update: Buffer): void {
    try {
      client.session = mergeSerializedSessions(client.session, update);
    } catch (err) {
      this.host.logger.warn(sessionMergeFailed(client.id.toString(), (err as Error).message));
    }
  }

  private sessionsOf(clients: Iterable<ClientConnection>): PhpArray {
    const result = new PhpArray();
    for (const c of clients) result.set(c.id, c.session);
    return result;
  }

  /** CMD_SELECT (PROTOCOL.md §5.7): the union of the `where` conditions, `fields` of each. */
  private select(packet: GatewayPacket, conn: InnerConnection): PhpArray {
    const result = new PhpArray();
    const query = this.json(packet, conn) as { fields?: unknown; where?: unknown } | undefined;
    if (!query || typeof query !== 'object') return result;
    const fields = valuesOf(query.fields).filter((f): f is string => typeof f === 'string');
    const { tables } = this.host;
    const picked = new Map<number, ClientConnection>();
    const where = query.where;
    const whereEmpty = !where || typeof where !== 'object' || Object.keys(where).length === 0;
    if (whereEmpty) {
      for (const c of tables.clients.values()) picked.set(c.id, c);
    } else {
      const w = where as Record<string, unknown>;
      for (const g of valuesOf(w.groups)) {
        const key = scalarKey(g);
        const members = key === null ? undefined : tables.groups.get(phpKey(key));
        if (members) for (const c of members.values()) picked.set(c.id, c);
      }
      for (const u of valuesOf(w.uid)) {
        const key = scalarKey(u);
        const members = key === null ? undefined : tables.uids.get(phpKey(key));
        if (members) for (const c of members.values()) picked.set(c.id, c);
      }
      for (const id of valuesOf(w.connection_id)) {
        const c = tables.clients.get(Number(id));
        if (c) picked.set(c.id, c);
      }
    }
    for (const c of picked.values()) {
      const row = new PhpArray();
      for (const f of fields) {
        if (f === 'uid') row.set(f, c.uid);
        else if (f === 'groups') row.set(f, c.groups ? PhpArray.from([...c.groups].map(([k, g]) => [normalizePhpKey(k), g])) : null);
        else if (f === 'session') row.set(f, c.session);
        else row.set(f, null);
      }
      result.set(c.id, row);
    }
    return result;
  }

  private replyValue(conn: InnerConnection, value: unknown): void {
    conn.reply(phpSerialize(value));
  }
}
