import { Inject, Injectable, Logger } from '@nestjs/common';
import type { GatewaySession } from './business-worker/client-session.js';
import { gatewayEventStorage } from './business-worker/gateway-event.storage.js';
import { GATEWAY_TRANSPORT, type GatewayTransport } from './client/gateway-transport.interface.js';
import { PacketTooLargeError } from './errors/packet-too-large.error.js';
import { NoCurrentClientError } from './errors/no-current-client.error.js';
import { NoGatewayError } from './errors/no-gateway.error.js';
import { PartialResultError } from './errors/partial-result.error.js';
import { GATEWAY_WORKER_OPTIONS } from './gateway-worker.constants.js';
import { partialResult } from './gateway-worker.messages.js';
import type { QueryOptions } from './interfaces/query-options.interface.js';
import type { ResolvedGatewayWorkerOptions } from './interfaces/resolved-options.interface.js';
import { decodeClientId } from './protocol/client-id.js';
import { FLAG_BINARY } from './protocol/extension-command.js';
import { FLAG_BODY_IS_SCALAR, FLAG_NOT_CALL_ENCODE, GatewayCommand } from './protocol/gateway-command.js';
import { encodeBody, encodeGatewayPacket } from './protocol/gateway-packet.js';
import { phpSerialize, phpUnserialize, phpUnserializeExact } from './protocol/php-serialize.js';
import { isPhpEmpty, PhpArray, type PhpExactValue } from './protocol/php-value.js';
import {
  clientIdsByGroup,
  clientIdsByUid,
  clientIdsOfConnections,
  countsByGroup,
  groupIdUnion,
  lengths,
  mapped,
  selectedClientIds,
  selectedUids,
  sessionsByClientId,
  sumOfCounts,
  uidsByGroup,
  type ReplyMerger,
} from './service/query-reply.merge.js';
import { asSession, entriesOf, replySource, textOf } from './service/query-reply.reader.js';
import { selectExt } from './service/select-query.js';

/**
 * What can be sent to a client: text, bytes, or a value sent as JSON text.
 *
 * @publicApi
 */
export type GatewayMessage = string | Buffer | Uint8Array | number | boolean | object;

/**
 * A uid or a group. `"42"` and `42` are the same uid/group (PHP array keys); results give them
 * back as strings. PHP-empty values (`''`, `'0'`, `0`) cannot be bound or joined.
 *
 * @publicApi
 */
export type GatewayKey = string | number;

const EMPTY = Buffer.alloc(0);
const NULL_BODY = Buffer.from('N;');

/**
 * The GatewayWorker API (PHP's `GatewayWorker\Lib\Gateway` and `GatewayClient\Gateway`,
 * camelCased and Promise-based): push to a client, a uid, a group or everybody; manage uids,
 * groups and sessions; ask who is online.
 *
 * The same injectable works inside a BusinessWorker (through the worker's gateway links; "current
 * client" methods refer to the client whose event is being handled) and in any other Nest app
 * (as the GatewayClient, through the Register).
 *
 * - Sends resolve to `true` when the command was handed to the gateway(s), `false` when the target
 *   gateway is not connected or the uid/group is PHP-empty (nothing is sent) — delivery to the end
 *   client is not acknowledged, as in PHP.
 * - An invalid client_id rejects with `InvalidClientIdError` (PHP prints and returns false).
 * - Queries asking every gateway take {@link QueryOptions}: a per-gateway `timeout`, and what to
 *   do when some gateways do not answer in time (`partial: 'return'` their part is missing and a
 *   warning is logged; `'throw'` a `PartialResultError` whose `partialValue` is the result of the
 *   gateways that did answer, in the method's return type, and `failures` the others).
 * - Results use TypeScript shapes instead of PHP's `{x: x}` maps: client_ids, uids and groups as
 *   `string[]` (each once), per-client or per-group results as `Record<string, …>` (whose
 *   integer-like keys, like any JS object's, enumerate first).
 *
 * @publicApi
 */
@Injectable()
export class GatewayService {
  private readonly logger = new Logger('GatewayService');

  /**
   * @param transport the worker's gateway links while this app runs a BusinessWorker, the
   *   GatewayClient otherwise (the `GATEWAY_TRANSPORT` provider switches it)
   */
  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    @Inject(GATEWAY_TRANSPORT) private readonly transport: GatewayTransport,
  ) {}

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Sends a message to one client (PHP `sendToClient`, CMD_SEND_TO_ONE).
   * @param raw send the bytes as they are, without the client protocol's framing (no `\n`, no
   *   websocket or frame header): the caller supplies the complete framing.
   * @throws InvalidClientIdError when `clientId` is not a client_id
   */
  sendToClient(clientId: string, message: GatewayMessage, raw = false): Promise<boolean> {
    // Not async, and the same below: this is the hot path of every reply, and each extra promise
    // costs promise hooks while AsyncLocalStorage is active.
    try {
      const target = decodeClientId(clientId);
      return this.sendTo(target.address, this.packet('sendToClient', GatewayCommand.SEND_TO_ONE, message, raw, target.connectionId));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends a message to the client whose event is being handled (PHP `sendToCurrentClient`).
   * @throws NoCurrentClientError outside an event handler
   */
  sendToCurrentClient(message: GatewayMessage, raw = false): Promise<boolean> {
    try {
      // The event names its gateway and connection: no client_id to parse.
      const ctx = this.current('sendToCurrentClient');
      return this.sendTo(ctx.gatewayAddress, this.packet('sendToCurrentClient', GatewayCommand.SEND_TO_ONE, message, raw, ctx.packet.connectionId));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends a message to every client of the cluster, or to a list of clients (PHP `sendToAll`,
   * CMD_SEND_TO_ALL; one packet per gateway).
   * @param clientIds only these clients; `[]` sends nothing (and resolves to false); `null`/omitted means everybody
   * @param exclude client_id(s) that must not receive it
   * @throws InvalidClientIdError when a listed or excluded id is not a client_id (PHP skips it silently)
   */
  async sendToAll(message: GatewayMessage, clientIds?: readonly string[] | null, exclude?: string | readonly string[] | null, raw = false): Promise<boolean> {
    const excluded = listOf(exclude);
    if (clientIds !== undefined && clientIds !== null) {
      const skip = new Set(excluded);
      const byGateway = groupByGateway(clientIds.filter((id) => !skip.has(id)));
      if (byGateway.size === 0) return false;
      // Every packet is built (and size-checked) before the first is sent.
      const packets = [...byGateway].map(([address, ids]) => [address, this.packet('sendToAll', GatewayCommand.SEND_TO_ALL, message, raw, 0, JSON.stringify({ connections: idMap(ids) }))] as const);
      // All handed over in this turn: inside a worker they are written before the event is confirmed,
      // even when the handler does not await this call.
      const sent = await Promise.all(packets.map(([address, packet]) => this.sendTo(address, packet)));
      return sent.every(Boolean);
    }
    const base = this.packet('sendToAll', GatewayCommand.SEND_TO_ALL, message, raw);
    if (excluded.length === 0) return (await this.transport.sendAll(base)) > 0;
    const byAddress = perGateway(excluded, (ids) => this.packet('sendToAll', GatewayCommand.SEND_TO_ALL, message, raw, 0, JSON.stringify({ exclude: idMap(ids) })));
    return (await this.transport.sendAll((address) => byAddress.get(address) ?? base)) > 0;
  }

  /**
   * Sends a message to every connection bound to the uid(s), on every gateway (PHP `sendToUid`,
   * CMD_SEND_TO_UID). PHP-empty uids are skipped; if none is left, nothing is sent.
   */
  async sendToUid(uid: GatewayKey | readonly GatewayKey[], message: GatewayMessage, raw = false): Promise<boolean> {
    const uids = validKeys(uid);
    if (uids.length === 0) return false;
    return (await this.transport.sendAll(this.packet('sendToUid', GatewayCommand.SEND_TO_UID, message, raw, 0, JSON.stringify(uids)))) > 0;
  }

  /**
   * Sends a message to the members of the group(s), on every gateway (PHP `sendToGroup`,
   * CMD_SEND_TO_GROUP). A client in two listed groups receives it twice, as in PHP. PHP-empty
   * groups are skipped; if none is left, nothing is sent.
   * @param exclude client_id(s) that must not receive it
   */
  async sendToGroup(group: GatewayKey | readonly GatewayKey[], message: GatewayMessage, exclude?: string | readonly string[] | null, raw = false): Promise<boolean> {
    const groups = validKeys(group);
    if (groups.length === 0) return false;
    const excluded = listOf(exclude);
    const ext = (ids: string[] | null) => JSON.stringify({ group: groups, exclude: ids ? idMap(ids) : null });
    const base = this.packet('sendToGroup', GatewayCommand.SEND_TO_GROUP, message, raw, 0, ext(null));
    if (excluded.length === 0) return (await this.transport.sendAll(base)) > 0;
    const byAddress = perGateway(excluded, (ids) => this.packet('sendToGroup', GatewayCommand.SEND_TO_GROUP, message, raw, 0, ext(ids)));
    return (await this.transport.sendAll((address) => byAddress.get(address) ?? base)) > 0;
  }

  // ---- connections ---------------------------------------------------------------------------

  /**
   * Closes a client's connection gracefully, after an optional last message (PHP `closeClient`,
   * CMD_KICK). The message always goes through the client protocol's framing.
   * @throws InvalidClientIdError when `clientId` is not a client_id
   */
  async closeClient(clientId: string, message?: GatewayMessage | null): Promise<boolean> {
    const target = decodeClientId(clientId);
    const packet =
      message === undefined || message === null
        ? encodeGatewayPacket({ cmd: GatewayCommand.KICK, connectionId: target.connectionId, body: NULL_BODY })
        : this.packet('closeClient', GatewayCommand.KICK, message, false, target.connectionId);
    return this.sendTo(target.address, packet);
  }

  /**
   * Closes the current client's connection gracefully, after an optional last message (PHP
   * `closeCurrentClient`).
   * @throws NoCurrentClientError outside an event handler
   */
  async closeCurrentClient(message?: GatewayMessage | null): Promise<boolean> {
    return this.closeClient(this.current('closeCurrentClient').clientId, message);
  }

  /**
   * Cuts a client's connection at once; messages still queued for it are discarded (CMD_DESTROY;
   * PHP spells it `destoryClient`).
   * @throws InvalidClientIdError when `clientId` is not a client_id
   */
  async destroyClient(clientId: string): Promise<boolean> {
    const target = decodeClientId(clientId);
    return this.sendTo(target.address, this.command(GatewayCommand.DESTROY, target.connectionId));
  }

  /**
   * Cuts the current client's connection at once (PHP `destoryCurrentClient`).
   * @throws NoCurrentClientError outside an event handler
   */
  async destroyCurrentClient(): Promise<boolean> {
    return this.destroyClient(this.current('destroyCurrentClient').clientId);
  }

  /**
   * PHP's spelling of {@link destroyClient}.
   * @deprecated use `destroyClient`
   */
  async destoryClient(clientId: string): Promise<boolean> {
    return this.destroyClient(clientId);
  }

  /**
   * PHP's spelling of {@link destroyCurrentClient}.
   * @deprecated use `destroyCurrentClient`
   */
  async destoryCurrentClient(): Promise<boolean> {
    return this.destroyClient(this.current('destoryCurrentClient').clientId);
  }

  /**
   * Is the client connected? Asks its gateway (PHP `isOnline`, CMD_IS_ONLINE; PHP returns 0/1).
   * @throws InvalidClientIdError when `clientId` is not a client_id
   * @throws QueryTimeoutError / GatewayUnreachableError when its gateway does not answer
   */
  async isOnline(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<boolean> {
    const target = decodeClientId(clientId);
    const reply = await this.queryOne(target.address, this.command(GatewayCommand.IS_ONLINE, target.connectionId), options);
    return phpUnserialize(reply) === 1;
  }

  // ---- counts --------------------------------------------------------------------------------

  /** Number of clients connected to the whole cluster (PHP `getAllClientCount`, CMD_GET_CLIENT_COUNT_BY_GROUP with `''`). */
  async getAllClientCount(options?: QueryOptions): Promise<number> {
    return this.getClientCountByGroup('', options);
  }

  /** Same as {@link getAllClientCount} (PHP's other name). */
  async getAllClientIdCount(options?: QueryOptions): Promise<number> {
    return this.getClientCountByGroup('', options);
  }

  /**
   * Number of members of a group across the cluster (PHP `getClientCountByGroup`,
   * CMD_GET_CLIENT_COUNT_BY_GROUP, summed). `''` counts all clients, as in PHP; another PHP-empty
   * group (`'0'`, `0`) has no members: 0 without asking.
   */
  async getClientCountByGroup(group: GatewayKey = '', options?: QueryOptions): Promise<number> {
    if (group !== '' && isPhpEmpty(group)) return 0;
    const packet = this.command(GatewayCommand.GET_CLIENT_COUNT_BY_GROUP, 0, String(group));
    return this.fanOut('getClientCountByGroup', packet, sumOfCounts, options);
  }

  /** Same as {@link getClientCountByGroup} (PHP's other name). */
  async getClientIdCountByGroup(group: GatewayKey = '', options?: QueryOptions): Promise<number> {
    return this.getClientCountByGroup(group, options);
  }

  /**
   * Member counts of several groups across the cluster (PHP GatewayClient's
   * `batchGetClientIdCountByGroup`, CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP, summed): one entry per
   * asked group, keyed by the group as a string, 0 for unknown groups. PHP-empty groups are left
   * out; with none left, `{}` without asking.
   */
  async batchGetClientCountByGroup(groups: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, number>> {
    const list = validKeys(groups);
    if (list.length === 0) return {};
    const packet = this.command(GatewayCommand.BATCH_GET_CLIENT_COUNT_BY_GROUP, 0, JSON.stringify(list));
    return this.fanOut('batchGetClientCountByGroup', packet, countsByGroup(list.map(String)), options);
  }

  /** Same as {@link batchGetClientCountByGroup} (PHP's name). */
  async batchGetClientIdCountByGroup(groups: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, number>> {
    return this.batchGetClientCountByGroup(groups, options);
  }

  // ---- uids ----------------------------------------------------------------------------------

  /**
   * Binds a uid to a client (PHP `bindUid`, CMD_BIND_UID): a client has at most one uid, a uid
   * may have many clients on many gateways. A PHP-empty uid is ignored: false, nothing sent.
   */
  async bindUid(clientId: string, uid: GatewayKey): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(uid)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.BIND_UID, target.connectionId, String(uid)));
  }

  /** Unbinds the client's uid (PHP `unbindUid`): whatever uid is given, the gateway unbinds the bound one, as in PHP. */
  async unbindUid(clientId: string, uid: GatewayKey = ''): Promise<boolean> {
    const target = decodeClientId(clientId);
    return this.sendTo(target.address, this.command(GatewayCommand.UNBIND_UID, target.connectionId, String(uid)));
  }

  /**
   * The client_ids bound to a uid, across the cluster (PHP `getClientIdByUid`,
   * CMD_GET_CLIENT_ID_BY_UID). A PHP-empty uid has none: `[]` without asking.
   */
  async getClientIdByUid(uid: GatewayKey, options?: QueryOptions): Promise<string[]> {
    if (isPhpEmpty(uid)) return [];
    const packet = this.command(GatewayCommand.GET_CLIENT_ID_BY_UID, 0, String(uid));
    return this.fanOut('getClientIdByUid', packet, clientIdsOfConnections, options);
  }

  /**
   * The client_ids of several uids (PHP GatewayClient's `batchGetClientIdByUid`,
   * CMD_BATCH_GET_CLIENT_ID_BY_UID): one entry per asked uid, keyed by the uid as a string, `[]`
   * when offline. PHP-empty uids are left out; with none left, `{}` without asking.
   */
  async batchGetClientIdByUid(uids: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, string[]>> {
    const list = validKeys(uids);
    if (list.length === 0) return {};
    const packet = this.command(GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID, 0, JSON.stringify(list));
    return this.fanOut('batchGetClientIdByUid', packet, clientIdsByUid(list.map(String)), options);
  }

  /** Is any connection bound to this uid? (PHP `isUidOnline`, which returns 0/1.) */
  async isUidOnline(uid: GatewayKey, options?: QueryOptions): Promise<boolean> {
    if (isPhpEmpty(uid)) return false;
    const packet = this.command(GatewayCommand.GET_CLIENT_ID_BY_UID, 0, String(uid));
    return this.fanOut('isUidOnline', packet, mapped(clientIdsOfConnections, (ids) => ids.length > 0), options);
  }

  /**
   * Which of these uids are online (PHP GatewayClient's `isUidsOnline`, which maps each to 0/1):
   * one entry per asked uid, keyed by the uid as a string.
   */
  async isUidsOnline(uids: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, boolean>> {
    const list = validKeys(uids);
    if (list.length === 0) return {};
    const packet = this.command(GatewayCommand.BATCH_GET_CLIENT_ID_BY_UID, 0, JSON.stringify(list));
    const merger = mapped(clientIdsByUid(list.map(String)), (byUid) => {
      const out: Record<string, boolean> = {};
      for (const [uid, ids] of Object.entries(byUid)) out[uid] = ids.length > 0;
      return out;
    });
    return this.fanOut('isUidsOnline', packet, merger, options);
  }

  /**
   * The uid bound to a client, or null (PHP `getUidByClientId`: CMD_SELECT of field uid for this
   * connection, asked of its gateway only).
   * @throws InvalidClientIdError when `clientId` is not a client_id
   * @throws QueryTimeoutError / GatewayUnreachableError when its gateway does not answer
   */
  async getUidByClientId(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<string | null> {
    const target = decodeClientId(clientId);
    const ext = selectExt(['uid'], { connection_id: [target.connectionId] });
    const reply = phpUnserializeExact(await this.queryOne(target.address, this.command(GatewayCommand.SELECT, 0, ext), options));
    for (const [, fields] of entriesOf(reply)) {
      const uid = fields instanceof PhpArray ? textOf(fields.get('uid')) : null;
      return uid === null || isPhpEmpty(uid) ? null : uid;
    }
    return null;
  }

  /** Every uid bound to some connection, across the cluster, each once (PHP `getAllUidList`, CMD_SELECT). */
  async getAllUidList(options?: QueryOptions): Promise<string[]> {
    return this.fanOut('getAllUidList', this.select(['uid']), selectedUids, options);
  }

  /** Number of distinct uids online across the cluster (PHP `getAllUidCount`). */
  async getAllUidCount(options?: QueryOptions): Promise<number> {
    return this.fanOut('getAllUidCount', this.select(['uid']), mapped(selectedUids, (uids) => uids.length), options);
  }

  // ---- groups --------------------------------------------------------------------------------

  /** Adds a client to a group (PHP `joinGroup`, CMD_JOIN_GROUP). A PHP-empty group is ignored: false, nothing sent. */
  async joinGroup(clientId: string, group: GatewayKey): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.JOIN_GROUP, target.connectionId, String(group)));
  }

  /** Removes a client from a group (PHP `leaveGroup`, CMD_LEAVE_GROUP). A PHP-empty group is ignored: false, nothing sent. */
  async leaveGroup(clientId: string, group: GatewayKey): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.LEAVE_GROUP, target.connectionId, String(group)));
  }

  /** Dissolves a group on every gateway; its members stay connected (PHP `ungroup`, CMD_UNGROUP). A PHP-empty group: false, nothing sent. */
  async ungroup(group: GatewayKey): Promise<boolean> {
    if (isPhpEmpty(group)) return false;
    return (await this.transport.sendAll(this.command(GatewayCommand.UNGROUP, 0, String(group)))) > 0;
  }

  /**
   * The client_ids in the group(s), across the cluster, each once (PHP `getClientIdListByGroup`,
   * which returns `{client_id: client_id}`; CMD_SELECT where groups). PHP-empty groups are left
   * out; with none left, `[]` without asking.
   */
  async getClientIdListByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<string[]> {
    const groups = validKeys(group);
    if (groups.length === 0) return [];
    return this.fanOut('getClientIdListByGroup', this.select(['uid'], groups), selectedClientIds, options);
  }

  /**
   * The distinct uids of the members of the group(s) (PHP `getUidListByGroup`, which returns
   * `{uid: uid}`; CMD_SELECT where groups). PHP-empty groups are left out; with none left, `[]`.
   */
  async getUidListByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<string[]> {
    const groups = validKeys(group);
    if (groups.length === 0) return [];
    return this.fanOut('getUidListByGroup', this.select(['uid'], groups), selectedUids, options);
  }

  /** Number of distinct uids among the members of the group (PHP `getUidCountByGroup`); 0 for a PHP-empty group. */
  async getUidCountByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<number> {
    const groups = validKeys(group);
    if (groups.length === 0) return 0;
    return this.fanOut('getUidCountByGroup', this.select(['uid'], groups), mapped(selectedUids, (uids) => uids.length), options);
  }

  /**
   * The sessions of the group's members, by client_id (PHP `getClientSessionsByGroup`,
   * CMD_GET_CLIENT_SESSIONS_BY_GROUP): as {@link getAllClientSessions} for one group. A PHP-empty
   * group: `{}` without asking.
   */
  async getClientSessionsByGroup(group: GatewayKey, options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    if (isPhpEmpty(group)) return {};
    return this.sessions('getClientSessionsByGroup', String(group), options);
  }

  /**
   * Every group that has members somewhere in the cluster, each once, as strings (PHP
   * `getAllGroupIdList`, CMD_GET_GROUP_ID_LIST; PHP returns `{group: group}` with numeric groups
   * as ints — here `123` comes back as `'123'`).
   */
  async getAllGroupIdList(options?: QueryOptions): Promise<string[]> {
    return this.fanOut('getAllGroupIdList', this.command(GatewayCommand.GET_GROUP_ID_LIST, 0), groupIdUnion, options);
  }

  /**
   * Every group's distinct uids: `{group: uids}` (PHP `getAllGroupUidList`, CMD_SELECT of uid and
   * groups). Members without a uid are skipped. PHP stops reading a gateway's reply at the first
   * connection without a uid or groups (a `break` meant as `continue`, docs/protocol.md §7.1), so its
   * result is often incomplete; this one is complete.
   */
  async getAllGroupUidList(options?: QueryOptions): Promise<Record<string, string[]>> {
    return this.fanOut('getAllGroupUidList', this.select(['uid', 'groups']), uidsByGroup, options);
  }

  /** Every group's number of distinct uids: `{group: count}` (PHP `getAllGroupUidCount`; complete, unlike PHP, see {@link getAllGroupUidList}). */
  async getAllGroupUidCount(options?: QueryOptions): Promise<Record<string, number>> {
    return this.fanOut('getAllGroupUidCount', this.select(['uid', 'groups']), mapped(uidsByGroup, lengths), options);
  }

  /**
   * Every group's members: `{group: client_ids}` (PHP `getAllGroupClientIdList`, CMD_SELECT of
   * groups). PHP stops reading a gateway's reply at the first connection in no group (the `break`
   * bug of docs/protocol.md §7.1); this one skips such connections and is complete.
   */
  async getAllGroupClientIdList(options?: QueryOptions): Promise<Record<string, string[]>> {
    return this.fanOut('getAllGroupClientIdList', this.select(['groups']), clientIdsByGroup, options);
  }

  /** Every group's member count: `{group: count}` (PHP `getAllGroupClientIdCount`; complete, unlike PHP). */
  async getAllGroupClientIdCount(options?: QueryOptions): Promise<Record<string, number>> {
    return this.fanOut('getAllGroupClientIdCount', this.select(['groups']), mapped(clientIdsByGroup, lengths), options);
  }

  // ---- the whole cluster ---------------------------------------------------------------------

  /** Every connected client_id in the cluster (PHP `getAllClientIdList`, which returns `{client_id: client_id}`; CMD_SELECT). */
  async getAllClientIdList(options?: QueryOptions): Promise<string[]> {
    return this.fanOut('getAllClientIdList', this.select(['uid']), selectedClientIds, options);
  }

  /**
   * Every client's session, by client_id (PHP `getAllClientSessions`, CMD_GET_ALL_CLIENT_SESSIONS;
   * with a group, that group's members, CMD_GET_CLIENT_SESSIONS_BY_GROUP). A client without a
   * session has `{}`. Inside a handler, the current client's entry is its live session, with the
   * handler's unsaved changes (as PHP puts `$_SESSION` there).
   */
  async getAllClientSessions(group: GatewayKey = '', options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    if (group !== '' && isPhpEmpty(group)) return {};
    return this.sessions('getAllClientSessions', String(group), options);
  }

  /**
   * PHP's old name of {@link getAllClientSessions}.
   * @deprecated use `getAllClientSessions`
   */
  async getAllClientInfo(group: GatewayKey = '', options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    return this.getAllClientSessions(group, options);
  }

  /**
   * PHP's old name of {@link getClientSessionsByGroup}.
   * @deprecated use `getClientSessionsByGroup`
   */
  async getClientInfoByGroup(group: GatewayKey, options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    return this.getClientSessionsByGroup(group, options);
  }

  // ---- sessions ------------------------------------------------------------------------------

  /**
   * A client's session, or null when the client is not connected (PHP `getSession`,
   * CMD_GET_SESSION_BY_CLIENT_ID). For the current client this is the live session of the handler
   * (with its unsaved changes).
   * @throws InvalidClientIdError when `clientId` is not a client_id (PHP returns false)
   * @throws QueryTimeoutError / GatewayUnreachableError when its gateway does not answer
   */
  async getSession(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<GatewaySession | null> {
    const target = decodeClientId(clientId);
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') return ctx.session;
    const reply = await this.queryOne(target.address, this.command(GatewayCommand.GET_SESSION_BY_CLIENT_ID, target.connectionId), options);
    // `N;`: the client is not connected. Anything else that is not an array reads as no session.
    const value = phpUnserialize(reply);
    return value === null ? null : asSession(value);
  }

  /**
   * Replaces a client's session (PHP `setSession`, CMD_SET_SESSION). On the current client, the
   * handler's session is replaced too, and not written back a second time.
   */
  async setSession(clientId: string, session: GatewaySession): Promise<boolean> {
    const target = decodeClientId(clientId);
    const bytes = phpSerialize(session ?? {}, { rootName: 'session' });
    const packet = this.command(GatewayCommand.SET_SESSION, target.connectionId, bytes, 'setSession');
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') ctx.clientSession.replaced(session, bytes);
    return this.sendTo(target.address, packet);
  }

  /**
   * Merges into a client's session with PHP's `array_replace_recursive` (PHP `updateSession`,
   * CMD_UPDATE_SESSION: nested objects merge, lists merge by index, other values replace, new keys
   * go at the end). The gateway merges, so concurrent updates of different keys do not overwrite
   * each other. On the current client, the handler's session is merged too.
   */
  async updateSession(clientId: string, partial: GatewaySession): Promise<boolean> {
    const target = decodeClientId(clientId);
    const update = phpSerialize(partial ?? {}, { rootName: 'session' });
    const packet = this.command(GatewayCommand.UPDATE_SESSION, target.connectionId, update, 'updateSession');
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') ctx.clientSession.merged(partial);
    return this.sendTo(target.address, packet);
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private current(method: string) {
    const ctx = gatewayEventStorage.getStore();
    if (!ctx) throw new NoCurrentClientError(method);
    return ctx;
  }

  private sendTo(address: string, packet: Buffer): Promise<boolean> {
    try {
      return Promise.resolve(this.transport.send(address, packet));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A send-type packet. Strings and bytes go as they are, numbers and booleans as PHP would cast
   * them, objects and arrays as JSON text (what a browser expects, and what a PHP gateway can send
   * to any client protocol). Bytes are marked binary (FLAG_BINARY), so a TypeScript gateway writes
   * them to websocket clients as binary frames; the transport clears the mark toward other gateways.
   * @throws PacketTooLargeError when the packet would exceed `innerMaxPackageSize`
   */
  private packet(method: string, cmd: number, message: GatewayMessage, raw: boolean, connectionId = 0, ext = ''): Buffer {
    const isBytes = message instanceof Uint8Array;
    const isStructured = message !== null && typeof message === 'object' && !isBytes;
    const { body } = encodeBody(isStructured ? JSON.stringify(message) : message);
    return this.checked(
      method,
      encodeGatewayPacket({
        cmd,
        connectionId,
        flag: FLAG_BODY_IS_SCALAR | (raw ? FLAG_NOT_CALL_ENCODE : isBytes ? FLAG_BINARY : 0),
        extData: ext ? Buffer.from(ext) : EMPTY,
        body,
      }),
    );
  }

  /** @throws PacketTooLargeError when the packet would exceed `innerMaxPackageSize` */
  private command(cmd: number, connectionId: number, ext: string | Buffer = '', method = `command ${cmd}`): Buffer {
    return this.checked(method, encodeGatewayPacket({ cmd, connectionId, flag: FLAG_BODY_IS_SCALAR, extData: typeof ext === 'string' ? Buffer.from(ext) : ext }));
  }

  /** A packet no gateway would take is refused here, before anything is written. */
  private checked(method: string, packet: Buffer): Buffer {
    if (packet.length > this.options.innerMaxPackageSize) throw new PacketTooLargeError(method, packet.length, this.options.innerMaxPackageSize);
    return packet;
  }

  /** A CMD_SELECT packet of `fields`, for every connection or for the members of `groups`. */
  private select(fields: ('uid' | 'groups')[], groups?: (string | number)[]): Buffer {
    return this.command(GatewayCommand.SELECT, 0, selectExt(fields, groups ? { groups } : undefined));
  }

  /** Sessions by client_id (all, or a group's), with the current client's live session in place of the stored one. */
  private async sessions(method: string, group: string, options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    const packet =
      group === ''
        ? this.command(GatewayCommand.GET_ALL_CLIENT_SESSIONS, 0)
        : this.command(GatewayCommand.GET_CLIENT_SESSIONS_BY_GROUP, 0, group);
    const ctx = gatewayEventStorage.getStore();
    const live = mapped(sessionsByClientId, (all) => {
      if (ctx && ctx.event !== 'close' && Object.prototype.hasOwnProperty.call(all, ctx.clientId)) all[ctx.clientId] = ctx.session;
      return all;
    });
    return this.fanOut(method, packet, live, options);
  }

  private queryOne(address: string, packet: Buffer, options?: Pick<QueryOptions, 'timeout'>): Promise<Buffer> {
    return this.transport.query(address, packet, options?.timeout ?? this.options.queryTimeout);
  }

  /**
   * Asks every gateway the Register lists (at once, each with its own timeout) and merges the
   * answers. A gateway that fails — timeout, unreachable, unreadable reply — contributes nothing
   * and makes the result partial (docs/protocol.md §7.1).
   */
  private async fanOut<A, R>(method: string, packet: Buffer, merger: ReplyMerger<A, R>, options?: QueryOptions): Promise<R> {
    const transport = this.transport;
    const addresses = [...(await transport.addresses())];
    if (addresses.length === 0) throw new NoGatewayError(method);
    const timeout = options?.timeout ?? this.options.queryTimeout;
    const settled = await Promise.allSettled(addresses.map((a) => transport.query(a, packet, timeout)));
    let acc = merger.initial();
    const failures: { address: string; error: Error }[] = [];
    settled.forEach((r, i) => {
      const address = addresses[i]!;
      if (r.status === 'rejected') {
        failures.push({ address, error: r.reason as Error });
        return;
      }
      let value: PhpExactValue;
      try {
        value = phpUnserializeExact(r.value);
      } catch (err) {
        failures.push({ address, error: err as Error });
        return;
      }
      acc = merger.merge(acc, value, replySource(address));
    });
    const result = merger.finish(acc);
    if (failures.length) {
      if (options?.partial === 'throw') throw new PartialResultError(method, result, failures);
      this.logger.warn(partialResult(method, failures.map((f) => `${f.address} (${f.error.message})`)));
    }
    return result;
  }
}

/** `x`, `[x, y]` or nothing, as a list. */
function listOf<T>(x: T | readonly T[] | null | undefined): T[] {
  return x === undefined || x === null ? [] : ([] as T[]).concat(x as T | T[]);
}

/**
 * The uids/groups to send, PHP-empty ones dropped (a PHP gateway ignores them anyway). Numbers
 * stay numbers, so the JSON is the bytes PHP's `json_encode` gives (`["u1",42]`, TV-6).
 */
function validKeys(x: GatewayKey | readonly GatewayKey[]): GatewayKey[] {
  return listOf(x).filter((k) => !isPhpEmpty(k));
}

/** client_ids grouped by the address of their gateway. */
function groupByGateway(clientIds: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const id of clientIds) {
    const { address } = decodeClientId(id);
    const list = map.get(address);
    if (list) list.push(id);
    else map.set(address, [id]);
  }
  return map;
}

/** A packet per gateway of the `clientIds`, all built before any is sent. */
function perGateway(clientIds: readonly string[], packetFor: (ids: string[]) => Buffer): Map<string, Buffer> {
  const packets = new Map<string, Buffer>();
  for (const [address, ids] of groupByGateway(clientIds)) packets.set(address, packetFor(ids));
  return packets;
}

/** `{"<connection id>": <connection id>}` for client_ids, the shape PHP gateways read. */
function idMap(clientIds: readonly string[]): Record<string, number> {
  const map: Record<string, number> = {};
  for (const id of clientIds) {
    const { connectionId } = decodeClientId(id);
    map[connectionId] = connectionId;
  }
  return map;
}
