/**
 * Drain that cannot lose, with a fan-out handler: the chat sample under the gateway-worker CLI
 * (1 register, 2 gateways, 2 workers; `@OnMessage` answers with `sendToAll`), 200 text clients
 * sending numbered messages at a steady rate while the workers are reloaded twice, one worker is
 * sent SIGTERM and the other SIGINT (Ctrl-C). Every client must receive every client's `said`
 * lines, each sender's in order, none missing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/fixture-cluster.js';
import { freePort, freePortRange, sleep, waitFor } from './support/net.js';
import { alive, repoPath } from './support/processes.js';

const CLIENTS = 200;
/** Each client sends one numbered message per period (clients staggered over it): 200 messages/s in all, 40,000 lines/s delivered. */
const PERIOD_MS = 1000;

interface Proc {
  tier: string;
  index: number;
  pid: number;
  state: string;
}

/**
 * A chat client that checks, as lines arrive, that each sender's `said` numbers come in order
 * without a gap (`<id> said <n>`), keeping only a counter per sender.
 */
class ChatClient {
  id = '';
  closed = false;
  /** Next number expected from each sender. */
  readonly next = new Map<string, number>();
  /** Lines skipped: a number arrived while an earlier one of the same sender had not. */
  skipped = 0;
  /** Lines that came after a later one of the same sender (reordered or duplicated). */
  late = 0;
  /** The first problems seen. */
  readonly problems: string[] = [];
  private buffer = '';
  private greeted: (id: string) => void = () => undefined;
  readonly hello = new Promise<string>((r) => (this.greeted = r));

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.line(this.buffer.slice(0, i).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(i + 1);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<ChatClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new ChatClient(s)));
      s.once('error', reject);
    });
  }

  private line(line: string): void {
    if (line.startsWith('Hello ')) {
      this.id = line.slice(6);
      this.greeted(this.id);
      return;
    }
    const m = /^([0-9a-f]{20}) said (\d+)$/.exec(line);
    if (!m) return;
    const [, sender, n] = m;
    const expected = this.next.get(sender!) ?? 0;
    const got = Number(n);
    if (got !== expected && this.problems.length < 10) this.problems.push(`from ${sender}: got ${n}, expected ${expected}`);
    if (got > expected) this.skipped += got - expected;
    else if (got < expected) this.late++;
    this.next.set(sender!, Math.max(expected, got + 1));
  }

  send(n: number): void {
    this.socket.write(`${n}\r\n`);
  }
}

describe('drain under a fan-out handler (chat sample, gateway-worker CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-drain-'));
  let env: NodeJS.ProcessEnv;
  let textPort = 0;
  const clients: ChatClient[] = [];
  const cli = (...args: string[]) => runCli(dir, env, ...args);
  /** This host's processes; retried, since the CLI may read its state file while the master rewrites it. */
  const procs = async (): Promise<Proc[]> => {
    for (let attempt = 1; ; attempt++) {
      const { out } = await cli('status', '--json');
      try {
        return JSON.parse(out).processes;
      } catch (err) {
        if (attempt >= 5) throw new Error(`status --json: ${out}`, { cause: err });
        await sleep(200);
      }
    }
  };
  const workers = async () => (await procs()).filter((p) => p.tier === 'business-worker');

  beforeAll(async () => {
    const entry = (f: string) => repoPath(`dist/sample/${f}.main.js`);
    writeFileSync(
      join(dir, 'gateway-worker.config.json'),
      JSON.stringify({
        name: 'chat-drain',
        tiers: [
          { tier: 'register', entry: entry('register') },
          { tier: 'gateway', entry: entry('gateway'), count: 2 },
          { tier: 'business-worker', entry: entry('business'), count: 2 },
        ],
        stopTimeout: 15_000,
      }),
    );
    const register = `127.0.0.1:${await freePort()}`;
    textPort = await freePort();
    env = {
      ...process.env,
      NO_COLOR: '1',
      GW_REGISTER_ADDRESS: register,
      GW_REGISTER_LISTEN: `text://127.0.0.1:${register.split(':')[1]}`,
      GW_TEXT_PORT: String(textPort),
      GW_WS_PORT: String(await freePort()),
      GW_START_PORT: String(await freePortRange(2)),
      GW_LAN_IP: '127.0.0.1',
      GATEWAY_WORKER_REGISTER_ADDRESS: register,
    };
    const started = await cli('start', '-d');
    expect(started.code, started.out).toBe(0);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    const left = await procs().catch(() => [] as Proc[]);
    await cli('stop');
    for (const p of left) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('two reloads, a SIGTERM and a SIGINT of a worker under traffic lose and reorder no said line', async () => {
    // Every client connected and greeted before the traffic starts.
    const deadline = Date.now() + 30_000;
    while (clients.length < CLIENTS) {
      try {
        const c = await ChatClient.open(textPort);
        await Promise.race([c.hello, sleep(5000).then(() => Promise.reject(new Error('no greeting')))]);
        clients.push(c);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    expect((await workers()).length).toBe(2);

    // Steady traffic: every 10 ms, the next 2 clients in turn send their next number.
    const sent = clients.map(() => 0);
    let sending = true;
    const perTick = Math.max(1, Math.round((CLIENTS * 10) / PERIOD_MS));
    const traffic = (async () => {
      let turn = 0;
      while (sending) {
        for (let k = 0; k < perTick; k++, turn = (turn + 1) % CLIENTS) clients[turn]!.send(sent[turn]!++);
        await sleep(10);
      }
    })();

    const replaced = async (old: number[], what: string) =>
      waitFor(
        async () => {
          const w = await workers();
          return w.length === 2 && w.every((p) => !old.includes(p.pid) && p.state === 'running');
        },
        what,
        60_000,
      );
    try {
      await sleep(2000);
      for (const round of [1, 2]) {
        const old = (await workers()).map((p) => p.pid);
        expect((await cli('reload')).code).toBe(0);
        await replaced(old, `reload ${round} to replace both workers`);
        await sleep(1500);
      }
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const all = await workers();
        const victim = all.find((p) => p.index === (signal === 'SIGTERM' ? 0 : 1))!;
        process.kill(victim.pid, signal);
        // The process manager starts a new one in its place.
        await replaced([victim.pid], `the worker stopped with ${signal} to be replaced`);
        await sleep(1500);
      }
    } finally {
      sending = false;
      await traffic;
    }

    // Every client receives every client's lines (its own included: sendToAll), in order per sender.
    const total = sent.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(CLIENTS * 10);
    const complete = () => clients.every((c) => clients.every((s, j) => (c.next.get(s.id) ?? 0) >= sent[j]!));
    await waitFor(complete, 'every said line to arrive', 30_000).catch(() => undefined);
    const missing: string[] = [];
    // Lines skipped in the middle plus lines missing at the end.
    let lost = clients.reduce((n, c) => n + c.skipped, 0);
    const late = clients.reduce((n, c) => n + c.late, 0);
    for (const c of clients) {
      for (const [j, s] of clients.entries()) {
        const got = c.next.get(s.id) ?? 0;
        if (got < sent[j]!) {
          lost += sent[j]! - got;
          if (missing.length < 5) missing.push(`${c.id} has ${got} of ${sent[j]} from ${s.id}`);
        }
      }
    }
    const problems = clients.flatMap((c) => c.problems.map((p) => `${c.id}: ${p}`));
    expect({ lost, late, missing, problems: problems.slice(0, 5) }, `${total} messages sent, ${total * CLIENTS} lines due`).toEqual({ lost: 0, late: 0, missing: [], problems: [] });
    expect(clients.every((c) => !c.closed)).toBe(true);
  }, 240_000);
});
