import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROFILE_DIR, startArm, type ArmName, type ServerArm } from '../harness/arms.js';
import { ECHO } from '../app-protocol.js';
import { openConnection, type BenchConnection, type ClientKind } from '../clients/connections.js';
import { Child } from '../harness/child.js';

const USAGE = `usage: npm run bench:probe -- [ours|B0|B0c] [--kind text|ws] [--conns N] [--seconds S] [--trace gateway|worker|front --with perf|strace]

Echo ping-pong over text or ws connections from this one process (no client pool): prints server CPU
per echo for each server process and the echo rate. With --trace, records the chosen process
during the measured phase: 'perf' writes bench/profiles/probe.perf.data (read it with
'perf report -i … --no-children --sort dso,sym'), 'strace' prints the syscalls per echo.
This is how the kernel/user split and the syscalls per echo in bench/results.md were measured.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    conns: { type: 'string', default: '10' },
    kind: { type: 'string', default: 'text' },
    seconds: { type: 'string', default: '3' },
    trace: { type: 'string' },
    with: { type: 'string', default: 'strace' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const armName = (positionals[0] ?? 'ours') as ArmName;
if (!['ours', 'B0', 'B0c'].includes(armName)) throw new Error(`unknown arm ${armName}\n${USAGE}`);
const conns = Number(values.conns);
const kind = values.kind as ClientKind;
if (kind !== 'text' && kind !== 'ws') throw new Error(`--kind takes text or ws\n${USAGE}`);
const REQUEST = `${ECHO} x`;
const PERF_FILE = join(PROFILE_DIR, 'probe.perf.data');
const seconds = Number(values.seconds);

/** Echo loop over `conns` connections: each sends its next request when its reply is in. */
class EchoLoop {
  echoes = 0;
  private stopAt = 0;
  private live = 0;
  private finished: () => void = () => undefined;
  private readonly connections: BenchConnection[] = [];

  static async open(kind: ClientKind, port: number, n: number): Promise<EchoLoop> {
    const loop = new EchoLoop();
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve, reject) => {
        const c = openConnection(kind, port, {
          open: () => resolve(),
          message: () => loop.onReply(c),
          error: reject,
          close: () => undefined,
        });
        loop.connections.push(c);
      });
    }
    return loop;
  }

  private onReply(c: BenchConnection): void {
    this.echoes++;
    if (Date.now() < this.stopAt) c.send(REQUEST);
    else if (--this.live === 0) this.finished();
  }

  /** Runs the loop for `ms`, then waits for the replies in flight. */
  run(ms: number): Promise<void> {
    const done = new Promise<void>((r) => (this.finished = r));
    this.stopAt = Date.now() + ms;
    this.live = this.connections.length;
    for (const c of this.connections) c.send(REQUEST);
    return done;
  }

  close(): void {
    for (const c of this.connections) c.close();
  }
}

function traced(arm: ServerArm): Child | undefined {
  if (!values.trace) return undefined;
  if (values.trace === 'worker') return arm.worker;
  if (values.trace === 'gateway' || values.trace === 'front') return arm.front;
  throw new Error(`--trace takes gateway, worker or front\n${USAGE}`);
}

function startTracer(pid: number): { proc: ChildProcess; output: () => string } {
  const args =
    values.with === 'perf' ? ['record', '-g', '-o', PERF_FILE, '-p', String(pid)] : ['-c', '-f', '-p', String(pid)];
  const proc = spawn(values.with === 'perf' ? 'perf' : 'strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  proc.on('error', (err) => console.error(`${values.with} failed: ${err.message} (is it installed?)`));
  return { proc, output: () => out };
}

mkdirSync(PROFILE_DIR, { recursive: true });
const arm = await startArm(armName, { hello: false });
try {
  const loop = await EchoLoop.open(kind, arm.ports[kind]!, conns);
  await loop.run(1000); // warm-up, discarded
  const target = traced(arm);
  const tracer = target ? startTracer(target.pid) : undefined;
  if (tracer) await new Promise((r) => setTimeout(r, 300));
  const cpu0 = await arm.cpuByProcess();
  const n0 = loop.echoes;
  const t0 = Date.now();
  await loop.run(seconds * 1000);
  const echoes = loop.echoes - n0;
  const elapsed = (Date.now() - t0) / 1000;
  const cpu1 = await arm.cpuByProcess();
  if (tracer) {
    tracer.proc.kill('SIGINT');
    await new Promise((r) => tracer.proc.once('exit', r));
  }
  console.log(`${armName}, ${conns} ${kind} connections, ${echoes} echoes in ${elapsed.toFixed(1)} s: ${Math.round(echoes / elapsed)} echo/s`);
  for (const name of Object.keys(cpu1)) console.log(`  ${name}: ${((cpu1[name]! - cpu0[name]!) / echoes).toFixed(1)} µs CPU per echo`);
  if (tracer && values.with === 'strace') {
    console.log(`  strace of ${target!.name} (${echoes} echoes):`);
    console.log(tracer.output().split('\n').filter((l) => /^\s*[\d.]+\s/.test(l)).join('\n'));
  } else if (tracer) console.log(`  perf data: ${PERF_FILE}`);
  loop.close();
} finally {
  await arm.stop();
  Child.killAll();
}
