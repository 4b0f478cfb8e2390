import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** One function's share of a CPU profile's samples. */
export interface HotFunction {
  name: string;
  where: string;
  /** Percent of the non-idle samples spent in the function itself. */
  selfPercent: number;
}

/**
 * The functions with the most self time in a V8 `.cpuprofile` (as `node --cpu-prof` writes it),
 * idle time excluded. Several nodes of the same function (different callers) are summed.
 */
export function topFunctions(file: string, limit = 15): HotFunction[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const byFunction = new Map<string, HotFunction & { hits: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || hits === 0) continue;
    total += hits;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = byFunction.get(key) ?? { name: functionName || '(anonymous)', where, selfPercent: 0, hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, limit)
    .map(({ name, where, hits }) => ({ name, where, selfPercent: (100 * hits) / Math.max(1, total) }));
}

/** `file:///…/node_modules/ws/lib/sender.js` → `ws/lib/sender.js`; bench copies of lib/ → `lib/…`. */
function shorten(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const lib = url.lastIndexOf('/dist/lib/');
  if (lib >= 0) return url.slice(lib + '/dist/'.length);
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

/** The top functions as text lines. */
export function formatTop(file: string, limit = 15): string {
  const lines = [`${basename(file)}: self time, % of busy samples`];
  for (const f of topFunctions(file, limit)) lines.push(`  ${f.selfPercent.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  return lines.join('\n');
}

// `node bench/dist/bench/tools/cpuprofile-top.js FILE… [--limit N]`
if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--limit');
  const limit = i >= 0 ? Number(args.splice(i, 2)[1]) : 25;
  for (const file of args) console.log(formatTop(file, limit) + '\n');
}
