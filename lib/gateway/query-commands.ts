import type { Logger } from '@nestjs/common';
import { unreadReplies } from '../gateway-worker.messages.js';
import { ExtensionCommand } from '../protocol/extension-command.js';
import { GatewayCommand } from '../protocol/gateway-command.js';
import { GATEWAY_PROBE_EXT, type GatewayProbeReply } from '../protocol/gateway-probe.js';
import type { GatewayPacket } from '../protocol/gateway-packet.js';
import { phpSerialize } from '../protocol/php-serialize.js';
import { normalizePhpKey, PhpArray } from '../protocol/php-value.js';
import type { ClientConnection } from './client-connection.js';
import { extJson, scalarKey, valuesOf } from './client-commands.js';
import type { GatewayCounters } from './gateway-counters.js';
import { phpKey, type GatewayTables } from './gateway-tables.js';
import type { InnerCommand } from './inner-port.js';
import type { InnerConnection } from './inner-connection.js';

const N_NULL = Buffer.from('N;');
const EMPTY_ARRAY = Buffer.from('a:0:{}');

/**
 * PHP's queries (docs/protocol.md §2.9, §5.7), answered from the gateway's tables on the link
 * that asked. A peer that does not read its replies is cut once `replyBufferLimit` bytes wait for
 * it, rather than growing the gateway's memory.
 */
export class QueryCommands {
  constructor(
    private readonly tables: GatewayTables,
    private readonly counters: GatewayCounters,
    private readonly logger: Logger,
    private readonly replyBufferLimit: number,
  ) {}

  /** The command table entries. */
  commands(): [number, InnerCommand][] {
    const { tables } = this;
    const query = (answer: (packet: GatewayPacket, conn: InnerConnection) => unknown, serialized = false): InnerCommand => ({
      access: 'authorized',
      handle: (conn, packet) => {
        const value = answer(packet, conn);
        return this.reply(conn, serialized ? (value as Buffer) : phpSerialize(value));
      },
    });
    return [
      [
        GatewayCommand.GET_SESSION_BY_CLIENT_ID,
        query((packet) => {
          const client = tables.clients.get(packet.connectionId);
          return client ? (client.session.length ? client.session : EMPTY_ARRAY) : N_NULL;
        }, true),
      ],
      [
        GatewayCommand.IS_ONLINE,
        query((packet) => {
          // The probe of `gateway-worker status` (gateway-probe.ts): connection 0 is never a client,
          // and a PHP gateway answers it `i:0;`; this one says it speaks the extensions.
          if (packet.connectionId === 0 && packet.extData.toString() === GATEWAY_PROBE_EXT) {
            const probe: GatewayProbeReply = { implementation: 'typescript', commands: Object.values(ExtensionCommand) };
            return JSON.stringify(probe);
          }
          return tables.clients.has(packet.connectionId) ? 1 : 0;
        }),
      ],
      [GatewayCommand.GET_ALL_CLIENT_SESSIONS, query(() => sessionsOf(tables.clients.values()))],
      [
        GatewayCommand.GET_CLIENT_SESSIONS_BY_GROUP,
        query((packet) => {
          const members = tables.groups.get(phpKey(packet.extData.toString()));
          return sessionsOf(members ? members.values() : []);
        }),
      ],
      [
        GatewayCommand.GET_CLIENT_COUNT_BY_GROUP,
        query((packet) => {
          const group = packet.extData.toString();
          return group === '' ? tables.clients.size : (tables.groups.get(phpKey(group))?.size ?? 0);
        }),
      ],
      [
        GatewayCommand.GET_CLIENT_ID_BY_UID,
        query((packet) => {
          const members = tables.uids.get(phpKey(packet.extData.toString()));
          return members ? [...members.keys()] : [];
        }),
      ],
      [
        GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID,
        query((packet, conn) => {
          const result = new PhpArray();
          for (const v of valuesOf(extJson(packet, conn, this.logger))) {
            const uid = scalarKey(v);
            if (uid !== null) result.set(uid, [...(tables.uids.get(phpKey(uid))?.keys() ?? [])]);
          }
          return result;
        }),
      ],
      [
        GatewayCommand.BATCH_GET_CLIENT_COUNT_BY_GROUP,
        query((packet, conn) => {
          const result = new PhpArray();
          for (const v of valuesOf(extJson(packet, conn, this.logger))) {
            const group = scalarKey(v);
            if (group !== null) result.set(group, tables.groups.get(phpKey(group))?.size ?? 0);
          }
          return result;
        }),
      ],
      [GatewayCommand.GET_GROUP_ID_LIST, query(() => [...tables.groups.keys()].map((k) => normalizePhpKey(k)))],
      [GatewayCommand.SELECT, query((packet, conn) => this.select(packet, conn))],
    ];
  }

  /** Writes a reply (length-prefixed, as PHP's); false (the link is closed) when the peer does not read them. */
  reply(conn: InnerConnection, bytes: Buffer): boolean {
    const queued = conn.socket.writableLength;
    if (queued > this.replyBufferLimit) {
      this.counters.limits.unreadReplies++;
      this.logger.warn(unreadReplies(conn.name, queued));
      return false;
    }
    conn.reply(bytes);
    return true;
  }

  /** CMD_SELECT (docs/protocol.md §5.7): the union of the `where` conditions, `fields` of each. */
  private select(packet: GatewayPacket, conn: InnerConnection): PhpArray {
    const result = new PhpArray();
    const query = extJson(packet, conn, this.logger) as { fields?: unknown; where?: unknown } | undefined;
    if (!query || typeof query !== 'object') return result;
    const fields = valuesOf(query.fields).filter((f): f is string => typeof f === 'string');
    const { tables } = this;
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
}

function sessionsOf(clients: Iterable<ClientConnection>): PhpArray {
  const result = new PhpArray();
  for (const c of clients) result.set(c.id, c.session);
  return result;
}
