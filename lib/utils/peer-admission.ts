import type { Socket } from 'node:net';
import { canonicalAddress } from './local-peer.js';

/**
 * A cap on simultaneous connections per remote address, for one listener (a gateway's public
 * ports or internal port, a Register). An admitted socket is counted until it closes.
 */
export class PeerAdmission {
  private readonly perIp = new Map<string, number>();

  /** @param limit most connections per address; 0 = no limit */
  constructor(private readonly limit: number) {}

  /**
   * Counts the socket in, or returns false when its address is at the limit (the caller refuses
   * it, and logs/counts the refusal).
   */
  admit(socket: Socket): boolean {
    const limit = this.limit;
    if (limit === 0) return true;
    const ip = canonicalAddress(socket.remoteAddress ?? '');
    const n = this.perIp.get(ip) ?? 0;
    if (n >= limit) return false;
    this.perIp.set(ip, n + 1);
    socket.once('close', () => {
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    return true;
  }
}
