/**
 * What a benchmark hands back. Every figure stands next to a baseline measured in the same run,
 * because this machine is noisy and absolute numbers from different runs do not compare.
 */
export interface Measurement {
  readonly subject: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: { readonly label: string; readonly value: number };
  /**
   * Which way is better. A rate is better higher, a time or a latency lower; the ratio printed
   * is always value ÷ baseline, so the reader needs the direction to read it.
   */
  readonly better: 'higher' | 'lower';
}

export interface GoalCheck {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchReport {
  readonly name: string;
  readonly title: string;
  readonly measurements: readonly Measurement[];
  readonly goals: readonly GoalCheck[];
  /** Facts a reader needs to trust the figures: counts, errors, sizes, caveats. */
  readonly notes: readonly string[];
}

export interface BenchContext {
  /** Start server children under `node --cpu-prof`, writing profiles into this folder. */
  readonly profileDir: string | null;
  /** Progress lines, so a long run shows where it is. */
  log(line: string): void;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(context: BenchContext): Promise<BenchReport>;
}

export function ratio(value: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : value / baseline;
}
