import { Inject, Injectable, Logger } from '@nestjs/common';
import { BusinessWorkerServer } from './business-worker/business-worker.server.js';
import type { GatewaySession } from './business-worker/gateway-event-context.js';
import { gatewayEventStorage } from './business-worker/gateway-event.storage.js';
import { GatewayClient } from './client/gateway.client.js';
import { GatewayQueryPool } from './client/gateway-query.pool.js';
import type { GatewayTransport } from './client/gateway-transport.interface.js';
import { WorkerTransport } from './client/worker.transport.js';
import { NoCurrentClientError } from './errors/no-current-client.error.js';
import { NoGatewayError } from './errors/no-gateway.error.js';
import { PartialResultError } from './errors/partial-result.error.js';
import { GATEWAY_WORKER_OPTIONS } from './gateway-worker.constants.js';
import { partialResult } from './gateway-worker.messages.js';
import type { QueryOptions } from './interfaces/query-options.interface.js';
import type { ResolvedGatewayWorkerOptions } from './interfaces/resolved-options.interface.js';
import { decodeClientId, encodeClientId, type ClientIdParts } from './protocol/client-id.js';
import { ip2long, splitAddress } from './utils/ip.util.js';
import { FLAG_BODY_IS_SCALAR, FLAG_NOT_CALL_ENCODE, GatewayCommand } from './protocol/gateway-command.js';
import { encodeBody, encodeGatewayPacket } from './protocol/gateway-packet.js';
import { phpSerialize, phpUnserialize } from './protocol/php-serialize.js';
import { isPhpEmpty } from './protocol/php-value.js';
import { replaceRecursive } from './utils/replace-recursive.js';

/** What can be sent to a client: text, bytes, or a value sent as JSON text. */
export type GatewayMessage = string | Buffer | Uint8Array | number | boolean | object;

const EMPTY = Buffer.alloc(0);
const NULL_BODY = Buffer.from('N;');

/**
 * The GatewayWorker API (PHP's `GatewayWorker\Lib\Gateway`, camelCased and Promise-based): push
 * to a client, a uid, a group or everybody; manage uids, groups and sessions; ask who is online.
 *
 * The same injectable works inside a BusinessWorker (through the worker's gateway links; "current
 * client" methods refer to the client whose event is being handled) and in any other Nest app
 * (as the GatewayClient, through the Register).
 *
 * Sends resolve to `true` when the command was handed to the gateway(s), `false` when the target
 * gateway is not connected — delivery to the end client is not acknowledged, as in PHP.
 */
@Injectable()
export class GatewayService {
  private readonly logger = new Logger('GatewayService');
  private readonly workerTransport: WorkerTransport;

  constructor(
    @Inject(GATEWAY_WORKER_OPTIONS) private readonly options: ResolvedGatewayWorkerOptions,
    private readonly worker: BusinessWorkerServer,
    private readonly client: GatewayClient,
  ) {
    this.workerTransport = new WorkerTransport(worker, new GatewayQueryPool(options));
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Sends a message to one client.
   * @param raw send the bytes as they are, without the client protocol's framing (no `\n`, no websocket frame)
   * @throws InvalidClientIdError when `clientId` is not a client_id
   */
  async sendToClient(clientId: string, message: GatewayMessage, raw = false): Promise<boolean> {
    const target = decodeClientId(clientId);
    return this.sendTo(target.address, this.packet(GatewayCommand.SEND_TO_ONE, message, raw, target.connectionId));
  }

  /**
   * Sends a message to the client whose event is being handled.
   * @throws NoCurrentClientError outside an event handler
   */
  async sendToCurrentClient(message: GatewayMessage, raw = false): Promise<boolean> {
    return this.sendToClient(this.current('sendToCurrentClient').clientId, message, raw);
  }

  /**
   * Sends a message to every client of the cluster, or to a list of clients.
   * @param clientIds only these clients; `[]` sends nothing; `null`/omitted means everybody
   * @param exclude client_id(s) that must not receive it
   */
  async sendToAll(message: GatewayMessage, clientIds?: string[] | null, exclude?: string | string[] | null, raw = false): Promise<boolean> {
    const excluded = exclude === undefined || exclude === null ? [] : ([] as string[]).concat(exclude);
    if (clientIds !== undefined && clientIds !== null) {
      const skip = new Set(excluded);
      const byGateway = this.groupByGateway(clientIds.filter((id) => !skip.has(id)));
      let ok = true;
      for (const [address, ids] of byGateway) {
        const ext = JSON.stringify({ connections: idMap(ids) });
        ok = (await this.sendTo(address, this.packet(GatewayCommand.SEND_TO_ALL, message, raw, 0, ext))) && ok;
      }
      return ok;
    }
    const base = this.packet(GatewayCommand.SEND_TO_ALL, message, raw);
    if (excluded.length === 0) return (await this.transport().sendAll(base)) > 0;
    const byGateway = this.groupByGateway(excluded);
    const n = await this.transport().sendAll((address) => {
      const ids = byGateway.get(address);
      return ids ? this.packet(GatewayCommand.SEND_TO_ALL, message, raw, 0, JSON.stringify({ exclude: idMap(ids) })) : base;
    });
    return n > 0;
  }

  /** Sends a message to every connection bound to the uid(s), on every gateway. PHP-empty uids are skipped. */
  async sendToUid(uid: string | number | (string | number)[], message: GatewayMessage, raw = false): Promise<boolean> {
    const uids = ([] as (string | number)[]).concat(uid).filter((u) => !isPhpEmpty(u));
    if (uids.length === 0) return false;
    return (await this.transport().sendAll(this.packet(GatewayCommand.SEND_TO_UID, message, raw, 0, JSON.stringify(uids)))) > 0;
  }

  /**
   * Sends a message to the members of the group(s), on every gateway. A client in two listed groups
   * receives it twice, as in PHP. PHP-empty groups are skipped.
   * @param exclude client_id(s) that must not receive it
   */
  async sendToGroup(group: string | number | (string | number)[], message: GatewayMessage, exclude?: string | string[] | null, raw = false): Promise<boolean> {
    const groups = ([] as (string | number)[]).concat(group).filter((g) => !isPhpEmpty(g));
    if (groups.length === 0) return false;
    const excluded = exclude === undefined || exclude === null ? [] : ([] as string[]).concat(exclude);
    const ext = (ids: string[] | null) => JSON.stringify({ group: groups, exclude: ids ? idMap(ids) : null });
    const base = this.packet(GatewayCommand.SEND_TO_GROUP, message, raw, 0, ext(null));
    if (excluded.length === 0) return (await this.transport().sendAll(base)) > 0;
    const byGateway = this.groupByGateway(excluded);
    const n = await this.transport().sendAll((address) => {
      const ids = byGateway.get(address);
      return ids ? this.packet(GatewayCommand.SEND_TO_GROUP, message, raw, 0, ext(ids)) : base;
    });
    return n > 0;
  }

  // ---- connections ---------------------------------------------------------------------------

  /**
   * Closes a client's connection gracefully, after an optional last message.
   * @throws InvalidClientIdError when `clientId` is not a client_id
   */
  async closeClient(clientId: string, message?: GatewayMessage | null): Promise<boolean> {
    const target = decodeClientId(clientId);
    const packet =
      message === undefined || message === null
        ? encodeGatewayPacket({ cmd: GatewayCommand.KICK, connectionId: target.connectionId, body: NULL_BODY })
        : this.packet(GatewayCommand.KICK, message, false, target.connectionId);
    return this.sendTo(target.address, packet);
  }

  /** Closes the current client's connection gracefully, after an optional last message. */
  async closeCurrentClient(message?: GatewayMessage | null): Promise<boolean> {
    return this.closeClient(this.current('closeCurrentClient').clientId, message);
  }

  /** Cuts a client's connection at once; messages still queued for it are discarded. */
  async destroyClient(clientId: string): Promise<boolean> {
    const target = decodeClientId(clientId);
    return this.sendTo(target.address, this.command(GatewayCommand.DESTROY, target.connectionId));
  }

  /** Cuts the current client's connection at once. */
  async destroyCurrentClient(): Promise<boolean> {
    return this.destroyClient(this.current('destroyCurrentClient').clientId);
  }

  /** Is the client connected? (Asks its gateway.) */
  async isOnline(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<boolean> {
    const target = decodeClientId(clientId);
    const reply = await this.queryOne(target.address, this.command(GatewayCommand.IS_ONLINE, target.connectionId), options);
    return phpUnserialize(reply) === 1;
  }

  /** Number of clients connected to the whole cluster. */
  async getAllClientCount(options?: QueryOptions): Promise<number> {
    return this.getClientCountByGroup('', options);
  }

  /** Number of members of a group across the cluster (`''`: all clients). */
  async getClientCountByGroup(group: string | number, options?: QueryOptions): Promise<number> {
    const packet = this.command(GatewayCommand.GET_CLIENT_COUNT_BY_GROUP, 0, String(group));
    return this.fanOut('getClientCountByGroup', packet, 0, (sum, value) => sum + (typeof value === 'number' ? value : 0), options);
  }

  // ---- uids ----------------------------------------------------------------------------------

  /** Binds a uid to a client (a client has at most one uid; a uid may have many clients). PHP-empty uids are ignored. */
  async bindUid(clientId: string, uid: string | number): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(uid)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.BIND_UID, target.connectionId, String(uid)));
  }

  /** Unbinds the client's uid (whatever uid is given: the gateway unbinds the bound one, as in PHP). */
  async unbindUid(clientId: string, uid: string | number = ''): Promise<boolean> {
    const target = decodeClientId(clientId);
    return this.sendTo(target.address, this.command(GatewayCommand.UNBIND_UID, target.connectionId, String(uid)));
  }

  /** The client_ids bound to a uid, across the cluster. */
  async getClientIdByUid(uid: string | number, options?: QueryOptions): Promise<string[]> {
    const packet = this.command(GatewayCommand.GET_CLIENT_ID_BY_UID, 0, String(uid));
    return this.fanOutIds('getClientIdByUid', packet, options);
  }

  /** Is any connection bound to this uid? */
  async isUidOnline(uid: string | number, options?: QueryOptions): Promise<boolean> {
    return (await this.getClientIdByUid(uid, options)).length > 0;
  }

  // ---- groups --------------------------------------------------------------------------------

  /** Adds a client to a group. PHP-empty groups are ignored. */
  async joinGroup(clientId: string, group: string | number): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.JOIN_GROUP, target.connectionId, String(group)));
  }

  /** Removes a client from a group. */
  async leaveGroup(clientId: string, group: string | number): Promise<boolean> {
    const target = decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    return this.sendTo(target.address, this.command(GatewayCommand.LEAVE_GROUP, target.connectionId, String(group)));
  }

  /** Dissolves a group on every gateway (its members stay connected). */
  async ungroup(group: string | number): Promise<boolean> {
    if (isPhpEmpty(group)) return false;
    return (await this.transport().sendAll(this.command(GatewayCommand.UNGROUP, 0, String(group)))) > 0;
  }

  // ---- sessions ------------------------------------------------------------------------------

  /**
   * A client's session, or null when the client is not connected. For the current client this is
   * the live session of the handler (with its unsaved changes).
   */
  async getSession(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<GatewaySession | null> {
    const target = decodeClientId(clientId);
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') return ctx.session;
    const reply = await this.queryOne(target.address, this.command(GatewayCommand.GET_SESSION_BY_CLIENT_ID, target.connectionId), options);
    const value = phpUnserialize(reply);
    return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) ? (value as GatewaySession) : null;
  }

  /** Replaces a client's session. On the current client, the handler's session is replaced too. */
  async setSession(clientId: string, session: GatewaySession): Promise<boolean> {
    const target = decodeClientId(clientId);
    const bytes = phpSerialize(session ?? {});
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') {
      ctx.session = session;
      this.worker.sessionWritten(clientId, ctx.sessionWritten ?? ctx.sessionBytes, bytes);
      ctx.sessionWritten = bytes;
    }
    return this.sendTo(target.address, this.command(GatewayCommand.SET_SESSION, target.connectionId, bytes));
  }

  /**
   * Merges into a client's session with PHP's `array_replace_recursive` (nested objects merge,
   * lists merge by index, other values replace). On the current client, the handler's session is
   * merged too.
   */
  async updateSession(clientId: string, partial: GatewaySession): Promise<boolean> {
    const target = decodeClientId(clientId);
    const ctx = gatewayEventStorage.getStore();
    if (ctx && ctx.clientId === clientId && ctx.event !== 'close') {
      const merged = replaceRecursive(ctx.session, structuredClone(partial));
      const bytes = phpSerialize(merged);
      this.worker.sessionWritten(clientId, ctx.sessionWritten ?? ctx.sessionBytes, bytes);
      ctx.sessionWritten = bytes;
    }
    return this.sendTo(target.address, this.command(GatewayCommand.UPDATE_SESSION, target.connectionId, phpSerialize(partial ?? {})));
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Inside a handler, the worker handling it; inside a running worker, that worker; otherwise the GatewayClient. */
  private transport(): GatewayTransport {
    return this.worker.isRunning ? this.workerTransport : this.client;
  }

  private current(method: string) {
    const ctx = gatewayEventStorage.getStore();
    if (!ctx) throw new NoCurrentClientError(method);
    return ctx;
  }

  private async sendTo(address: string, packet: Buffer): Promise<boolean> {
    return this.transport().send(address, packet);
  }

  /**
   * A send-type packet. Strings and bytes go as they are, numbers and booleans as PHP would cast
   * them, objects and arrays as JSON text (what a browser expects, and what a PHP gateway can send
   * to any client protocol).
   */
  private packet(cmd: number, message: GatewayMessage, raw: boolean, connectionId = 0, ext = ''): Buffer {
    const isStructured = message !== null && typeof message === 'object' && !(message instanceof Uint8Array);
    const { body } = encodeBody(isStructured ? JSON.stringify(message) : message);
    return encodeGatewayPacket({
      cmd,
      connectionId,
      flag: FLAG_BODY_IS_SCALAR | (raw ? FLAG_NOT_CALL_ENCODE : 0),
      extData: ext ? Buffer.from(ext) : EMPTY,
      body,
    });
  }

  private command(cmd: number, connectionId: number, ext: string | Buffer = ''): Buffer {
    return encodeGatewayPacket({ cmd, connectionId, flag: FLAG_BODY_IS_SCALAR, extData: typeof ext === 'string' ? Buffer.from(ext) : ext });
  }

  private groupByGateway(clientIds: string[]): Map<string, string[]> {
    const map = new Map<string, string[]>();
    for (const id of clientIds) {
      const parts: ClientIdParts = decodeClientId(id);
      const list = map.get(parts.address);
      if (list) list.push(id);
      else map.set(parts.address, [id]);
    }
    return map;
  }

  private queryOne(address: string, packet: Buffer, options?: Pick<QueryOptions, 'timeout'>): Promise<Buffer> {
    return this.transport().query(address, packet, options?.timeout ?? this.options.queryTimeout);
  }

  /** Asks every gateway, merges the answers; failed gateways make the result partial. */
  private async fanOut<T>(method: string, packet: Buffer, initial: T, merge: (acc: T, value: unknown, address: string) => T, options?: QueryOptions): Promise<T> {
    const transport = this.transport();
    const addresses = await transport.addresses();
    if (addresses.length === 0) throw new NoGatewayError(method);
    const timeout = options?.timeout ?? this.options.queryTimeout;
    const settled = await Promise.allSettled(addresses.map((a) => transport.query(a, packet, timeout)));
    let acc = initial;
    const failures: { address: string; error: Error }[] = [];
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        let value: unknown;
        try {
          value = phpUnserialize(r.value);
        } catch (err) {
          failures.push({ address: addresses[i]!, error: err as Error });
          return;
        }
        acc = merge(acc, value, addresses[i]!);
      } else failures.push({ address: addresses[i]!, error: r.reason as Error });
    });
    if (failures.length) {
      if (options?.partial === 'throw') throw new PartialResultError(method, acc, failures);
      this.logger.warn(partialResult(method, failures.map((f) => `${f.address} (${f.error.message})`)));
    }
    return acc;
  }

  /** A fan-out whose replies are lists of connection ids, merged into client_ids. */
  private fanOutIds(method: string, packet: Buffer, options?: QueryOptions): Promise<string[]> {
    return this.fanOut<string[]>(
      method,
      packet,
      [],
      (acc, value, address) => {
        const { host, port } = splitAddress(address)!;
        const ip = ip2long(host);
        for (const id of Object.values((value ?? {}) as Record<string, unknown>)) {
          if (typeof id === 'number') acc.push(encodeClientId(ip, port, id));
        }
        return acc;
      },
      options,
    );
  }
}

/** `{"<connection id>": <connection id>}` for client_ids, the shape PHP gateways read. */
function idMap(clientIds: string[]): Record<string, number> {
  const map: Record<string, number> = {};
  for (const id of clientIds) {
    const { connectionId } = decodeClientId(id);
    map[connectionId] = connectionId;
  }
  return map;
}
