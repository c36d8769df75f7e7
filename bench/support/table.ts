import type { BenchReport, Measurement } from './report.ts';
import { ratio } from './report.ts';

/** Renders rows as a plain text table with a header rule; numbers are right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]) {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return /^[-\d.,]+( \S+)?$/.test(cell) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function measurementRow(report: BenchReport, m: Measurement): string[] {
  const r = ratio(m.value, m.baseline.value);
  return [
    report.name,
    m.subject,
    `${formatNumber(m.value)} ${m.unit}`,
    m.baseline.label,
    `${formatNumber(m.baseline.value)} ${m.unit}`,
    Number.isFinite(r) ? `${r.toFixed(3)} (${m.better} better)` : 'n/a',
  ];
}

export function renderResults(reports: readonly BenchReport[]): string {
  const measurements = renderTable(
    ['bench', 'measured', 'value', 'baseline (same run)', 'baseline', 'ratio'],
    reports.flatMap((report) => report.measurements.map((m) => measurementRow(report, m))),
  );
  const goals = renderTable(
    ['bench', 'goal', 'measured', 'met'],
    reports.flatMap((report) =>
      report.goals.map((g) => [report.name, g.goal, g.measured, g.met ? 'yes' : 'NO']),
    ),
  );
  const notes = reports.flatMap((report) => report.notes.map((n) => `  [${report.name}] ${n}`));
  return ['', measurements, '', goals, '', 'notes:', ...notes].join('\n');
}
