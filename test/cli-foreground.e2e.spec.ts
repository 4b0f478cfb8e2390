import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, sleep, TextClient, waitFor } from './support/net.js';
import { alive, repoPath } from './support/processes.js';

interface StatusJson {
  master: number;
  processes: { tier: string; index: number; pid: number; state: string }[];
}

/** The process group of a pid, from /proc. */
const pgidOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);

describe('gateway-worker start in the foreground: Ctrl-C stops the tiers in order', () => {
  let front: ChildProcess | undefined;
  const pids: number[] = [];

  afterAll(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (front?.pid && alive(front.pid)) process.kill(-front.pid, 'SIGKILL');
  });

  it('SIGINT to the whole foreground process group (a terminal\'s Ctrl-C): workers, then gateways, then the Register; no errors; pid file gone', async () => {
    const cluster = await fixtureCluster({ gateways: 2, workers: 2 }, { FIXTURE_LOGOUT: '1' });
    // A terminal runs the command as the leader of a new foreground process group.
    front = spawn(process.execPath, [repoPath('dist/lib/cli/gateway-worker.cli.js'), 'start'], {
      cwd: cluster.dir,
      env: cluster.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    front.stdout!.on('data', (d) => (out += d));
    front.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => front!.once('exit', (code) => r(code)));
    await waitFor(() => out.includes('started 5 processes'), 'the cluster to start', 40_000);

    const status = JSON.parse((await cluster.cli('status', '--json')).out) as StatusJson;
    const tierPids = status.processes.map((p) => p.pid);
    pids.push(status.master, ...tierPids);
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid'))).toBe(true);
    // Neither the master nor the tiers are in the terminal's group: Ctrl-C reaches only `start`.
    for (const pid of [status.master, ...tierPids]) expect(pgidOf(pid)).not.toBe(front.pid);

    // Clients connected, so the stop closes them and the workers' @OnClose handlers run.
    const clients = await Promise.all([1, 2, 3, 4].map(() => greeted(() => TextClient.connect(cluster.textPort), 15_000)));

    // Watch the order in which the tier processes exit.
    const exitOrder: string[] = [];
    const watched = new Map(status.processes.map((p) => [p.pid, `${p.tier}:${p.index}`]));
    const watcher = setInterval(() => {
      for (const [pid, name] of watched) if (!alive(pid)) (exitOrder.push(name), watched.delete(pid));
    }, 2);

    process.kill(-front.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    await waitFor(() => watched.size === 0, 'every tier process to exit', 10_000);
    clearInterval(watcher);
    for (const { client } of clients) client.close();

    const rank = (name: string) => ['business-worker', 'gateway', 'register'].indexOf(name.split(':')[0]!);
    expect(exitOrder.map(rank)).toEqual([...exitOrder.map(rank)].sort());
    expect(exitOrder).toHaveLength(5);
    // The master logs each stop in that order too.
    const stops = [...out.matchAll(/\] [^ ]+ (\S+ \d) \(pid \d+\) stopped/g)].map((m) => m[1]!.replace(' ', ':'));
    expect(stops.map(rank)).toEqual([0, 0, 1, 1, 2]);
    expect(out).not.toMatch(/RegisterUnavailableError|ERROR|Error:/);
    expect(out).toContain('stopped');
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid'))).toBe(false);
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid.json'))).toBe(false);
    await sleep(100);
    expect(alive(status.master)).toBe(false);
  }, 90_000);

  it('the `start` process killed outright (SIGKILL, a closed terminal): the master notices and stops every tier', async () => {
    const cluster = await fixtureCluster({ gateways: 1, workers: 1 });
    const child = spawn(process.execPath, [repoPath('dist/lib/cli/gateway-worker.cli.js'), 'start'], { cwd: cluster.dir, env: cluster.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    front = child;
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('started 3 processes'), 'the cluster to start', 40_000);
    const status = JSON.parse((await cluster.cli('status', '--json')).out) as StatusJson;
    const all = [status.master, ...status.processes.map((p) => p.pid)];
    pids.push(...all);
    child.kill('SIGKILL');
    await waitFor(() => all.every((pid) => !alive(pid)), 'the master and every tier to exit', 20_000);
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid'))).toBe(false);
  }, 60_000);
});
