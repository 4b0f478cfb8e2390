import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILE_DIR } from './harness/arms.js';
import { Child } from './harness/child.js';
import { installCleanup } from './harness/cleanup.js';
import { parseConfig, type BenchConfig } from './harness/config.js';
import { isMet, measurementTable, Results, targetTable } from './harness/results.js';
import type { Scenario } from './scenarios/scenario.js';
import { s1 } from './scenarios/s1-idle.js';
import { s2 } from './scenarios/s2-connect.js';
import { s3 } from './scenarios/s3-echo.js';
import { s4 } from './scenarios/s4-burst.js';
import { s5 } from './scenarios/s5-fanout.js';
import { s6 } from './scenarios/s6-push.js';
import { formatTop } from './tools/cpuprofile-top.js';

/**
 * `npm run bench [-- s1 … s6] [--flags]`: runs the scenarios against ours and the baselines,
 * prints the measurements and the targets (met or not), and writes a Markdown results file.
 */
const SCENARIOS: Scenario[] = [s1, s2, s3, s4, s5, s6];
const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

installCleanup();
let cfg: ReturnType<typeof parseConfig>;
try {
  cfg = parseConfig(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

const t0 = Date.now();
const loadAtStart = loadavg()[0]!;
const log = (m: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`);
const results = new Results();
if (cfg.profile) rmSync(PROFILE_DIR, { recursive: true, force: true });
if (cfg.logs) {
  Child.logDir = join(BENCH_DIR, 'logs', new Date().toISOString().replace(/[:.]/g, '-'));
  log(`child process output goes to ${Child.logDir}`);
}

for (const scenario of SCENARIOS.filter((s) => cfg.scenarios.includes(s.id))) {
  log(`${scenario.title}`);
  try {
    await scenario.run({ cfg: { ...cfg, profile: cfg.profile }, results, log });
  } catch (err) {
    results.errors.push(`${scenario.id}: ${(err as Error).message.split('\n')[0]}`);
    log(`FAILED ${scenario.id}: ${(err as Error).stack}`);
  }
}

const minutes = (Date.now() - t0) / 60_000;
const report = renderReport(cfg, results, minutes);
console.log('\n' + report);
if (cfg.profile) printProfiles();

const out = cfg.out ?? (cfg.custom ? join(BENCH_DIR, 'logs', 'results.md') : join(BENCH_DIR, 'results.md'));
writeResults(out, report);
console.log(`\nResults written to ${out}`);
const notMet = results.targets.filter((t) => !isMet(t)).length;
console.log(`${results.targets.length - notMet} of ${results.targets.length} targets met; ${minutes.toFixed(1)} min.`);
process.exit(results.errors.length ? 1 : 0);

function renderReport(c: BenchConfig, r: Results, min: number): string {
  const cpu = cpus();
  const sizes = `clients ${c.clients}, S2 connections ${c.connectClients}, S4 receivers ${c.receivers.join('/')} (${c.deliveries} deliveries per phase), ${c.clientProcs} client processes, ${c.runs} runs per arm`;
  const lines = [
    `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${min.toFixed(1)} min, ${revision()}.`,
    `Load average (1 min) of the machine: ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end (other work on the machine shows in the latencies).`,
    `Sizes: ${sizes}. Every value is the median over the runs (each arm run alternately, each run after its own discarded warm-up); ratios pair the runs of the same round.`,
    '',
    '### Targets',
    '',
    ...targetTable(r),
    '',
    '### Measurements',
    '',
    ...measurementTable(r),
  ];
  if (r.errors.length) lines.push('', '### Errors', '', ...r.errors.map((e) => `- ${e}`));
  return lines.join('\n');
}

/** The commit the bench ran on, and whether lib/ had uncommitted changes (read-only git calls). */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: BENCH_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return `commit ${commit}${git('status', '--porcelain', '--', '../lib') ? ' with uncommitted changes in lib/' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

/** Rewrites the part of the results file between the markers; hand-written notes around them stay. */
function writeResults(file: string, report: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const block = `${START}\n${report}\n${END}`;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a >= 0 && b > a) {
      writeFileSync(file, text.slice(0, a) + block + text.slice(b + END.length));
      return;
    }
  }
  writeFileSync(file, `# Benchmark results\n\nWritten by \`npm run bench\` (the part between the markers is replaced on every run).\n\n${block}\n`);
}

function printProfiles(): void {
  if (!existsSync(PROFILE_DIR)) return;
  for (const f of readdirSync(PROFILE_DIR).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    console.log('\n' + formatTop(join(PROFILE_DIR, f), 15));
  }
}
