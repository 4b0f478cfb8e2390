import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let updated = false;

/**
 * How long apt-get waits for another apt/dpkg run (a parallel test file, unattended-upgrades) to
 * release the package locks, in seconds, instead of failing at once.
 */
const LOCK_TIMEOUT = 120;

/**
 * Runs apt-get with the lock wait; on failure, throws with apt-get's own message. The lists lock
 * of `apt-get update` is not covered by DPkg::Lock::Timeout on every apt version, so a "Could not
 * get lock" failure is also retried (every 2 s) until LOCK_TIMEOUT has passed.
 */
function aptGet(args: string[], timeout: number): void {
  const deadline = Date.now() + LOCK_TIMEOUT * 1000;
  for (;;) {
    try {
      execFileSync('apt-get', ['-o', `DPkg::Lock::Timeout=${LOCK_TIMEOUT}`, ...args], {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout,
      });
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      if (/could not get lock|unable to lock/i.test(stderr) && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
        continue;
      }
      throw new Error(`apt-get ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
    }
  }
}

/**
 * Makes sure a Debian package's binary is installed (tests of nginx, Redis and Chromium need the
 * real programs). Idempotent: nothing happens when `binary` already exists. Installs with
 * apt-get as root, running `apt-get update` once per test process first; both wait up to
 * LOCK_TIMEOUT seconds for the package lock when another install holds it.
 * @returns the binary's path
 */
export function ensureDebianPackage(binary: string, pkg: string): string {
  if (existsSync(binary)) return binary;
  if (!updated) {
    aptGet(['update', '-qq'], 300_000 + LOCK_TIMEOUT * 1000);
    updated = true;
  }
  aptGet(['install', '-y', '-qq', '--no-install-recommends', pkg], 600_000 + LOCK_TIMEOUT * 1000);
  if (!existsSync(binary)) throw new Error(`apt-get installed ${pkg} but ${binary} is still missing`);
  return binary;
}
