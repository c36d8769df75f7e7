import type { RotationTiming } from './bare-rotation.ts';
import type { CrashResult } from './mixed-crash.ts';
import type { Platform } from './mixed-fleet.ts';
import type { BenchReport, GoalCheck, Measurement } from './report.ts';
import { ratio } from './report.ts';

/** The issue's goals: wall time per size, and the share of the bare script's rate. */
const GOAL_SECONDS: Readonly<Record<number, number>> = { 500: 10, 5000: 60 };
const GOAL_RATIO = 0.9;

export interface SizeResult {
  readonly size: number;
  readonly tessera: RotationTiming;
  readonly bare: RotationTiming;
  readonly counts: ReadonlyMap<Platform, number>;
}

interface Rate {
  readonly perSecond: number;
  readonly failed: number;
  readonly lastSeconds: number;
}

/**
 * A connector's rate inside the mixed run: its accounts over the time until its last one ended.
 * Every target has its own slots (maxPerTarget), so each runs at its own pace beside the others.
 */
function rateOf(timing: RotationTiming, platform: Platform): Rate {
  const items = timing.items.filter((item) => item.platform === platform);
  const lastSeconds = Math.max(0, ...items.map((item) => item.finishedMs)) / 1000;
  const failed = items.filter((item) => !item.ok).length;
  return { perSecond: lastSeconds > 0 ? items.length / lastSeconds : 0, failed, lastSeconds };
}

function failedOf(timing: RotationTiming): number {
  return timing.items.filter((item) => !item.ok).length;
}

export function mixedReport(input: {
  readonly results: readonly SizeResult[];
  readonly crash: CrashResult | null;
  readonly maxPerTarget: number;
  readonly platforms: readonly Platform[];
}): BenchReport {
  const { results, crash, platforms } = input;
  return {
    name: 'rotation-mixed',
    title: 'bulk rotation of a mixed estate on real servers, each change verified by a login',
    measurements: results.flatMap((r) => measurementsOf(r, platforms)),
    goals: [
      ...results.flatMap((r) => goalsOf(r, platforms)),
      ...(crash === null ? [] : [crashGoal(crash)]),
    ],
    notes: [
      `limits on both sides: 16 rotations at once per node, ${input.maxPerTarget} per target; ` +
        'Tessera through POST /v1/rotation/runs, time from the request to the run’s end',
      ...results.flatMap((r) => notesOf(r, platforms)),
      ...(crash === null ? [] : crashNotes(crash)),
    ],
  };
}

function measurementsOf(r: SizeResult, platforms: readonly Platform[]): Measurement[] {
  const overall: Measurement = {
    subject: `${r.size} mixed, all connectors`,
    value: r.size / r.tessera.seconds,
    unit: 'accounts/s',
    baseline: { label: 'bare script, same accounts', value: r.size / r.bare.seconds },
    better: 'higher',
  };
  const perConnector = platforms.map(
    (platform): Measurement => ({
      subject: `${r.size} mixed: ${platform} (${r.counts.get(platform) ?? 0})`,
      value: rateOf(r.tessera, platform).perSecond,
      unit: 'accounts/s',
      baseline: { label: `bare script: ${platform}`, value: rateOf(r.bare, platform).perSecond },
      better: 'higher',
    }),
  );
  return [overall, ...perConnector];
}

function goalsOf(r: SizeResult, platforms: readonly Platform[]): GoalCheck[] {
  const goals: GoalCheck[] = [];
  const limit = GOAL_SECONDS[r.size];
  const failed = failedOf(r.tessera);
  if (limit !== undefined) {
    goals.push({
      goal: `${r.size} mixed rotations in < ${limit} s, no failures`,
      measured: `${r.tessera.seconds.toFixed(2)} s, ${failed} failed`,
      met: r.tessera.seconds < limit && failed === 0,
    });
  }
  const overall = ratio(r.bare.seconds, r.tessera.seconds);
  const ratios = platforms.map((p) => ({
    platform: p,
    value: ratio(rateOf(r.tessera, p).perSecond, rateOf(r.bare, p).perSecond),
  }));
  const lowest = [...ratios].sort((a, b) => a.value - b.value)[0];
  goals.push({
    goal: `${r.size} mixed: ≥ ${GOAL_RATIO} of the bare rate, overall and per connector`,
    measured:
      `overall ${overall.toFixed(3)}` +
      (lowest === undefined ? '' : `, lowest ${lowest.value.toFixed(3)} (${lowest.platform})`),
    met: overall >= GOAL_RATIO && ratios.every((x) => x.value >= GOAL_RATIO),
  });
  return goals;
}

function notesOf(r: SizeResult, platforms: readonly Platform[]): string[] {
  const side = (label: string, t: RotationTiming) => {
    const parts = platforms.map((p) => {
      const rate = rateOf(t, p);
      return `${p} done at ${rate.lastSeconds.toFixed(2)} s${rate.failed ? ` (${rate.failed} failed)` : ''}`;
    });
    const first = Math.min(...t.items.map((item) => item.finishedMs)) / 1000;
    return (
      `${r.size}: ${label} ${t.seconds.toFixed(2)} s, ${failedOf(t)} failed, first account done ` +
      `at ${first.toFixed(2)} s; ${parts.join(', ')}`
    );
  };
  const errors = [
    ...r.tessera.errors.map((e) => `Tessera: ${e}`),
    ...r.bare.errors.map((e) => `bare: ${e}`),
  ];
  const cpu = (label: string, t: RotationTiming) => {
    const perRotation = (seconds: number) => `${((seconds * 1000) / r.size).toFixed(1)} ms`;
    const capacity = t.cpu.cpus * t.seconds;
    return (
      `${r.size}: ${label} CPU per rotation: ${perRotation(t.cpu.processSeconds)} in the bench ` +
      `process, ${perRotation(t.cpu.serversSeconds)} in the target servers; other processes ` +
      `took ${t.cpu.othersSeconds.toFixed(1)} of the machine's ${capacity.toFixed(1)} CPU-s`
    );
  };
  return [
    side('Tessera', r.tessera),
    side('bare', r.bare),
    cpu('Tessera (in-process server)', r.tessera),
    cpu('bare', r.bare),
    ...errors.map((e) => `${r.size}: FAILED ${e}`),
  ];
}

function crashGoal(c: CrashResult): GoalCheck {
  return {
    goal: `SIGKILL mid-run (${c.total} accounts), restart: no account where vault and target disagree`,
    measured: `${c.disagreeing} of ${c.checked} disagree`,
    met: c.disagreeing === 0 && c.run.state === 'finished',
  };
}

function crashNotes(c: CrashResult): string[] {
  return [
    `crash: killed with ${c.doneAtKill}/${c.total} done and ${c.pendingAtKill} rotations in flight; ` +
      `restarted server listening after ${c.listenSeconds.toFixed(2)} s, pending versions settled ` +
      `after ${c.recoverySeconds.toFixed(2)} s, run finished after ${c.finishSeconds.toFixed(2)} s`,
    `crash: run ${c.run.state}, ${c.run.succeeded} succeeded, ${c.run.failed} failed in all`,
    ...c.run.failures.slice(0, 5).map((f) => `crash: FAILED ${f.account}: ${f.error}`),
    ...c.disagreements.map((d) => `crash: DISAGREES ${d}`),
  ];
}
