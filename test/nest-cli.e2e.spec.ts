import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from './support/net.js';
import { repoPath } from './support/processes.js';

/** `nest start <tier>` must run each tier of the sample (the Nest CLI builds with TypeScript 6). */
describe('nest start', () => {
  let child: ChildProcess | null = null;
  afterAll(() => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  it('starts the register tier with `nest start register`', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [repoPath('node_modules/@nestjs/cli/bin/nest.js'), 'start', 'register'], {
      cwd: repoPath(''),
      env: { ...process.env, GW_REGISTER_ADDRESS: `127.0.0.1:${port}`, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('Nest microservice successfully started'), 'the microservice to start', 60_000);
    expect(out).toContain(`Register listening on 0.0.0.0:${port}`);
  }, 70_000);
});
