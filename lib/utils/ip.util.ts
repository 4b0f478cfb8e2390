import { isIPv4 } from 'node:net';

/**
 * PHP `ip2long`: a dotted IPv4 address as an unsigned 32-bit integer, or 0 for anything else
 * (IPv6, hostnames, garbage). IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as Node reports
 * IPv4 peers on dual-stack sockets) are unwrapped first.
 */
export function ip2long(address: string | undefined): number {
  if (!address) return 0;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv4(ip)) return 0;
  const p = ip.split('.');
  return ((+p[0]! << 24) >>> 0) + (+p[1]! << 16) + (+p[2]! << 8) + +p[3]!;
}

/** PHP `long2ip`: an unsigned 32-bit integer as a dotted IPv4 address. */
export function long2ip(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Splits `"host:port"` (IPv4 or hostname). Returns null when there is no valid port; port 0 (let
 * the OS choose, for listen addresses) only with `allowZero`.
 */
export function splitAddress(address: string, allowZero = false): { host: string; port: number } | null {
  const i = address.lastIndexOf(':');
  if (i <= 0) return null;
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) return null;
  return { host: address.slice(0, i), port };
}
