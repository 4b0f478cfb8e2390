import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boot, CapturingLogger } from './support/cluster.js';
import { freePort, waitFor } from './support/net.js';
import { alive, repoPath } from './support/processes.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };

/** Runs the CLI in `cwd` with a clean environment (no Register address from the test's env). */
async function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEWAY_WORKER_') && k !== 'NO_COLOR')) as Record<string, string>;
  try {
    const { stdout, stderr } = await run(process.execPath, [repoPath('dist/lib/cli/gateway-worker.cli.js'), ...args], { cwd, env: { ...base, ...env }, timeout: 30_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe('gateway-worker CLI arguments (util.parseArgs)', () => {
  let empty: string;
  let withConfig: string;
  let configFile: string;

  beforeAll(() => {
    empty = mkdtempSync(join(tmpdir(), 'gw-args-'));
    withConfig = mkdtempSync(join(tmpdir(), 'gw-args-'));
    configFile = join(withConfig, 'other.config.json');
    writeFileSync(configFile, JSON.stringify({ tiers: [{ tier: 'process', entry: repoPath('dist/test/fixtures/cluster-app/logger.main.js') }] }));
  });
  afterAll(() => {
    rmSync(empty, { recursive: true, force: true });
    rmSync(withConfig, { recursive: true, force: true });
  });

  it('--help and help print the usage (exit 0); every command has its own --help', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await cli(empty, args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: gateway-worker <command> \[options\]/);
      expect(r.out).toMatch(/start .*\n.*stop .*\n.*restart .*\n.*reload .*\n.*status /);
    }
    for (const command of ['start', 'stop', 'restart', 'reload', 'status']) {
      for (const args of [[command, '--help'], ['--help', command], ['help', command], [command, '-h']]) {
        const r = await cli(empty, args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.out).toMatch(new RegExp(`^Usage: gateway-worker ${command}`));
        expect(r.out).not.toContain('No configuration found');
      }
    }
    expect((await cli(empty, ['start', '--help'])).out).toContain('-d, --daemon');
    expect((await cli(empty, ['status', '--help'])).out).toContain('--register <addr>');
  });

  it('--version prints package.json\'s version without needing a config', async () => {
    for (const args of [['--version'], ['-v']]) {
      const r = await cli(empty, args);
      expect(r).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    }
  });

  it('usage errors exit 2 with a clear message: unknown command or option, missing or empty value, option of another command, stray argument, no command', async () => {
    const cases: [string[], RegExp][] = [
      [['bogus'], /^Unknown command "bogus" \(commands: start, stop, restart, reload, status, help\)/],
      [['toString'], /^Unknown command "toString"/],
      [['help', 'bogus'], /^Unknown command "bogus"/],
      [['start', '--bogus'], /^Unknown option '--bogus'\.\n\nUsage: gateway-worker start/],
      [['start', '--config'], /^Option '-c, --config <value>' argument missing/],
      [['start', '--config', '--daemon'], /^Option '--config' argument is ambiguous/],
      [['status', '--register'], /^Option '--register <value>' argument missing/],
      [['status', '--register='], /^Option --register needs a non-empty value/],
      [['start', '-c=file.json'], /^Option --config got "=file.json": write --config=<value> or --config <value>/],
      [['stop', '--json'], /^Option --json does not apply to "stop"\.\n\nUsage: gateway-worker stop/],
      [['status', '-d'], /^Option --daemon does not apply to "status"/],
      [['start', 'now'], /^Unexpected argument "now"/],
      [['--json=1', 'status'], /^Option '--json' does not take an argument/],
      [[], /^No command given\.\n\nUsage: gateway-worker/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(empty, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.err).not.toContain('No configuration found');
    }
  });

  it('--config=FILE, --config FILE and -c FILE all name the config; a missing one is an error naming it', async () => {
    for (const args of [['stop', `--config=${configFile}`], ['stop', '--config', configFile], ['-c', configFile, 'stop']]) {
      const r = await cli(empty, args);
      expect(r, args.join(' ')).toEqual({ code: 0, out: 'gateway-worker is not running.\n', err: '' });
    }
    const missing = await cli(empty, ['stop', '--config=nope.json']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/No configuration found at nope\.json/);
    const none = await cli(empty, ['stop']);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/No configuration found in /);
  });

  describe('status --register ADDR needs no config file', () => {
    let register: INestMicroservice;
    let address: string;
    beforeAll(async () => {
      address = `127.0.0.1:${await freePort()}`;
      register = await boot({ registerAddress: address, register: { listen: address } }, 'register', new CapturingLogger());
    });
    afterAll(() => register.close());

    it('reaches the Register given on the command line (or in GATEWAY_WORKER_REGISTER_ADDRESS) from a directory without config', async () => {
      const r = await cli(empty, ['status', '--register', address, '--json']);
      expect(r.code).toBe(0);
      const json = JSON.parse(r.out) as { cluster: { gateways: unknown[] }; clusterError: string | null; running: boolean };
      expect(json.clusterError).toBeNull();
      expect(json.cluster.gateways).toEqual([]);
      expect(json.running).toBe(false);
      const table = await cli(empty, [`--register=${address}`, 'status']);
      expect(table.code).toBe(0);
      expect(table.out).toContain('0 gateway(s), 0 worker(s)');
      const fromEnv = await cli(empty, ['status'], { GATEWAY_WORKER_REGISTER_ADDRESS: address });
      expect(fromEnv.code).toBe(0);
      expect(fromEnv.out).toContain('0 gateway(s), 0 worker(s)');
    });

    it('without --register and without config, status says which config is missing', async () => {
      const r = await cli(empty, ['status']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/No configuration found in/);
    });
  });

  it('a daemon\'s log file is plain text (no ANSI colour codes), and stop removes the pid file and the process table', async () => {
    const started = await cli(withConfig, ['start', '-d', '--config', configFile]);
    expect(started.code).toBe(0);
    const pidFile = join(withConfig, 'gateway-worker.pid');
    const master = Number(readFileSync(pidFile, 'utf8'));
    try {
      const logFile = join(withConfig, 'gateway-worker.log');
      await waitFor(() => readFileSync(logFile, 'utf8').includes('a plain warning'), 'the process tier to log', 10_000);
      const text = readFileSync(logFile, 'utf8');
      expect(text).toMatch(/\[Nest\] \d+ +- .* +LOG \[FixtureLogger\] a plain log line/);
      expect(text).not.toContain('\x1b[');
      expect(existsSync(`${pidFile}.json`)).toBe(true);
      const stopped = await cli(withConfig, ['stop', '--config', configFile]);
      expect(stopped.out).toContain('gateway-worker stopped.');
      expect(existsSync(pidFile)).toBe(false);
      expect(existsSync(`${pidFile}.json`)).toBe(false);
    } finally {
      if (alive(master)) process.kill(-master, 'SIGKILL');
    }
  }, 30_000);
});
