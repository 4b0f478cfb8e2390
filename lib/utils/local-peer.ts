import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** How long the list of this host's addresses is trusted before it is read again. */
const REFRESH_INTERVAL = 60_000;
/** A miss re-reads the list (an address may just have been added), at most this often. */
const MISS_REFRESH_INTERVAL = 1_000;

/**
 * The address as a peer's socket reports it, in one canonical form: IPv4-mapped IPv6
 * (`::ffff:10.0.0.1`, as dual-stack sockets report IPv4 peers) unwrapped, the zone of a link-local
 * address (`fe80::1%eth0`) dropped, lower case.
 */
export function canonicalAddress(address: string): string {
  let a = address.toLowerCase();
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

/** True for 127.0.0.0/8 and ::1 (canonical form). */
function isLoopback(a: string): boolean {
  return a === '::1' || (a.startsWith('127.') && isIP(a) === 4);
}

/**
 * Tells whether a peer connects from this host: a loopback address, or one of the addresses of
 * this host's network interfaces. What protected mode admits when no `secretKey` is set (like
 * Redis's protected mode): the same host's processes, nobody from the network.
 *
 * The interface list is cached and read again every minute, and on a miss at most once a second,
 * so an address added after startup is recognised while a stranger's connections cannot make
 * every accept read it.
 */
export class LocalPeers {
  private addresses = new Set<string>();
  private readAt = -Infinity;

  constructor(private readonly readInterfaces: typeof networkInterfaces = networkInterfaces) {}

  /** True if `remoteAddress` (a socket's `remoteAddress`) is this host; false for undefined. */
  isLocal(remoteAddress: string | undefined): boolean {
    if (!remoteAddress) return false;
    const a = canonicalAddress(remoteAddress);
    if (isLoopback(a)) return true;
    const now = Date.now();
    if (now - this.readAt > REFRESH_INTERVAL) this.read(now);
    if (this.addresses.has(a)) return true;
    if (now - this.readAt > MISS_REFRESH_INTERVAL) {
      this.read(now);
      return this.addresses.has(a);
    }
    return false;
  }

  private read(now: number): void {
    const next = new Set<string>();
    for (const list of Object.values(this.readInterfaces())) {
      for (const info of list ?? []) next.add(canonicalAddress(info.address));
    }
    this.addresses = next;
    this.readAt = now;
  }
}

const shared = new LocalPeers();

/**
 * True if a peer at `remoteAddress` is on this host (loopback, or an address of one of its
 * interfaces; `::ffff:`-mapped IPv4 and IPv6 loopback included). One cached interface list per
 * process, shared by every caller.
 *
 * @publicApi
 */
export function isLocalPeer(remoteAddress: string | undefined): boolean {
  return shared.isLocal(remoteAddress);
}
