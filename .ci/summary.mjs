// Reads Vitest's JSON report and prints the "N passed, N failed[, N skipped]" line CI reads.
// A test file that failed outside its tests (an import error, a failing beforeAll/afterAll — its
// tests then show as skipped or passed) counts as one failure, and is named above the line; and
// when Vitest itself exited with an error that the report does not show, the line says so: it
// never reads "0 failed" for a run that failed.
// Usage: node .ci/summary.mjs <vitest.json> <vitest exit code>   (exit code: 0 if the line says 0 failed, 1 otherwise)
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** The summary of one Vitest JSON report and exit code: the lines to print and the exit code. */
export function summarize(report, vitestExitCode) {
  const lines = [];
  if (!report) return { lines: ['0 passed, 1 failed (no test report: vitest did not run to the end)'], failed: 1 };
  const files = report.testResults ?? [];
  // Files that failed with no failed test inside: their failure is not in numFailedTests.
  const failedFiles = files.filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
  let failed = (report.numFailedTests ?? 0) + failedFiles.length;
  let skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const f of failedFiles) {
    const notRun = (f.assertionResults ?? []).filter((a) => a.status !== 'passed' && a.status !== 'failed').length;
    skipped -= notRun; // tests of a file that failed in its set-up did not run: part of that file's failure
    const why = String(f.message ?? '').split('\n')[0] || 'failed outside its tests';
    lines.push(`FAILED FILE ${relative(process.cwd(), f.name)}: ${why}${notRun ? ` (${notRun} test(s) not run)` : ''}`);
  }
  let note = '';
  if (failed === 0 && (vitestExitCode !== 0 || report.success === false || (report.numFailedTestSuites ?? 0) > 0)) {
    failed = 1;
    note = ` (vitest exited with code ${vitestExitCode}${report.numFailedTestSuites ? `, ${report.numFailedTestSuites} failed suite(s)` : ''})`;
  }
  lines.push(`${report.numPassedTests ?? 0} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : '') + note);
  return { lines, failed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, code] = process.argv.slice(2);
  const report = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  const { lines, failed } = summarize(report, Number(code ?? 0));
  for (const l of lines) console.log(l);
  process.exit(failed ? 1 : 0);
}
