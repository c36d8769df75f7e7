/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `node bench/run.ts --profile`): the
 * functions with the most self time and the most inclusive time.
 *
 *   node bench/profile-summary.ts bench/results/profiles/<file>.cpuprofile [rows]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderTable } from './support/table.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
}

interface Totals {
  self: number;
  inclusive: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${shortUrl(url)}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

function shortUrl(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) return file.slice(modules + 'node_modules/'.length);
  return path.relative(process.cwd(), file);
}

/** Self and inclusive sample counts per function; recursion is counted once per stack. */
function summarise(profile: CpuProfile): Map<string, Totals> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, Totals>();
  const entry = (name: string) => {
    let found = totals.get(name);
    if (found === undefined) {
      found = { self: 0, inclusive: 0 };
      totals.set(name, found);
    }
    return found;
  };
  const walk = (id: number, onStack: ReadonlySet<string>): number => {
    const node = byId.get(id);
    if (node === undefined) return 0;
    const name = frameName(node);
    const own = node.hitCount ?? 0;
    entry(name).self += own;
    const stack = new Set(onStack).add(name);
    let below = 0;
    for (const child of node.children ?? []) below += walk(child, stack);
    if (!onStack.has(name)) entry(name).inclusive += own + below;
    return own + below;
  };
  const root = profile.nodes[0];
  if (root !== undefined) walk(root.id, new Set());
  return totals;
}

function main(): void {
  const [file, rowsArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: node bench/profile-summary.ts <file> [rows]');
  const rows = Number(rowsArg ?? 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totals = summarise(profile);
  const samples = profile.samples.length;
  const pct = (n: number) => `${((100 * n) / samples).toFixed(1)} %`;
  const top = (key: keyof Totals) =>
    [...totals.entries()]
      .sort((a, b) => b[1][key] - a[1][key])
      .slice(0, rows)
      .map(([name, t]) => [pct(t[key]), name]);
  const seconds = ((profile.endTime - profile.startTime) / 1e6).toFixed(1);
  process.stdout.write(`${samples} samples over ${seconds} s\n\nself time:\n`);
  process.stdout.write(`${renderTable(['share', 'function'], top('self'))}\n\ninclusive time:\n`);
  process.stdout.write(`${renderTable(['share', 'function'], top('inclusive'))}\n`);
}

main();
