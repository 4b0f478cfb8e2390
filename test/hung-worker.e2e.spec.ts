import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCluster } from './support/fixture-cluster.js';
import { greeted, sleep, TextClient, waitFor } from './support/net.js';
import { alive } from './support/processes.js';

const HANG_TIMEOUT = 3000;

interface Status {
  processes: { tier: string; index: number; pid: number; state: string }[];
  cluster: { gateways: { lostEvents?: number; limits?: Record<string, number> }[]; workers: { name: string }[] } | null;
}

/**
 * A worker that stops answering (SIGSTOP: a stopped process, or an event loop blocked for good)
 * while its clients keep talking: the gateway declares it hung after `workerHangTimeout`, counts
 * what it had not confirmed as lost, and its clients are served by the other worker. Every
 * message is counted at the clients: what is missing is exactly what the gateway counted.
 */
describe('a hung worker (SIGSTOP for 30 s under traffic)', () => {
  let cluster: Awaited<ReturnType<typeof fixtureCluster>>;
  const status = async (): Promise<Status> => JSON.parse((await cluster.cli('status', '--json')).out);
  const clients: { client: TextClient; sent: number; received: number[]; lastReply: number; maxGap: number }[] = [];

  beforeAll(async () => {
    cluster = await fixtureCluster({ gateways: 1, workers: 2 }, { FIXTURE_HANG_TIMEOUT: String(HANG_TIMEOUT) });
    expect((await cluster.cli('start', '-d')).code).toBe(0);
    await waitFor(async () => (await status()).cluster?.workers.length === 2, 'both workers', 20_000);
    for (let i = 0; i < 40; i++) {
      const { client } = await greeted(() => TextClient.connect(cluster.textPort), 15_000);
      const entry = { client, sent: 0, received: [] as number[], lastReply: 0, maxGap: 0 };
      client.socket.on('data', () => {
        const now = Date.now();
        for (const m of client.drain()) {
          const seq = Number(m.split(' ')[1]);
          // In order, never twice.
          expect(seq).toBeGreaterThan(entry.received.at(-1) ?? -1);
          entry.received.push(seq);
          if (entry.lastReply) entry.maxGap = Math.max(entry.maxGap, now - entry.lastReply);
          entry.lastReply = now;
        }
      });
      clients.push(entry);
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.client.close();
    const left = await status().catch(() => null);
    for (const p of left?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGCONT');
    await cluster.cli('stop');
    for (const p of left?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }, 30_000);

  it('its clients move to the other worker within the detection time; its unconfirmed events are counted, exactly', async () => {
    const victim = (await status()).processes.find((p) => p.tier === 'business-worker' && p.index === 0)!;
    let on = true;
    const loop = (async () => {
      while (on) {
        for (const c of clients) c.client.send(String(c.sent++));
        await sleep(50);
      }
    })();
    await sleep(1000);
    for (const c of clients) c.maxGap = 0;
    process.kill(victim.pid, 'SIGSTOP');
    await sleep(30_000);
    on = false;
    await loop;
    await sleep(2000);
    const during = clients.map((c) => c.maxGap);
    process.kill(victim.pid, 'SIGCONT');

    // Every client got replies again within the detection time (timeout + one sweep + margin);
    // some had to wait that long: those were on the stopped worker.
    expect(Math.max(...during)).toBeLessThan(HANG_TIMEOUT + 2500);
    expect(during.filter((g) => g > HANG_TIMEOUT - 500).length).toBeGreaterThan(0);

    const s = await status();
    const gw = s.cluster!.gateways[0]!;
    expect(gw.limits?.workerHung).toBe(1);
    const missing = clients.reduce((n, c) => n + c.sent - c.received.length, 0);
    console.log(`hung worker: longest reply gap ${Math.max(...during)} ms (workerHangTimeout ${HANG_TIMEOUT} ms), ${during.filter((g) => g > HANG_TIMEOUT - 500).length} of ${clients.length} clients waited that long; ${missing} replies missing, lostEvents ${gw.lostEvents ?? 0}`);
    // The rule: events a hung worker had not confirmed are counted as lost (and logged), never
    // redelivered — so exactly the missing replies.
    expect(missing).toBe(gw.lostEvents ?? 0);
    expect(missing).toBeGreaterThan(0);
    expect(clients.every((c) => !c.client.closed)).toBe(true);
    const log = readFileSync(join(cluster.dir, 'gateway-worker.log'), 'utf8');
    expect(log).toMatch(/declared hung/);

    // The worker, resumed, finds its link gone and connects again; both serve again.
    await waitFor(async () => (await status()).cluster?.workers.length === 2, 'the resumed worker to reconnect', 20_000);
    for (const c of clients) c.client.send(String(c.sent++));
    await waitFor(() => clients.every((c) => c.received.at(-1) === c.sent - 1), 'a reply for everyone', 10_000);
  }, 120_000);
});
