import { max, median, min, pairedRatios } from './stats.js';

/** One metric of one arm over the runs of a scenario. */
export interface Measurement {
  scenario: string;
  metric: string;
  unit: string;
  arm: string;
  /** One value per run (NaN for a failed run). */
  values: number[];
}

/** A target of the issue, evaluated on the median over the runs. */
export interface TargetResult {
  scenario: string;
  /** What is compared, e.g. "ours / B0, echo/s, ws, 10 conns". */
  text: string;
  op: '>=' | '<=';
  threshold: number;
  /** `×` for ratios, a unit otherwise. */
  unit: string;
  /** Paired per-run ratios, or per-run values. */
  values: number[];
}

/** Everything a bench run measured, in order, plus the errors that made runs fail. */
export class Results {
  readonly measurements: Measurement[] = [];
  readonly targets: TargetResult[] = [];
  readonly errors: string[] = [];
  readonly notes: string[] = [];

  /** Records one metric of one arm. */
  measure(scenario: string, metric: string, unit: string, arm: string, values: number[]): void {
    this.measurements.push({ scenario, metric, unit, arm, values });
  }

  /** A target on the ratio `ours[i] / base[i]` of runs paired by index (the median of those ratios). */
  ratioTarget(scenario: string, text: string, ours: number[], base: number[], op: '>=' | '<=', threshold: number): void {
    this.targets.push({ scenario, text, op, threshold, unit: '×', values: pairedRatios(ours, base) });
  }

  /** A target on the median of the values themselves. */
  valueTarget(scenario: string, text: string, values: number[], op: '>=' | '<=', threshold: number, unit: string): void {
    this.targets.push({ scenario, text, op, threshold, unit, values: values.filter(Number.isFinite) });
  }
}

/** Whether a target is met: its median satisfies the bound (false when no run produced a value). */
export function isMet(t: TargetResult): boolean {
  const m = median(t.values);
  if (!Number.isFinite(m)) return false;
  return t.op === '>=' ? m >= t.threshold : m <= t.threshold;
}

/** A number with about three significant digits and thousands separators. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The measurements as Markdown table rows. */
export function measurementTable(r: Results): string[] {
  const lines = ['| Scenario | Metric | Arm | Median | Min | Max | Runs |', '|---|---|---|---:|---:|---:|---:|'];
  for (const m of r.measurements) {
    const ok = m.values.filter(Number.isFinite);
    lines.push(`| ${m.scenario} | ${m.metric} (${m.unit}) | ${m.arm} | ${fmt(median(ok))} | ${fmt(min(ok))} | ${fmt(max(ok))} | ${ok.length}/${m.values.length} |`);
  }
  return lines;
}

/** The targets as Markdown table rows. */
export function targetTable(r: Results): string[] {
  const lines = ['| Scenario | Target | Median | Min | Max | Met |', '|---|---|---:|---:|---:|:---:|'];
  for (const t of r.targets) {
    const bound = `${t.op === '>=' ? '≥' : '≤'} ${t.threshold}${t.unit === '×' ? '×' : ` ${t.unit}`}`;
    lines.push(
      `| ${t.scenario} | ${t.text} ${bound} | ${fmt(median(t.values))} | ${fmt(min(t.values))} | ${fmt(max(t.values))} | ${isMet(t) ? 'met' : '**not met**'} |`,
    );
  }
  return lines;
}
