import { Test, type TestingModule } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayService, GatewayWorkerModule } from '../lib/index.js';
import { CapturingLogger } from './support/cluster.js';
import { freePort, greeted, sleep, waitFor, WsClient } from './support/net.js';
import { alive, startNode } from './support/processes.js';
import { startRedis, type TestRedis } from './support/redis.js';

const SECRET = 'push-secret';

/**
 * The push sample (sample/push.main.ts) next to the chat cluster, as the README runs them: the
 * chat's Register, Gateway and BusinessWorker as separate processes, the HTTP app as another, and
 * a real redis-server for BullMQ — all on free ports.
 */
describe('push sample: HTTP → BullMQ (real Redis) → GatewayService → chat clients', () => {
  let redis: TestRedis;
  const tiers: Record<string, ReturnType<typeof startNode>> = {};
  let push: ReturnType<typeof startNode>;
  let registerAddress: string;
  let chatEnv: Record<string, string>;
  let wsPort: number;
  let http: string;
  let queue: Queue;
  let moduleRef: TestingModule;
  /** The test's own GatewayService (an app with no tier), to bind uids and join groups. */
  let gateway: GatewayService;
  const clients: WsClient[] = [];

  const post = (body: unknown) =>
    fetch(`${http}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const connectClient = async () => {
    const c = await greeted(() => WsClient.connect(`ws://127.0.0.1:${wsPort}`), 20_000);
    clients.push(c.client);
    return c;
  };
  const startTier = (tier: 'register' | 'gateway' | 'business') => (tiers[tier] = startNode(`dist/sample/${tier}.main.js`, chatEnv));

  // The long timeout is for a fresh machine, where startRedis() first apt-get installs redis-server.
  beforeAll(async () => {
    redis = await startRedis();
    registerAddress = `127.0.0.1:${await freePort()}`;
    wsPort = await freePort();
    chatEnv = {
      GW_REGISTER_ADDRESS: registerAddress,
      GW_SECRET_KEY: SECRET,
      GW_TEXT_PORT: String(await freePort()),
      GW_WS_PORT: String(wsPort),
      GW_START_PORT: String(await freePort()),
    };
    for (const tier of ['register', 'gateway', 'business'] as const) startTier(tier);
    const httpPort = await freePort();
    http = `http://127.0.0.1:${httpPort}`;
    push = startNode('dist/sample/push.main.js', {
      GW_REGISTER_ADDRESS: registerAddress,
      GW_SECRET_KEY: SECRET,
      GW_HTTP_PORT: String(httpPort),
      GW_REDIS_URL: redis.url,
      GW_TIME_INTERVAL: '200',
    });
    await waitFor(async () => (await fetch(`${http}/`).catch(() => null))?.status === 404, 'the push app to listen', 20_000);
    queue = new Queue('push', { connection: { url: redis.url } });
    moduleRef = await Test.createTestingModule({ imports: [GatewayWorkerModule.forRoot({ registerAddress, secretKey: SECRET })] })
      .setLogger(new CapturingLogger())
      .compile();
    gateway = moduleRef.get(GatewayService);
  }, 600_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await moduleRef?.close();
    await queue?.close();
    const all = [push, ...Object.values(tiers)].filter(Boolean);
    for (const p of all) await p.stop();
    await redis?.stop();
    await waitFor(() => all.every((p) => !alive(p.child.pid!)), 'every sample process to exit', 10_000);
  }, 40_000);

  it('delivers a POST /messages to a websocket client of the chat cluster, through a BullMQ job in Redis', async () => {
    const { client } = await connectClient();
    const text = `hello from HTTP ${Date.now()}`;
    const res = await post({ text });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(jobId).toMatch(/^\d+$/);
    expect(await client.until((m) => m === text, 10_000)).toBe(text);
    // The job went through Redis: BullMQ has it, completed by the processor.
    await waitFor(async () => (await queue.getJobState(jobId)) === 'completed', 'the job to complete');
    expect((await queue.getJob(jobId))?.data).toEqual({ text });
    expect(push.output()).toContain(`job ${jobId}: pushed to everybody`);
  });

  it('sends to one uid: every connection bound to it, nobody else', async () => {
    const a1 = await connectClient();
    const a2 = await connectClient();
    const b = await connectClient();
    await gateway.bindUid(a1.id, 'alice');
    await gateway.bindUid(a2.id, 'alice');
    await waitFor(async () => (await gateway.getClientIdByUid('alice')).length === 2, 'both alice bindings');
    const text = `for alice ${Date.now()}`;
    const res = await post({ text, uid: 'alice' });
    expect(res.status).toBe(202);
    expect(await a1.client.until((m) => m === text, 10_000)).toBe(text);
    expect(await a2.client.until((m) => m === text, 10_000)).toBe(text);
    await sleep(300);
    expect(b.client.messages).not.toContain(text);
  });

  it('pushes the server time to group "time" every GW_TIME_INTERVAL ms (@nestjs/schedule)', async () => {
    const member = await connectClient();
    const other = await connectClient();
    await gateway.joinGroup(member.id, 'time');
    const isTime = (m: string) => /^time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(m);
    const first = await member.client.until(isTime, 5000);
    const second = await member.client.until(isTime, 5000);
    expect(Date.parse(second.slice(5))).toBeGreaterThan(Date.parse(first.slice(5)));
    expect(other.client.messages.filter(isTime)).toEqual([]);
    await gateway.leaveGroup(member.id, 'time');
  });

  it('answers 400 to an invalid body and enqueues nothing', async () => {
    const before = await queue.getJobCounts();
    for (const body of [{}, { text: '' }, { text: 5 }, { text: 'x', uid: 7 }, { text: 'x', extra: true }]) {
      const res = await post(body);
      expect(res.status).toBe(400);
    }
    expect(await queue.getJobCounts()).toEqual(before);
  });

  it('retries a job while the Register is down and delivers it once the Register is back', async () => {
    const { client } = await connectClient();
    await tiers.register!.stop();
    // Past addressCacheTtl (1 s), the app's pushes fail fast: the job fails its first attempt.
    await sleep(1500);
    const text = `queued while down ${Date.now()}`;
    const res = await post({ text });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    await waitFor(async () => ((await queue.getJob(jobId))?.attemptsMade ?? 0) >= 1, 'a failed attempt', 5000);
    expect((await queue.getJob(jobId))?.failedReason).toMatch(/No Register is reachable/);
    startTier('register');
    expect(await client.until((m) => m === text, 15_000)).toBe(text);
    await waitFor(async () => (await queue.getJobState(jobId)) === 'completed', 'the job to complete');
  }, 30_000);
});
