import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, TextClient, waitFor } from './support/net.js';
import { alive } from './support/processes.js';

interface StatusJson {
  running: boolean;
  master: number;
  processes: { tier: string; index: number; pid: number; state: string; restarts: number }[];
}

describe('gateway-worker CLI: start -d, status, kill -9, stop', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>>;
  const status = async (): Promise<StatusJson> => JSON.parse((await cluster.cli('status', '--json')).out);

  beforeAll(async () => {
    cluster = await fixtureCluster({ gateways: 2, workers: 2 });
  });

  afterAll(async () => {
    const s = await status().catch(() => null);
    await cluster.cli('stop');
    for (const p of s?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }, 30_000);

  it('starts daemonized with a pid file, and refuses a second start', async () => {
    const started = await cluster.cli('start', '-d');
    expect(started.out).toMatch(/started in the background \(pid \d+\)/);
    expect(started.code).toBe(0);
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid'))).toBe(true);
    const again = await cluster.cli('start', '-d');
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/already running \(pid \d+/);
    const s = await status();
    expect(s.running).toBe(true);
    expect(s.processes.map((p) => `${p.tier}:${p.index}`).sort()).toEqual(['business-worker:0', 'business-worker:1', 'gateway:0', 'gateway:1', 'register:0']);
    expect(s.processes.every((p) => p.state === 'running' && alive(p.pid))).toBe(true);
  }, 60_000);

  it('restarts a worker killed with kill -9 while clients stay connected', async () => {
    const { client, id } = await greeted(() => TextClient.connect(cluster.textPort), 15_000);
    expect(id).toMatch(/^7f00000[12]/);
    const victim = (await status()).processes.find((p) => p.tier === 'business-worker' && p.index === 0)!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(async () => (await status()).processes.some((p) => p.tier === 'business-worker' && p.index === 0 && p.pid !== victim.pid && p.state === 'running'), 'the worker to come back', 15_000);
    const back = (await status()).processes.find((p) => p.tier === 'business-worker' && p.index === 0)!;
    expect(back.restarts).toBe(1);
    // The client was never disconnected and is served (by whichever worker it is bound to now).
    expect(client.closed).toBe(false);
    client.send('after-crash');
    expect(await client.until((m) => m.endsWith('after-crash'), 5000)).toBe('v1 after-crash');
    client.close();
  }, 60_000);

  it('status shows the whole cluster through the Register: two gateways and two workers on 127.0.0.1/127.0.0.2', async () => {
    const { client } = await greeted(() => TextClient.connect(cluster.textPort), 15_000);
    await waitFor(async () => JSON.parse((await cluster.cli('status', '--json')).out).cluster?.workers.length === 2, 'both workers to report', 10_000);
    const json = JSON.parse((await cluster.cli('status', '--json')).out) as {
      cluster: { gateways: { host: string; connections: number; pid: number; listening: string }[]; workers: { host: string; name: string; connections: number }[] };
    };
    const pids = (await status()).processes;
    expect(json.cluster.gateways.map((g) => g.host)).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(json.cluster.gateways.map((g) => g.pid).sort()).toEqual(pids.filter((p) => p.tier === 'gateway').map((p) => p.pid).sort());
    expect(json.cluster.gateways.reduce((n, g) => n + g.connections, 0)).toBe(1);
    expect(json.cluster.gateways[0]!.listening).toMatch(/^text:\/\/0\.0\.0\.0:\d+ inner 127\.0\.0\.1:\d+$/);
    expect(json.cluster.workers.map((w) => `${w.host} ${w.name}`)).toEqual(['127.0.0.1 FixtureWorker:0', '127.0.0.2 FixtureWorker:1']);
    // Each worker is connected to both gateways.
    expect(json.cluster.workers.map((w) => w.connections)).toEqual([2, 2]);
    const table = (await cluster.cli('status')).out;
    expect(table).toMatch(/^host\s+pid\s+memory\s+listening\s+name\s+connections\s+send_fail\s+total_request\s+qps\s+state/m);
    expect(table).toContain('2 gateway(s), 2 worker(s) on 2 host(s); 1 client connection(s)');
    client.close();
  }, 60_000);

  it('stops gracefully and leaves no process behind', async () => {
    const before = await status();
    const stopped = await cluster.cli('stop');
    expect(stopped.out).toContain('gateway-worker stopped.');
    expect(existsSync(join(cluster.dir, 'gateway-worker.pid'))).toBe(false);
    await waitFor(() => [before.master, ...before.processes.map((p) => p.pid)].every((pid) => !alive(pid)), 'every process to exit', 10_000);
    expect((await cluster.cli('status')).code).toBe(3);
  }, 60_000);
});
