import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './debian.js';
import { waitFor } from './net.js';

/** A running nginx of the test. */
export interface TestNginx {
  port: number;
  dir: string;
  /** nginx's error log so far. */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * Runs Debian's nginx (installed when missing) in the foreground — `daemon off`, one process — with
 * a generated configuration whose `http` block is `httpConfig` and whose pid, temp and log paths
 * all live in a fresh temp dir. Resolves once it accepts connections on `port`.
 */
export async function startNginx(port: number, httpConfig: string): Promise<TestNginx> {
  const nginx = ensureDebianPackage('/usr/sbin/nginx', 'nginx');
  const dir = mkdtempSync(join(tmpdir(), 'gw-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const conf = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'logs', 'error.log');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${errorLog} info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${httpConfig}
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', errorLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const readLog = () => {
    try {
      return readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${output}`);
          const s = connect({ host: '127.0.0.1', port }, () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      'nginx to listen',
      10_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, errors: () => output + readLog(), stop };
}
