import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { ensureDebianPackage } from './debian.js';
import { freePort, sleep } from './net.js';

/** A running `redis-server` for one test file. */
export interface TestRedis {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** What the server printed (for failure messages). */
  output(): string;
  /** Stops the server and waits until it has exited. */
  stop(): Promise<void>;
}

/** Sends `PING` and resolves true on `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    s.on('error', () => done(false));
  });
}

/**
 * Starts Debian's real `redis-server` (installed with apt-get when missing) on a free port of
 * 127.0.0.1, without persistence and not daemonized, and waits until it answers PING.
 */
export async function startRedis(timeoutMs = 10_000): Promise<TestRedis> {
  const binary = ensureDebianPackage('/usr/bin/redis-server', 'redis-server');
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms:\n${out}`);
    }
    await sleep(50);
  }
  return { port, url: `redis://127.0.0.1:${port}`, output: () => out, stop };
}
