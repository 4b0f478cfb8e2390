import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, sleep, TextClient, waitFor } from './support/net.js';
import { alive } from './support/processes.js';

interface Status {
  processes: { tier: string; index: number; pid: number; state: string }[];
  cluster: { gateways: { host: string; pid: number; lostEvents?: number }[]; workers: { name: string }[] } | null;
}

/**
 * Process-level faults under traffic, with every message counted at the clients: a worker killed
 * with kill -9, the Register killed, a gateway killed. Nothing pushed to a client that stayed
 * connected is lost silently: a reply either arrives, in order, or the gateway counted the event
 * as lost with its worker.
 */
describe('faults under traffic (separate processes, gateway-worker CLI)', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>>;
  const status = async (): Promise<Status> => JSON.parse((await cluster.cli('status', '--json')).out);
  const clients: { client: TextClient; id: string; sent: number; received: number[] }[] = [];

  /** Every client sends a numbered message each 50 ms for `ms`. */
  async function traffic(ms: number, during?: () => Promise<void>): Promise<void> {
    let on = true;
    const loop = (async () => {
      while (on) {
        for (const c of clients) if (!c.client.closed) c.client.send(String(c.sent++));
        await sleep(50);
      }
    })();
    await sleep(ms / 2);
    await during?.();
    await sleep(ms / 2);
    on = false;
    await loop;
  }

  beforeAll(async () => {
    cluster = await fixtureCluster({ gateways: 2, workers: 2 });
    expect((await cluster.cli('start', '-d')).code).toBe(0);
    for (let i = 0; i < 40; i++) {
      const { client, id } = await greeted(() => TextClient.connect(cluster.textPort), 15_000);
      const entry = { client, id, sent: 0, received: [] as number[] };
      client.socket.on('data', () => undefined);
      clients.push(entry);
    }
    // Both gateways got clients (the kernel spreads connections over the processes sharing the port).
    expect(new Set(clients.map((c) => c.id.slice(0, 8)))).toEqual(new Set(['7f000001', '7f000002']));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.client.close();
    const left = await status().catch(() => null);
    await cluster.cli('stop');
    for (const p of left?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }, 30_000);

  /** Reads every reply that arrived, checking order; returns how many replies are missing. */
  async function settle(): Promise<number> {
    await sleep(1500);
    let missing = 0;
    for (const c of clients) {
      for (const m of c.client.drain()) {
        const seq = Number(m.split(' ')[1]);
        // In order: each reply comes after the previous one's.
        expect(seq).toBeGreaterThan(c.received.at(-1) ?? -1);
        c.received.push(seq);
      }
      missing += c.sent - c.received.length;
      // Start the next phase from a clean count.
      c.received.length = 0;
      c.sent = 0;
    }
    return missing;
  }

  it('kill -9 of a worker: its clients are rebound and served; every unanswered message is counted as lost', async () => {
    const victim = (await status()).processes.find((p) => p.tier === 'business-worker' && p.index === 0)!;
    await traffic(2000, async () => void process.kill(victim.pid, "SIGKILL"));
    const missing = await settle();
    const lost = (await status()).cluster!.gateways.reduce((n, g) => n + (g.lostEvents ?? 0), 0);
    expect(missing).toBe(lost);
    expect(clients.every((c) => !c.client.closed)).toBe(true);
    await waitFor(async () => (await status()).processes.some((p) => p.tier === 'business-worker' && p.index === 0 && p.pid !== victim.pid && p.state === 'running'), 'the worker to be restarted', 15_000);
  }, 60_000);

  it('kill -9 of the Register: traffic goes on over the existing links, and every node registers again', async () => {
    const register = (await status()).processes.find((p) => p.tier === 'register')!;
    const lostBefore = (await status()).cluster!.gateways.reduce((n, g) => n + (g.lostEvents ?? 0), 0);
    await traffic(2000, async () => void process.kill(register.pid, "SIGKILL"));
    expect(await settle()).toBe(0);
    await waitFor(async () => {
      const s = await status();
      return s.cluster?.gateways.length === 2 && s.cluster.workers.length === 2;
    }, 'the gateways and workers to register again', 20_000);
    expect((await status()).cluster!.gateways.reduce((n, g) => n + (g.lostEvents ?? 0), 0)).toBe(lostBefore);
  }, 60_000);

  it('kill -9 of a gateway: its clients are cut, the other gateway\'s clients keep being served by every worker', async () => {
    const victim = (await status()).processes.find((p) => p.tier === 'gateway' && p.index === 1)!;
    const survivors = clients.filter((c) => c.id.startsWith('7f000001'));
    const cut = clients.filter((c) => c.id.startsWith('7f000002'));
    await traffic(2000, async () => void process.kill(victim.pid, "SIGKILL"));
    await waitFor(() => cut.every((c) => c.client.closed), 'the cut clients to see their connection close', 5000);
    clients.splice(0, clients.length, ...survivors);
    expect(await settle()).toBe(0);
    expect(survivors.every((c) => !c.client.closed)).toBe(true);
  }, 60_000);
});
