import type { GatewaySession } from '../business-worker/client-session.js';
import { isPhpEmpty, PhpArray, type PhpExactValue } from '../protocol/php-value.js';
import { clientIdOf, entriesOf, intOf, keyOf, sessionOf, setEntry, textOf, valuesOf, type ReplySource } from './query-reply.reader.js';

/**
 * How the replies of one fan-out query are combined: a fresh accumulator per call, one `merge` per
 * gateway that answered (in any order), then `finish` into what the caller gets. `finish` also
 * runs on a partial accumulator, for `PartialResultError.partialValue`.
 */
export interface ReplyMerger<A, R> {
  initial(): A;
  merge(acc: A, reply: PhpExactValue, source: ReplySource): A;
  finish(acc: A): R;
}

const identity = <T>(x: T): T => x;

/** A `{ key → value }` record from a Map, in the Map's order. */
function recordOf<V, R>(map: Map<string, V>, convert: (v: V) => R): Record<string, R> {
  const out: Record<string, R> = {};
  for (const [k, v] of map) setEntry(out, k, convert(v));
  return out;
}

/** CMD_GET_CLIENT_COUNT_BY_GROUP replies (an int per gateway): their sum. */
export const sumOfCounts: ReplyMerger<number, number> = {
  initial: () => 0,
  merge: (acc, reply) => acc + (intOf(reply) ?? 0),
  finish: identity,
};

/** CMD_GET_CLIENT_ID_BY_UID replies (a list of connection ids per gateway): every client_id. */
export const clientIdsOfConnections: ReplyMerger<string[], string[]> = {
  initial: () => [],
  merge(acc, reply, source) {
    for (const v of valuesOf(reply)) {
      const id = clientIdOf(source, v);
      if (id) acc.push(id);
    }
    return acc;
  },
  finish: identity,
};

/** CMD_BATCH_GET_CLIENT_ID_BY_UID replies (`uid → list of connection ids`): `uid → client_ids`, one entry per asked uid. */
export function clientIdsByUid(uids: readonly string[]): ReplyMerger<Map<string, { uid: string; ids: string[] }>, Record<string, string[]>> {
  return {
    initial: () => new Map(uids.map((uid) => [keyOf(uid), { uid, ids: [] }])),
    merge(acc, reply, source) {
      for (const [key, list] of entriesOf(reply)) {
        const entry = acc.get(keyOf(String(key)));
        if (!entry) continue;
        for (const v of valuesOf(list)) {
          const id = clientIdOf(source, v);
          if (id) entry.ids.push(id);
        }
      }
      return acc;
    },
    finish: (acc) => recordOf(new Map([...acc.values()].map((e) => [e.uid, e.ids])), identity),
  };
}

/** CMD_BATCH_GET_CLIENT_COUNT_BY_GROUP replies (`group → int`): `group → summed count`, one entry per asked group. */
export function countsByGroup(groups: readonly string[]): ReplyMerger<Map<string, { group: string; n: number }>, Record<string, number>> {
  return {
    initial: () => new Map(groups.map((group) => [keyOf(group), { group, n: 0 }])),
    merge(acc, reply) {
      for (const [key, count] of entriesOf(reply)) {
        const entry = acc.get(keyOf(String(key)));
        if (entry) entry.n += intOf(count) ?? 0;
      }
      return acc;
    },
    finish: (acc) => recordOf(new Map([...acc.values()].map((e) => [e.group, e.n])), identity),
  };
}

/** CMD_GET_ALL_CLIENT_SESSIONS / GET_CLIENT_SESSIONS_BY_GROUP replies (`connection id → session string`): `client_id → session`. */
export const sessionsByClientId: ReplyMerger<Record<string, GatewaySession>, Record<string, GatewaySession>> = {
  initial: () => ({}),
  merge(acc, reply, source) {
    for (const [connectionId, session] of entriesOf(reply)) {
      const id = clientIdOf(source, connectionId);
      if (id) acc[id] = sessionOf(session);
    }
    return acc;
  },
  finish: identity,
};

/** CMD_GET_GROUP_ID_LIST replies (a list of groups per gateway): the union, as strings, in first-seen order. */
export const groupIdUnion: ReplyMerger<Map<string, string>, string[]> = {
  initial: () => new Map(),
  merge(acc, reply) {
    for (const v of valuesOf(reply)) {
      const group = textOf(v);
      if (group !== null && !acc.has(keyOf(group))) acc.set(keyOf(group), group);
    }
    return acc;
  },
  finish: (acc) => [...acc.values()],
};

/** Calls `row` for each connection of a CMD_SELECT reply (`connection id → {field → value}`). */
function eachSelected(reply: PhpExactValue, source: ReplySource, row: (clientId: string, fields: PhpArray<PhpExactValue>) => void): void {
  for (const [connectionId, fields] of entriesOf(reply)) {
    const id = clientIdOf(source, connectionId);
    if (id && fields instanceof PhpArray) row(id, fields);
  }
}

/** The uid of a SELECT row, or null when the connection has none (PHP-empty uids count as none, as in PHP). */
function uidOf(fields: PhpArray<PhpExactValue>): string | null {
  const uid = textOf(fields.get('uid'));
  return uid === null || isPhpEmpty(uid) ? null : uid;
}

/** The groups of a SELECT row (the values of its `groups` map, i.e. the groups as joined). */
function groupsOf(fields: PhpArray<PhpExactValue>): string[] {
  const out: string[] = [];
  for (const v of valuesOf(fields.get('groups'))) {
    const g = textOf(v);
    if (g !== null && !isPhpEmpty(g)) out.push(g);
  }
  return out;
}

/** CMD_SELECT replies: the client_id of every selected connection. */
export const selectedClientIds: ReplyMerger<string[], string[]> = {
  initial: () => [],
  merge(acc, reply, source) {
    eachSelected(reply, source, (id) => acc.push(id));
    return acc;
  },
  finish: identity,
};

/** CMD_SELECT replies (field uid): the distinct uids of the selected connections. */
export const selectedUids: ReplyMerger<Map<string, string>, string[]> = {
  initial: () => new Map(),
  merge(acc, reply, source) {
    eachSelected(reply, source, (_id, fields) => {
      const uid = uidOf(fields);
      if (uid !== null && !acc.has(keyOf(uid))) acc.set(keyOf(uid), uid);
    });
    return acc;
  },
  finish: (acc) => [...acc.values()],
};

type GroupMap<T> = Map<string, { group: string; members: Map<string, T> }>;

function addMember<T>(acc: GroupMap<T>, group: string, memberKey: string, member: T): void {
  const key = keyOf(group);
  let entry = acc.get(key);
  if (!entry) acc.set(key, (entry = { group, members: new Map() }));
  entry.members.set(memberKey, member);
}

/**
 * CMD_SELECT replies (fields uid, groups): `group → distinct uids`. Connections without a uid or
 * without groups are skipped — the intent of PHP's getAllGroupUidList, whose `break` instead stops
 * reading that gateway's reply at the first such connection (docs/protocol.md §7.1).
 */
export const uidsByGroup: ReplyMerger<GroupMap<string>, Record<string, string[]>> = {
  initial: () => new Map(),
  merge(acc, reply, source) {
    eachSelected(reply, source, (_id, fields) => {
      const uid = uidOf(fields);
      if (uid === null) return;
      for (const group of groupsOf(fields)) addMember(acc, group, keyOf(uid), uid);
    });
    return acc;
  },
  finish: (acc) => recordOf(new Map([...acc.values()].map((e) => [e.group, [...e.members.values()]])), identity),
};

/**
 * CMD_SELECT replies (field groups): `group → client_ids`. Connections without groups are skipped
 * (PHP's getAllGroupClientIdList stops at the first one instead, docs/protocol.md §7.1).
 */
export const clientIdsByGroup: ReplyMerger<GroupMap<string>, Record<string, string[]>> = {
  initial: () => new Map(),
  merge(acc, reply, source) {
    eachSelected(reply, source, (id, fields) => {
      for (const group of groupsOf(fields)) addMember(acc, group, id, id);
    });
    return acc;
  },
  finish: (acc) => recordOf(new Map([...acc.values()].map((e) => [e.group, [...e.members.values()]])), identity),
};

/** The same merge with a different final shape (e.g. counts instead of lists). */
export function mapped<A, R, S>(merger: ReplyMerger<A, R>, convert: (result: R) => S): ReplyMerger<A, S> {
  return { initial: merger.initial, merge: merger.merge, finish: (acc) => convert(merger.finish(acc)) };
}

/** `{ key → list }` → `{ key → list length }`. */
export function lengths(record: Record<string, readonly unknown[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(record)) setEntry(out, k, v.length);
  return out;
}
