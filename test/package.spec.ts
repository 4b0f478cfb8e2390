/**
 * What `npm pack` would publish (`npm run build` first, as `npm test` does): the built library with
 * its declarations, the license, the readme and the docs — nothing from test/, sample/ or bench/,
 * no build output the current sources no longer produce, and source maps only with their sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackResult {
  files: { path: string; size: number }[];
}

let files: string[];

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  files = (JSON.parse(out) as PackResult[])[0]!.files.map((f) => f.path).sort();
}, 90_000);

describe('npm pack', () => {
  it('ships the license, the readme, the docs and package.json', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/protocol.md', 'docs/architecture.md']) {
      expect(files).toContain(f);
    }
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).license).toBe('MIT');
  });

  it('ships only dist/lib of the build, and nothing of test/, sample/ or bench/', () => {
    const outside = files.filter((f) => !f.startsWith('dist/lib/') && !f.startsWith('docs/') && !['LICENSE', 'README.md', 'package.json'].includes(f));
    expect(outside).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|sample|bench)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('every module has its JavaScript and its declarations, and comes from a current source file', () => {
    const js = files.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(50);
    for (const f of js) {
      expect(files, `${f} without declarations`).toContain(f.replace(/\.js$/, '.d.ts'));
      // A stale file left in dist/ by an earlier build would be published too.
      expect(existsSync(join(ROOT, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${f} has no source in lib/: a stale build (npm pack cleans dist/ first; locally: rm -rf dist && npm run build)`).toBe(true);
    }
  });

  it('the entry points in package.json are in the package', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      main: string;
      types: string;
      bin: Record<string, string>;
      exports: { '.': { types: string; default: string } };
    };
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin), pkg.exports['.'].types, pkg.exports['.'].default];
    for (const t of targets) expect(files).toContain(t.replace(/^\.\//, ''));
  });

  it('a source map is shipped only with the sources it maps', () => {
    for (const f of files.filter((p) => p.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      const missing = map.sources.filter((s, i) => typeof map.sourcesContent?.[i] !== 'string' && !files.includes(join(f, '..', s)));
      expect({ map: f, missing }).toEqual({ map: f, missing: [] });
    }
  });
});
