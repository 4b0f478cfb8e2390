import { isPhpEmpty, normalizePhpKey } from '../protocol/php-value.js';
import type { ClientConnection } from './client-connection.js';

/** A uid or group as a map key under PHP array-key rules: `"123"` and `123` are the same key. */
export const phpKey = (value: string | number): string => String(normalizePhpKey(value));

/**
 * The bookkeeping of one gateway process (docs/protocol.md §5.8): clients by connection id, uid → its
 * connections, group → its members. Every mutation keeps the three consistent; PHP-empty uids and
 * groups (`''`, `'0'`) are ignored as in PHP.
 */
export class GatewayTables {
  readonly clients = new Map<number, ClientConnection>();
  readonly uids = new Map<string, Map<number, ClientConnection>>();
  readonly groups = new Map<string, Map<number, ClientConnection>>();
  private lastId = 0;

  /**
   * The next free connection id: 1, 2, 3… wrapping after 2³²−1, skipping ids in use; never 0.
   */
  allocateId(): number {
    do {
      if (this.lastId >= 0xffffffff) this.lastId = 0;
      this.lastId++;
    } while (this.clients.has(this.lastId));
    return this.lastId;
  }

  add(client: ClientConnection): void {
    this.clients.set(client.id, client);
  }

  /** Removes a closed client from every table. */
  remove(client: ClientConnection): void {
    this.clients.delete(client.id);
    this.unbindUid(client);
    if (client.groups) for (const key of client.groups.keys()) this.removeFromGroup(key, client);
    client.groups = null;
  }

  bindUid(client: ClientConnection, uid: string): boolean {
    if (isPhpEmpty(uid)) return false;
    this.unbindUid(client);
    const key = phpKey(uid);
    let members = this.uids.get(key);
    if (!members) this.uids.set(key, (members = new Map()));
    members.set(client.id, client);
    client.uid = uid;
    return true;
  }

  unbindUid(client: ClientConnection): void {
    if (client.uid === null) return;
    const key = phpKey(client.uid);
    const members = this.uids.get(key);
    if (members) {
      members.delete(client.id);
      if (members.size === 0) this.uids.delete(key);
    }
    client.uid = null;
  }

  joinGroup(client: ClientConnection, group: string): boolean {
    if (isPhpEmpty(group)) return false;
    const key = phpKey(group);
    (client.groups ??= new Map()).set(key, group);
    let members = this.groups.get(key);
    if (!members) this.groups.set(key, (members = new Map()));
    members.set(client.id, client);
    return true;
  }

  leaveGroup(client: ClientConnection, group: string): void {
    if (isPhpEmpty(group)) return;
    const key = phpKey(group);
    if (!client.groups?.delete(key)) return;
    this.removeFromGroup(key, client);
  }

  /** Dissolves a group: no member keeps it. */
  ungroup(group: string): void {
    if (isPhpEmpty(group)) return;
    const key = phpKey(group);
    const members = this.groups.get(key);
    if (!members) return;
    for (const client of members.values()) client.groups?.delete(key);
    this.groups.delete(key);
  }

  private removeFromGroup(key: string, client: ClientConnection): void {
    const members = this.groups.get(key);
    if (!members) return;
    members.delete(client.id);
    if (members.size === 0) this.groups.delete(key);
  }
}
