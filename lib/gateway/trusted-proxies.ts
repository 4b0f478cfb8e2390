import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) → `1.2.3.4`. */
export const plainIp = (address: string): string => (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/**
 * Checks one `gateway.trustedProxies` entry: an IPv4/IPv6 address or a CIDR block
 * (`10.0.0.0/8`, `fd00::/8`). Returns a problem, or null when valid.
 */
export function trustedProxyProblem(entry: unknown): string | null {
  if (typeof entry !== 'string') return `${JSON.stringify(entry)} is not a string`;
  const [ip, bits, extra] = entry.split('/');
  const family = isIP(ip ?? '');
  if (!family || extra !== undefined) return `"${entry}" is not an IP address or a CIDR block like "10.0.0.0/8"`;
  if (bits !== undefined) {
    const n = Number(bits);
    if (bits === '' || !Number.isInteger(n) || n < 0 || n > (family === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
  }
  return null;
}

/**
 * The proxies (nginx, a load balancer) whose `X-Real-IP` / `X-Forwarded-For` headers a websocket
 * listener believes. A header from anyone else is ignored: otherwise any client could claim any
 * address.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** True when no proxy is trusted (the headers are never read). */
  readonly none: boolean;

  /** @param entries addresses or CIDR blocks, already validated with {@link trustedProxyProblem} */
  constructor(entries: readonly string[]) {
    this.none = entries.length === 0;
    for (const entry of entries) {
      const [ip, bits] = entry.split('/') as [string, string | undefined];
      const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(ip, type);
      else this.list.addSubnet(ip, Number(bits), type);
    }
  }

  /** Is `address` (as a socket reports it) a trusted proxy? */
  trusts(address: string): boolean {
    const ip = plainIp(address);
    const family = isIP(ip);
    return family !== 0 && this.list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address for a request that arrived from `peer`: when `peer` is trusted, the
   * `X-Real-IP` header, or (when that is missing or is itself a trusted proxy, as behind a chain of
   * proxies) the right-most address of `X-Forwarded-For` that is not a trusted proxy. Null when
   * `peer` is not trusted or the headers give no valid address: the peer's own address stands.
   */
  clientAddress(peer: string | undefined, headers: IncomingHttpHeaders): string | null {
    if (this.none || !peer || !this.trusts(peer)) return null;
    const real = headerValue(headers['x-real-ip'])?.trim();
    if (real && isIP(plainIp(real)) && !this.trusts(real)) return plainIp(real);
    const forwarded = headerValue(headers['x-forwarded-for']);
    if (forwarded) {
      const hops = forwarded.split(',').map((h) => h.trim());
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = plainIp(hops[i]!);
        if (!isIP(hop)) break;
        if (!this.trusts(hop) || i === 0) return hop;
      }
    }
    return real && isIP(plainIp(real)) ? plainIp(real) : null;
  }
}

const headerValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);
