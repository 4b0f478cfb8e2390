import type { Logger } from '@nestjs/common';
import { RegisterUnavailableError } from '../errors/register-unavailable.error.js';
import type { ResolvedGatewayWorkerOptions } from '../interfaces/resolved-options.interface.js';
import type { RegisterLink } from '../register/register.link.js';
import { subscribeToRegisters } from '../register/register.subscription.js';

/**
 * The GatewayClient's gateway list, as the Registers push it (docs/protocol.md §4.3).
 *
 * - It subscribes to **every** Register address; any one answering is enough. The list is the
 *   union of the lists of the Registers whose links are up (Registers do not share state, and a
 *   freshly restarted one may not know every gateway yet), so a gateway any live Register knows
 *   is used, and a gateway is dropped as soon as every live Register has dropped it.
 * - While at least one Register link is up the list is current (pushed on every change), so
 *   unlike PHP there is no polling. When the last link drops, the last list is kept for
 *   `addressCacheTtl` ms (a Register restart should not break pushes), then `get()` rejects at
 *   once with `RegisterUnavailableError` until a Register answers again: calls fail fast instead
 *   of pushing to a list nobody vouches for. The links keep retrying every second, so the client
 *   recovers by itself.
 * - The first `get()` starts the subscription and waits for a first list: at most
 *   `connectTimeout`, less when every Register has already refused or dropped the connection.
 */
export class GatewayAddressCache {
  private links: RegisterLink[] | null = null;
  private stopped = false;
  /** Lists by Register address, for the Registers whose links are up and have answered. */
  private readonly lists = new Map<string, string[]>();
  /** Why each Register is down (last failure since its last answer). */
  private readonly failures = new Map<string, string>();
  private union: readonly string[] = [];
  /** When the last live Register link dropped; null while one is up or before any answered. */
  private lostAt: number | null = null;
  private startedAt = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly options: ResolvedGatewayWorkerOptions,
    private readonly logger: Logger,
    /** Called with the new list whenever a live Register changes it (not when the last one drops). */
    private readonly onChange: (addresses: readonly string[]) => void,
  ) {}

  /**
   * The gateway addresses to reach every gateway.
   * @throws RegisterUnavailableError when no Register answers (see the class description)
   */
  async get(): Promise<readonly string[]> {
    if (this.stopped) throw this.unavailable();
    this.start();
    if (this.lists.size > 0) return this.union;
    if (this.lostAt !== null) {
      if (Date.now() - this.lostAt <= this.options.addressCacheTtl) return this.union;
      throw this.unavailable();
    }
    // Never answered yet: the start-up window.
    const deadline = this.startedAt + this.options.connectTimeout;
    while (this.lists.size === 0 && !this.everyRegisterFailed() && Date.now() < deadline) {
      await this.nextChange(deadline - Date.now());
    }
    if (this.lists.size > 0) return this.union;
    throw this.unavailable();
  }

  /** Starts the subscription (idempotent; not after `stop()`). */
  start(): void {
    if (this.links || this.stopped) return;
    this.startedAt = Date.now();
    this.links = subscribeToRegisters(
      this.options,
      'GatewayClient',
      this.logger,
      (list, register) => this.onList(register, list),
      { onDown: (register, reason) => this.onDown(register, reason), unref: true },
    );
  }

  /** Closes the Register links for good. */
  stop(): void {
    this.stopped = true;
    for (const link of this.links ?? []) link.stop();
    this.links = null;
    this.lists.clear();
    this.wake();
  }

  private onList(register: string, list: string[]): void {
    this.lists.set(register, list);
    this.failures.delete(register);
    this.lostAt = null;
    this.recompute();
    this.wake();
  }

  private onDown(register: string, reason: string): void {
    this.failures.set(register, reason);
    if (this.lists.delete(register)) {
      if (this.lists.size === 0) this.lostAt = Date.now();
      else this.recompute();
    }
    this.wake();
  }

  private recompute(): void {
    const union = new Set<string>();
    for (const register of this.options.registerAddresses) for (const a of this.lists.get(register) ?? []) union.add(a);
    this.union = [...union];
    this.onChange(this.union);
  }

  private everyRegisterFailed(): boolean {
    return this.options.registerAddresses.every((r) => this.failures.has(r));
  }

  private unavailable(): RegisterUnavailableError {
    if (this.stopped) return new RegisterUnavailableError(['the GatewayClient is closed (the app is shutting down)']);
    return new RegisterUnavailableError(
      this.options.registerAddresses.map((r) => `${r}: ${this.failures.get(r) ?? `no answer within ${this.options.connectTimeout} ms`}`),
    );
  }

  /** Resolves on the next list or failure, or after `ms`. */
  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
