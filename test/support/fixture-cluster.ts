import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePortRange } from './net.js';
import { repoPath } from './processes.js';

const run = promisify(execFile);

/** Runs the `gateway-worker` CLI of this build in `dir` with `env`; resolves with its exit code and output. */
export async function runCli(dir: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [repoPath('dist/lib/cli/gateway-worker.cli.js'), ...args], { cwd: dir, env, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** A directory with a gateway-worker.config.json running the test fixture app (dist/test/fixtures/cluster-app). */
export async function fixtureCluster(counts: { gateways: number; workers: number }, extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
  const entry = (f: string) => repoPath(`dist/test/fixtures/cluster-app/${f}.main.js`);
  writeFileSync(
    join(dir, 'gateway-worker.config.json'),
    JSON.stringify({
      name: 'fixture',
      tiers: [
        { tier: 'register', entry: entry('register') },
        { tier: 'gateway', entry: entry('gateway'), count: counts.gateways },
        { tier: 'business-worker', entry: entry('business'), count: counts.workers },
      ],
      stopTimeout: 5000,
    }),
  );
  const versionFile = join(dir, 'VERSION');
  writeFileSync(versionFile, 'v1');
  const register = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env,
    NO_COLOR: '1',
    FIXTURE_REGISTER: register,
    FIXTURE_START_PORT: String(await freePortRange(counts.gateways)),
    FIXTURE_TEXT_PORT: String(await freePort()),
    FIXTURE_VERSION_FILE: versionFile,
    GATEWAY_WORKER_REGISTER_ADDRESS: register,
    GATEWAY_WORKER_SECRET_KEY: 'fixture-secret',
    ...extraEnv,
  };
  /** Runs the CLI in that directory; resolves with its exit code and output. */
  const cli = (...args: string[]) => runCli(dir, env, ...args);
  return { dir, versionFile, textPort: Number(env.FIXTURE_TEXT_PORT), register, env, cli };
}
