import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let updated = false;

/**
 * Makes sure a Debian package's binary is installed (tests of nginx, Redis and Chromium need the
 * real programs). Idempotent: nothing happens when `binary` already exists. Installs with
 * apt-get as root, running `apt-get update` once per test process first.
 * @returns the binary's path
 */
export function ensureDebianPackage(binary: string, pkg: string): string {
  if (existsSync(binary)) return binary;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 300_000 });
    updated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, stdio: 'ignore', timeout: 600_000 });
  if (!existsSync(binary)) throw new Error(`apt-get installed ${pkg} but ${binary} is still missing`);
  return binary;
}
