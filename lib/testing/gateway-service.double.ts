import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import type { GatewaySession } from '../business-worker/gateway-event-context.js';
import { NoCurrentClientError } from '../errors/no-current-client.error.js';
import type { GatewayKey, GatewayMessage, GatewayService } from '../gateway.service.js';
import type { QueryOptions } from '../interfaces/query-options.interface.js';
import { decodeClientId, encodeClientId } from '../protocol/client-id.js';
import { isPhpEmpty } from '../protocol/php-value.js';
import { replaceRecursive } from '../protocol/php-array-merge.js';

/**
 * The names of GatewayService's public methods.
 *
 * @publicApi
 */
export type GatewayServiceMethod = {
  [K in keyof GatewayService]: GatewayService[K] extends (...args: never[]) => unknown ? K : never;
}[keyof GatewayService];

/**
 * One recorded call: the method and its arguments, as the code under test passed them.
 *
 * @publicApi
 */
export interface RecordedGatewayCall<M extends GatewayServiceMethod = GatewayServiceMethod> {
  method: M;
  args: Parameters<GatewayService[M]>;
  /** The current client while the call was made (see `asCurrentClient`), if any. */
  currentClient: string | null;
}

/**
 * One message a client of the in-memory cluster received, and the call that sent it.
 *
 * @publicApi
 */
export interface GatewayDelivery {
  clientId: string;
  message: GatewayMessage;
  raw: boolean;
  method: GatewayServiceMethod;
}

/**
 * A client of the in-memory cluster, as `addClient` sets it up.
 *
 * @publicApi
 */
export interface TestClientSetup {
  uid?: GatewayKey;
  groups?: GatewayKey[];
  session?: GatewaySession;
}

interface ModelClient {
  uid: string | null;
  groups: Set<string>;
  session: GatewaySession;
}

/** The whole public API of GatewayService: the double must have every method, with its signature. */
type GatewayServiceApi = { [K in GatewayServiceMethod]: GatewayService[K] };

/**
 * A valid client_id for tests: client `n` of a gateway at 127.0.0.1:2900 (as real ids look:
 * `7f0000010b54` + the connection number in hex).
 *
 * @publicApi
 */
export function testClientId(n: number): string {
  return encodeClientId(0x7f000001, 2900, n);
}

const keys = (k: GatewayKey | readonly GatewayKey[]): string[] => [...new Set(([] as GatewayKey[]).concat(k as GatewayKey).filter((x) => !isPhpEmpty(x)).map(String))];
const listOf = (x: string | readonly string[] | null | undefined): string[] => (x === undefined || x === null ? [] : ([] as string[]).concat(x as string));

/**
 * A test double of `GatewayService` for unit tests of your own code: it has every public method
 * of GatewayService with the same signature, records every call, and answers from a small
 * in-memory cluster that you set up (clients with their uid, groups and session). Sends are
 * "delivered" to the clients of that cluster, so a test can check who got what; binds, groups,
 * sessions and closes change it, as a gateway would. Provided by `GatewayWorkerTestingModule`.
 *
 * As the real service: invalid client_ids reject with `InvalidClientIdError`, PHP-empty uids and
 * groups (`''`, `'0'`, `0`) are not bound or joined (false), uids and groups come back as strings,
 * and "current client" methods reject with `NoCurrentClientError` outside `asCurrentClient()`.
 * Sends resolve to `true` (a healthy cluster took them), whether or not a client received them.
 *
 * @publicApi
 */
@Injectable()
export class GatewayServiceDouble implements GatewayServiceApi {
  private readonly clients = new Map<string, ModelClient>();
  private readonly recorded: RecordedGatewayCall[] = [];
  private readonly delivered: GatewayDelivery[] = [];
  private readonly current = new AsyncLocalStorage<string>();

  // ---- setting up the cluster and reading what happened ---------------------------------------

  /** Adds a connected client (replacing one with the same id). Returns the double, for chaining. */
  addClient(clientId: string, setup: TestClientSetup = {}): this {
    decodeClientId(clientId);
    this.clients.set(clientId, {
      uid: setup.uid === undefined || isPhpEmpty(setup.uid) ? null : String(setup.uid),
      groups: new Set(keys(setup.groups ?? [])),
      session: structuredClone(setup.session ?? {}),
    });
    return this;
  }

  /** Disconnects a client, as if it had closed its connection. */
  removeClient(clientId: string): this {
    this.clients.delete(clientId);
    return this;
  }

  /** The connected clients' ids. */
  get clientIds(): string[] {
    return [...this.clients.keys()];
  }

  /**
   * Runs `fn` as an event handler of `clientId` runs: `sendToCurrentClient`, `closeCurrentClient`
   * and `destroyCurrentClient` address that client.
   */
  asCurrentClient<T>(clientId: string, fn: () => T): T {
    decodeClientId(clientId);
    return this.current.run(clientId, fn);
  }

  /** Every recorded call, in order; or the argument lists of the calls of one method. */
  calls(): RecordedGatewayCall[];
  calls<M extends GatewayServiceMethod>(method: M): Parameters<GatewayService[M]>[];
  calls(method?: GatewayServiceMethod): unknown[] {
    return method ? this.recorded.filter((c) => c.method === method).map((c) => c.args) : [...this.recorded];
  }

  /** Every message delivered to a client of the cluster, in order. */
  get deliveries(): GatewayDelivery[] {
    return [...this.delivered];
  }

  /** The messages `clientId` received, in order, as they were passed to the send methods. */
  sentTo(clientId: string): GatewayMessage[] {
    return this.delivered.filter((d) => d.clientId === clientId).map((d) => d.message);
  }

  /** Forgets the recorded calls and deliveries (the cluster stays as it is). */
  resetCalls(): void {
    this.recorded.length = 0;
    this.delivered.length = 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  private record<M extends GatewayServiceMethod>(method: M, args: unknown[]): void {
    this.recorded.push({ method, args: args as Parameters<GatewayService[M]>, currentClient: this.current.getStore() ?? null });
  }

  private currentClient(method: string): string {
    const id = this.current.getStore();
    if (!id) throw new NoCurrentClientError(method);
    return id;
  }

  private deliver(method: GatewayServiceMethod, ids: Iterable<string>, message: GatewayMessage, raw: boolean): void {
    for (const clientId of ids) if (this.clients.has(clientId)) this.delivered.push({ clientId, message, raw, method });
  }

  private members(groups: string[]): string[] {
    return [...this.clients].filter(([, c]) => groups.some((g) => c.groups.has(g))).map(([id]) => id);
  }

  private sessions(ids: Iterable<string>): Record<string, GatewaySession> {
    const out: Record<string, GatewaySession> = {};
    for (const id of ids) out[id] = structuredClone(this.clients.get(id)!.session);
    return out;
  }

  private uidsOf(ids: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const id of ids) {
      const uid = this.clients.get(id)?.uid;
      if (uid !== null && uid !== undefined) out.add(uid);
    }
    return [...out];
  }

  private allGroups(): string[] {
    return [...new Set([...this.clients.values()].flatMap((c) => [...c.groups]))];
  }

  private perGroup<T>(fn: (members: string[]) => T): Record<string, T> {
    const out: Record<string, T> = {};
    for (const g of this.allGroups()) out[g] = fn(this.members([g]));
    return out;
  }

  // ---- sending ---------------------------------------------------------------------------------

  async sendToClient(clientId: string, message: GatewayMessage, raw = false): Promise<boolean> {
    this.record('sendToClient', [clientId, message, raw]);
    decodeClientId(clientId);
    this.deliver('sendToClient', [clientId], message, raw);
    return true;
  }

  async sendToCurrentClient(message: GatewayMessage, raw = false): Promise<boolean> {
    this.record('sendToCurrentClient', [message, raw]);
    this.deliver('sendToCurrentClient', [this.currentClient('sendToCurrentClient')], message, raw);
    return true;
  }

  async sendToAll(message: GatewayMessage, clientIds?: readonly string[] | null, exclude?: string | readonly string[] | null, raw = false): Promise<boolean> {
    this.record('sendToAll', [message, clientIds, exclude, raw]);
    for (const id of [...(clientIds ?? []), ...listOf(exclude)]) decodeClientId(id);
    const skip = new Set(listOf(exclude));
    const targets = (clientIds ?? [...this.clients.keys()]).filter((id) => !skip.has(id));
    if (clientIds && targets.length === 0) return false;
    this.deliver('sendToAll', targets, message, raw);
    return true;
  }

  async sendToUid(uid: GatewayKey | readonly GatewayKey[], message: GatewayMessage, raw = false): Promise<boolean> {
    this.record('sendToUid', [uid, message, raw]);
    const uids = keys(uid);
    if (uids.length === 0) return false;
    this.deliver('sendToUid', [...this.clients].filter(([, c]) => c.uid !== null && uids.includes(c.uid)).map(([id]) => id), message, raw);
    return true;
  }

  async sendToGroup(group: GatewayKey | readonly GatewayKey[], message: GatewayMessage, exclude?: string | readonly string[] | null, raw = false): Promise<boolean> {
    this.record('sendToGroup', [group, message, exclude, raw]);
    const groups = keys(group);
    for (const id of listOf(exclude)) decodeClientId(id);
    if (groups.length === 0) return false;
    const skip = new Set(listOf(exclude));
    // A client in two listed groups receives it twice, as from a real gateway.
    for (const g of groups) this.deliver('sendToGroup', this.members([g]).filter((id) => !skip.has(id)), message, raw);
    return true;
  }

  // ---- connections -----------------------------------------------------------------------------

  async closeClient(clientId: string, message?: GatewayMessage | null): Promise<boolean> {
    this.record('closeClient', [clientId, message]);
    decodeClientId(clientId);
    if (message !== undefined && message !== null) this.deliver('closeClient', [clientId], message, false);
    this.clients.delete(clientId);
    return true;
  }

  async closeCurrentClient(message?: GatewayMessage | null): Promise<boolean> {
    this.record('closeCurrentClient', [message]);
    const id = this.currentClient('closeCurrentClient');
    if (message !== undefined && message !== null) this.deliver('closeCurrentClient', [id], message, false);
    this.clients.delete(id);
    return true;
  }

  async destroyClient(clientId: string): Promise<boolean> {
    this.record('destroyClient', [clientId]);
    decodeClientId(clientId);
    this.clients.delete(clientId);
    return true;
  }

  async destroyCurrentClient(): Promise<boolean> {
    this.record('destroyCurrentClient', []);
    this.clients.delete(this.currentClient('destroyCurrentClient'));
    return true;
  }

  /** @deprecated use `destroyClient` */
  async destoryClient(clientId: string): Promise<boolean> {
    this.record('destoryClient', [clientId]);
    decodeClientId(clientId);
    this.clients.delete(clientId);
    return true;
  }

  /** @deprecated use `destroyCurrentClient` */
  async destoryCurrentClient(): Promise<boolean> {
    this.record('destoryCurrentClient', []);
    this.clients.delete(this.currentClient('destoryCurrentClient'));
    return true;
  }

  async isOnline(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<boolean> {
    this.record('isOnline', [clientId, options]);
    decodeClientId(clientId);
    return this.clients.has(clientId);
  }

  // ---- counts ----------------------------------------------------------------------------------

  async getAllClientCount(options?: QueryOptions): Promise<number> {
    this.record('getAllClientCount', [options]);
    return this.clients.size;
  }

  async getAllClientIdCount(options?: QueryOptions): Promise<number> {
    this.record('getAllClientIdCount', [options]);
    return this.clients.size;
  }

  async getClientCountByGroup(group: GatewayKey = '', options?: QueryOptions): Promise<number> {
    this.record('getClientCountByGroup', [group, options]);
    return group === '' ? this.clients.size : this.members(keys(group)).length;
  }

  async getClientIdCountByGroup(group: GatewayKey = '', options?: QueryOptions): Promise<number> {
    this.record('getClientIdCountByGroup', [group, options]);
    return group === '' ? this.clients.size : this.members(keys(group)).length;
  }

  async batchGetClientCountByGroup(groups: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, number>> {
    this.record('batchGetClientCountByGroup', [groups, options]);
    return Object.fromEntries(keys(groups).map((g) => [g, this.members([g]).length]));
  }

  async batchGetClientIdCountByGroup(groups: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, number>> {
    this.record('batchGetClientIdCountByGroup', [groups, options]);
    return Object.fromEntries(keys(groups).map((g) => [g, this.members([g]).length]));
  }

  // ---- uids ------------------------------------------------------------------------------------

  async bindUid(clientId: string, uid: GatewayKey): Promise<boolean> {
    this.record('bindUid', [clientId, uid]);
    decodeClientId(clientId);
    if (isPhpEmpty(uid)) return false;
    const client = this.clients.get(clientId);
    if (client) client.uid = String(uid);
    return true;
  }

  async unbindUid(clientId: string, uid: GatewayKey = ''): Promise<boolean> {
    this.record('unbindUid', [clientId, uid]);
    decodeClientId(clientId);
    const client = this.clients.get(clientId);
    if (client) client.uid = null;
    return true;
  }

  async getClientIdByUid(uid: GatewayKey, options?: QueryOptions): Promise<string[]> {
    this.record('getClientIdByUid', [uid, options]);
    const [u] = keys(uid);
    return u === undefined ? [] : [...this.clients].filter(([, c]) => c.uid === u).map(([id]) => id);
  }

  async batchGetClientIdByUid(uids: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, string[]>> {
    this.record('batchGetClientIdByUid', [uids, options]);
    return Object.fromEntries(keys(uids).map((u) => [u, [...this.clients].filter(([, c]) => c.uid === u).map(([id]) => id)]));
  }

  async isUidOnline(uid: GatewayKey, options?: QueryOptions): Promise<boolean> {
    this.record('isUidOnline', [uid, options]);
    const [u] = keys(uid);
    return u !== undefined && [...this.clients.values()].some((c) => c.uid === u);
  }

  async isUidsOnline(uids: readonly GatewayKey[], options?: QueryOptions): Promise<Record<string, boolean>> {
    this.record('isUidsOnline', [uids, options]);
    return Object.fromEntries(keys(uids).map((u) => [u, [...this.clients.values()].some((c) => c.uid === u)]));
  }

  async getUidByClientId(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<string | null> {
    this.record('getUidByClientId', [clientId, options]);
    decodeClientId(clientId);
    return this.clients.get(clientId)?.uid ?? null;
  }

  async getAllUidList(options?: QueryOptions): Promise<string[]> {
    this.record('getAllUidList', [options]);
    return this.uidsOf(this.clients.keys());
  }

  async getAllUidCount(options?: QueryOptions): Promise<number> {
    this.record('getAllUidCount', [options]);
    return this.uidsOf(this.clients.keys()).length;
  }

  // ---- groups ----------------------------------------------------------------------------------

  async joinGroup(clientId: string, group: GatewayKey): Promise<boolean> {
    this.record('joinGroup', [clientId, group]);
    decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    this.clients.get(clientId)?.groups.add(String(group));
    return true;
  }

  async leaveGroup(clientId: string, group: GatewayKey): Promise<boolean> {
    this.record('leaveGroup', [clientId, group]);
    decodeClientId(clientId);
    if (isPhpEmpty(group)) return false;
    this.clients.get(clientId)?.groups.delete(String(group));
    return true;
  }

  async ungroup(group: GatewayKey): Promise<boolean> {
    this.record('ungroup', [group]);
    if (isPhpEmpty(group)) return false;
    for (const c of this.clients.values()) c.groups.delete(String(group));
    return true;
  }

  async getClientIdListByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<string[]> {
    this.record('getClientIdListByGroup', [group, options]);
    return this.members(keys(group));
  }

  async getUidListByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<string[]> {
    this.record('getUidListByGroup', [group, options]);
    return this.uidsOf(this.members(keys(group)));
  }

  async getUidCountByGroup(group: GatewayKey | readonly GatewayKey[], options?: QueryOptions): Promise<number> {
    this.record('getUidCountByGroup', [group, options]);
    return this.uidsOf(this.members(keys(group))).length;
  }

  async getClientSessionsByGroup(group: GatewayKey, options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    this.record('getClientSessionsByGroup', [group, options]);
    return this.sessions(this.members(keys(group)));
  }

  async getAllGroupIdList(options?: QueryOptions): Promise<string[]> {
    this.record('getAllGroupIdList', [options]);
    return this.allGroups();
  }

  async getAllGroupUidList(options?: QueryOptions): Promise<Record<string, string[]>> {
    this.record('getAllGroupUidList', [options]);
    return this.perGroup((m) => this.uidsOf(m));
  }

  async getAllGroupUidCount(options?: QueryOptions): Promise<Record<string, number>> {
    this.record('getAllGroupUidCount', [options]);
    return this.perGroup((m) => this.uidsOf(m).length);
  }

  async getAllGroupClientIdList(options?: QueryOptions): Promise<Record<string, string[]>> {
    this.record('getAllGroupClientIdList', [options]);
    return this.perGroup((m) => m);
  }

  async getAllGroupClientIdCount(options?: QueryOptions): Promise<Record<string, number>> {
    this.record('getAllGroupClientIdCount', [options]);
    return this.perGroup((m) => m.length);
  }

  // ---- whole cluster and sessions ----------------------------------------------------------------

  async getAllClientIdList(options?: QueryOptions): Promise<string[]> {
    this.record('getAllClientIdList', [options]);
    return [...this.clients.keys()];
  }

  async getAllClientSessions(group: GatewayKey = '', options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    this.record('getAllClientSessions', [group, options]);
    return this.sessions(group === '' ? this.clients.keys() : this.members(keys(group)));
  }

  /** @deprecated use `getAllClientSessions` */
  async getAllClientInfo(group: GatewayKey = '', options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    this.record('getAllClientInfo', [group, options]);
    return this.sessions(group === '' ? this.clients.keys() : this.members(keys(group)));
  }

  /** @deprecated use `getClientSessionsByGroup` */
  async getClientInfoByGroup(group: GatewayKey, options?: QueryOptions): Promise<Record<string, GatewaySession>> {
    this.record('getClientInfoByGroup', [group, options]);
    return this.sessions(this.members(keys(group)));
  }

  async getSession(clientId: string, options?: Pick<QueryOptions, 'timeout'>): Promise<GatewaySession | null> {
    this.record('getSession', [clientId, options]);
    decodeClientId(clientId);
    const client = this.clients.get(clientId);
    return client ? structuredClone(client.session) : null;
  }

  async setSession(clientId: string, session: GatewaySession): Promise<boolean> {
    this.record('setSession', [clientId, session]);
    decodeClientId(clientId);
    const client = this.clients.get(clientId);
    if (client) client.session = structuredClone(session ?? {});
    return true;
  }

  async updateSession(clientId: string, partial: GatewaySession): Promise<boolean> {
    this.record('updateSession', [clientId, partial]);
    decodeClientId(clientId);
    const client = this.clients.get(clientId);
    if (client) replaceRecursive(client.session, structuredClone(partial ?? {}));
    return true;
  }
}
