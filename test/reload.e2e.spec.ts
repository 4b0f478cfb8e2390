import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, sleep, TextClient, waitFor } from './support/net.js';
import { alive } from './support/processes.js';

interface Proc {
  tier: string;
  pid: number;
  state: string;
}

/**
 * `gateway-worker reload` under steady traffic: every business worker process is replaced by one
 * running the new code, while 200 clients keep chatting — none is disconnected, and every reply
 * arrives, in order.
 */
describe('gateway-worker reload under traffic', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>>;
  const procs = async (): Promise<Proc[]> => JSON.parse((await cluster.cli('status', '--json')).out).processes;

  beforeAll(async () => {
    cluster = await fixtureCluster({ gateways: 2, workers: 2 });
    const started = await cluster.cli('start', '-d');
    expect(started.code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    const left = await procs().catch(() => [] as Proc[]);
    await cluster.cli('stop');
    for (const p of left) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }, 30_000);

  it('replaces every worker (new pids, new code) and loses or reorders no message of 200 clients', async () => {
    const clients: TextClient[] = [];
    for (let i = 0; i < 200; i++) clients.push((await greeted(() => TextClient.connect(cluster.textPort), 15_000)).client);
    const oldWorkers = (await procs()).filter((p) => p.tier === 'business-worker').map((p) => p.pid);
    expect(oldWorkers).toHaveLength(2);

    // Steady traffic: every client sends a numbered message every 100 ms.
    const sent = clients.map(() => 0);
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        clients.forEach((c, i) => c.send(String(sent[i]!++)));
        await sleep(100);
      }
    })();
    await sleep(500);

    writeFileSync(cluster.versionFile, 'v2');
    expect((await cluster.cli('reload')).code).toBe(0);
    await waitFor(
      async () => {
        const workers = (await procs()).filter((p) => p.tier === 'business-worker');
        return workers.length === 2 && workers.every((w) => !oldWorkers.includes(w.pid) && w.state === 'running');
      },
      'both workers to be replaced',
      40_000,
    );
    await sleep(500);
    sending = false;
    await traffic;

    // Every reply arrives, in order; the last ones come from the new code.
    for (const [i, c] of clients.entries()) {
      for (let seq = 0; seq < sent[i]!; seq++) {
        const reply = await c.next(10_000);
        expect(reply).toMatch(new RegExp(`^v[12] ${seq}$`));
      }
      expect(c.closed).toBe(false);
    }
    const lastReplies = clients.map((c) => c.messages[c.messages.length - 1]!);
    expect(lastReplies.every((m) => m.startsWith('v2 '))).toBe(true);
    expect(oldWorkers.every((pid) => !alive(pid))).toBe(true);
    for (const c of clients) c.close();
  }, 120_000);
});
