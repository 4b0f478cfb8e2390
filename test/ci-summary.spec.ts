import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoPath } from './support/processes.js';

/** Runs .ci/summary.mjs on a report file and Vitest exit code, as .ci/run does. */
function summary(reportFile: string, code: number): { out: string; code: number } {
  const r = spawnSync(process.execPath, [repoPath('.ci/summary.mjs'), reportFile, String(code)], { encoding: 'utf8' });
  return { out: r.stdout.trim(), code: r.status ?? -1 };
}

describe('.ci/run summary line: failed files count as failures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-ci-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A real Vitest run over the given spec files; returns its JSON report path and exit code. */
  function vitest(files: Record<string, string>): { report: string; code: number } {
    const root = mkdtempSync(join(dir, 'run-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
    const report = join(root, 'vitest.json');
    const r = spawnSync(process.execPath, [repoPath('node_modules/vitest/vitest.mjs'), 'run', '--root', root, '--reporter=json', `--outputFile=${report}`], {
      encoding: 'utf8',
      cwd: root,
      timeout: 60_000,
    });
    return { report, code: r.status ?? -1 };
  }

  it('a file failing in beforeAll and a file failing to import are failures, their unrun tests not "skipped"', () => {
    const run = vitest({
      'setup.spec.ts': `import { beforeAll, it } from 'vitest';\nbeforeAll(() => { throw new Error('the package lock is held'); });\nit('a', () => {});\nit('b', () => {});\n`,
      'import.spec.ts': `import './missing.js';\nimport { it } from 'vitest';\nit('c', () => {});\n`,
      'good.spec.ts': `import { it, expect } from 'vitest';\nit('d', () => expect(1).toBe(1));\nit.skip('e', () => {});\n`,
    });
    expect(run.code).not.toBe(0);
    const s = summary(run.report, run.code);
    const lines = s.out.split('\n');
    expect(lines.at(-1)).toBe('1 passed, 2 failed, 1 skipped');
    expect(s.out).toMatch(/FAILED FILE .*setup\.spec\.ts: .*the package lock is held \(2 test\(s\) not run\)/);
    expect(s.out).toMatch(/FAILED FILE .*import\.spec\.ts: .*missing\.js/);
    expect(s.code).toBe(1);
  }, 60_000);

  it('a failing test counts once; a failing afterAll counts as its file', () => {
    const run = vitest({
      'bad.spec.ts': `import { it, expect } from 'vitest';\nit('f', () => expect(1).toBe(2));\n`,
      'teardown.spec.ts': `import { afterAll, it } from 'vitest';\nafterAll(() => { throw new Error('leaked process'); });\nit('g', () => {});\n`,
    });
    const s = summary(run.report, run.code);
    expect(s.out.split('\n').at(-1)).toBe('1 passed, 2 failed');
  }, 60_000);

  it('all green reads 0 failed and exits 0; a vitest failure the report does not show is still a failure', () => {
    const run = vitest({ 'good.spec.ts': `import { it } from 'vitest';\nit('h', () => {});\n` });
    expect(summary(run.report, run.code)).toEqual({ out: '1 passed, 0 failed', code: 0 });
    const odd = summary(run.report, 1);
    expect(odd.out).toBe('1 passed, 1 failed (vitest exited with code 1)');
    expect(odd.code).toBe(1);
    expect(summary(join(dir, 'none.json'), 1)).toEqual({ out: '0 passed, 1 failed (no test report: vitest did not run to the end)', code: 1 });
  }, 60_000);

  it('.ci/run hands the summary line the exit code of npm test', () => {
    const text = readFileSync(repoPath('.ci/run'), 'utf8');
    expect(text).toContain('node .ci/summary.mjs test-results/vitest.json "$status"');
  });
});
