/**
 * Tessera's benchmarks: `npm run bench` runs them all; `node bench/run.ts reads writes` runs the
 * named ones; `--profile` records a CPU profile of each benchmark server (bench/results/profiles).
 * Prints one table and writes the figures to bench/results/<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditAppends } from './audit-append.ts';
import { auditVerify } from './audit-verify.ts';
import { crashCheck } from './crash-check.ts';
import { gateway } from './gateway.ts';
import { loginBurst } from './login-burst.ts';
import { recording } from './recording.ts';
import { rotation } from './rotation.ts';
import { rotationMixed } from './rotation-mixed.ts';
import { secretReadsPostgres, secretReadsSqlite } from './secret-reads.ts';
import { secretWrites } from './secret-writes.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';
import { renderResults } from './support/table.ts';

const BENCHMARKS: readonly Benchmark[] = [
  secretReadsSqlite,
  secretReadsPostgres,
  crashCheck,
  secretWrites,
  auditAppends,
  auditVerify,
  rotation,
  loginBurst,
  recording,
  gateway,
  rotationMixed,
];

const RESULTS_DIR = path.join(import.meta.dirname, 'results');

interface Failure {
  readonly name: string;
  readonly error: string;
}

function parseArgs(argv: readonly string[]): { selected: Benchmark[]; profile: boolean } {
  const profile = argv.includes('--profile');
  const names = argv.filter((arg) => !arg.startsWith('--'));
  const unknown = names.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    const known = BENCHMARKS.map((b) => b.name).join(', ');
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${known}`);
  }
  const selected =
    names.length === 0 ? [...BENCHMARKS] : BENCHMARKS.filter((b) => names.includes(b.name));
  return { selected, profile };
}

async function runAll(selected: readonly Benchmark[], context: BenchContext) {
  const reports: BenchReport[] = [];
  const failures: Failure[] = [];
  for (const benchmark of selected) {
    const started = performance.now();
    context.log(`== ${benchmark.name}: ${benchmark.title}`);
    try {
      reports.push(await benchmark.run(context));
    } catch (error) {
      // One broken benchmark must not hide the others' figures.
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ name: benchmark.name, error: message });
      context.log(`!! ${benchmark.name} failed: ${message}`);
    }
    context.log(`== ${benchmark.name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return { reports, failures };
}

function writeResults(reports: readonly BenchReport[], failures: readonly Failure[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-');
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
  };
  const body = { command: process.argv.slice(1).join(' '), at: new Date().toISOString(), machine };
  writeFileSync(file, `${JSON.stringify({ ...body, reports, failures }, null, 2)}\n`);
  return file;
}

async function main(): Promise<void> {
  const { selected, profile } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const context: BenchContext = {
    profileDir: profile ? path.join(RESULTS_DIR, 'profiles') : null,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const { reports, failures } = await runAll(selected, context);
  process.stdout.write(`${renderResults(reports)}\n`);
  for (const failure of failures)
    process.stdout.write(`\nFAILED ${failure.name}: ${failure.error}\n`);
  const file = writeResults(reports, failures);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)} (${seconds} s in all)\n`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
