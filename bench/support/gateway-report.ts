/**
 * The figures of bench/gateway.ts turned into its report: every measurement beside a baseline
 * from the same run, the issue's goals beside what was measured, and the facts behind them.
 */
import { knownServerNodeFlags, SERVER_ENVIRONMENT } from '../../src/node-settings.ts';
import type { ChildMemory, LoopDelay } from './gateway-child.ts';
import type { NagleCheck } from './gateway-nagle.ts';
import type { Transfer } from './gateway-openssh.ts';
import type { BenchReport, GoalCheck, Measurement } from './report.ts';

export const VARIANTS = [
  'direct',
  'gateway, recording off',
  'gateway, recording on',
  'ProxyJump',
] as const;
export type Variant = (typeof VARIANTS)[number];

export interface KeystrokeWindow {
  readonly label: string;
  /** Round trips in milliseconds. */
  readonly direct: number[];
  readonly gateway: number[];
  /** Through OpenSSH's ProxyJump host (sshd's direct-tcpip forwarding), as `ssh -J` goes. */
  readonly viajump: number[];
  readonly extra: string | null;
}

export interface ConcurrencyLevel {
  readonly sessions: number;
  readonly failed: number;
  /** Why the first session that failed to open failed, as the client saw it. */
  readonly firstError: string | null;
  readonly openSeconds: number;
  readonly window: KeystrokeWindow;
  /** Output each session received, on average, while the keystrokes were measured. */
  readonly kibPerSessionSecond: number;
  readonly memory: ChildMemory;
  /** How late the gateway's event loop ran while the keystrokes were measured. */
  readonly loopDelay: LoopDelay;
  /**
   * Cores busy while the keystrokes were measured: the gateway process; everything this bench
   * started (gateway, load, sshd and its sessions, the probes); every other process.
   */
  readonly cores: { gateway: number; ours: number; others: number };
}

/** A download with the CPU it cost: everything the bench started, and the gateway's share. */
export interface MeteredTransfer extends Transfer {
  readonly cpuSeconds: number;
  readonly gatewaySeconds: number;
}

export interface BulkRuns {
  readonly download: Record<Variant, MeteredTransfer[]>;
  readonly upload: Record<Variant, Transfer[]>;
  /** Recorded downloads: bytes of output and bytes of the recording file. */
  /**
   * Recorded downloads: bytes of output, of the recording file, and of output the recording
   * dropped because the recorder fell behind.
   */
  readonly recordings: { output: number; file: number; dropped: number }[];
  /**
   * One download each way with the client preferring AES-GCM: OpenSSH picks ChaCha20-Poly1305
   * first, which costs about three times as much per byte where the CPU has AES instructions.
   */
  readonly aesGcm: { direct: MeteredTransfer; gateway: MeteredTransfer };
}

export interface SizeRun {
  readonly kind: string;
  readonly output: number;
  readonly file: number;
  /** Output the recording dropped: a file with a gap is no measure of its size. */
  readonly dropped: number;
  /** `asciinema rec` of the same command, when installed. */
  readonly cast: number | null;
}

export interface GatewayFigures {
  readonly setup: {
    /** The real `ssh`, start to first byte of output. */
    direct: number[];
    gateway: number[];
    viajump: number[];
    /** An ssh2 client (Nagle off), connect to first byte of output. */
    ssh2Direct: number[];
    ssh2Gateway: number[];
    /** Runs whose `ssh` never got the command's exit status (it exits 255). */
    exitLost: number;
  };
  readonly nagle: NagleCheck | null;
  readonly keystrokes: KeystrokeWindow[];
  readonly concurrency: {
    baseline: ChildMemory;
    levels: ConcurrencyLevel[];
    stopped: string | null;
  };
  readonly bulk: BulkRuns;
  readonly sizes: SizeRun[];
  readonly bulkMib: number;
  readonly loadAverage: string[];
  /** Flags given to the gateway's Node for an experiment; none in a run for the record. */
  readonly gatewayNodeFlags: readonly string[];
}

const NOMINAL_KIB_PER_SECOND = 100;

/** The concurrency goal, and what ends the climb: slow keys, sessions refused, output starved. */
export const LEVEL_GOAL = {
  sessions: 1_000,
  addedP99Ms: 10,
  kibPerSession: 512,
  broken(level: ConcurrencyLevel): string | null {
    const added = added99(level.window);
    if (added > this.addedP99Ms) return `added keystroke p99 ${added.toFixed(1)} ms`;
    if (level.failed > 0) return `${level.failed} sessions could not be opened`;
    if (level.kibPerSessionSecond < NOMINAL_KIB_PER_SECOND * 0.9) {
      return `sessions received ${level.kibPerSessionSecond.toFixed(0)} KiB/s of 100`;
    }
    return null;
  },
};

const GOALS = {
  offOfDirect: 0.8,
  onOfDirect: 0.65,
  ofProxyJump: 2,
  idleP50Us: 50,
  idleP99Us: 250,
  busyP99Ms: 1,
  setupP50Ms: 5,
  onOfOff: 0.85,
  textRatio: 1.1,
};

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

const median = (values: readonly number[]) => percentile(values, 0.5);
const p99ms = (values: readonly number[]) => percentile(values, 0.99).toFixed(2);
/** What a path adds to direct's round trip, percentile for percentile. */
const addedBy = (path: 'gateway' | 'viajump', w: KeystrokeWindow, p: number) =>
  percentile(w[path], p) - percentile(w.direct, p);
const added50 = (w: KeystrokeWindow) => addedBy('gateway', w, 0.5);
const added99 = (w: KeystrokeWindow) => addedBy('gateway', w, 0.99);
const mibPerSecond = (runs: readonly Transfer[]) =>
  median(runs.map((t) => t.bytes / 1024 / 1024 / t.seconds));

export function report(f: GatewayFigures): BenchReport {
  return {
    name: 'gateway',
    title: `SSH gateway, ${f.bulkMib} MiB bulk, beside direct OpenSSH and ProxyJump`,
    measurements: [
      ...bulkMeasurements(f.bulk),
      ...setupMeasurements(f.setup),
      ...f.keystrokes.flatMap((w) => keystrokeMeasurements(w)),
      ...f.concurrency.levels.flatMap((l) => keystrokeMeasurements(l.window, [0.99])),
      ...sizeMeasurements(f),
    ],
    goals: forTheRecord(f, [
      ...bulkGoals(f.bulk),
      ...keystrokeGoals(f.keystrokes),
      setupGoal(f.setup),
      ...concurrencyGoals(f.concurrency),
      ...recordingGoals(f),
    ]),
    notes: notes(f),
  };
}

/** A run with experiment flags for the gateway's Node meets no goal, and says why. */
function forTheRecord(f: GatewayFigures, goals: GoalCheck[]): GoalCheck[] {
  if (f.gatewayNodeFlags.length === 0) return goals;
  const flags = f.gatewayNodeFlags.join(' ');
  return goals.map((g) => ({ ...g, measured: `${g.measured} (experiment: ${flags})`, met: false }));
}

function bulkMeasurements(bulk: BulkRuns): Measurement[] {
  const rows: Measurement[] = [];
  for (const direction of ['download', 'upload'] as const) {
    const runs = bulk[direction];
    const direct = mibPerSecond(runs.direct);
    for (const variant of VARIANTS.slice(1)) {
      rows.push({
        subject: `${direction}, ${variant}`,
        value: mibPerSecond(runs[variant]),
        unit: 'MiB/s',
        baseline: { label: `${direction}, direct`, value: direct },
        better: 'higher',
      });
    }
    rows.push({
      subject: `${direction}, gateway, recording off`,
      value: mibPerSecond(runs['gateway, recording off']),
      unit: 'MiB/s',
      baseline: { label: `${direction}, ProxyJump`, value: mibPerSecond(runs.ProxyJump) },
      better: 'higher',
    });
  }
  const chacha = bulk.download;
  rows.push(
    {
      subject: 'download, direct, client prefers AES-GCM',
      value: mibPerSecond([bulk.aesGcm.direct]),
      unit: 'MiB/s',
      baseline: { label: 'download, direct', value: mibPerSecond(chacha.direct) },
      better: 'higher',
    },
    {
      subject: 'download, gateway, recording off, client prefers AES-GCM',
      value: mibPerSecond([bulk.aesGcm.gateway]),
      unit: 'MiB/s',
      baseline: {
        label: 'download, gateway, recording off',
        value: mibPerSecond(chacha['gateway, recording off']),
      },
      better: 'higher',
    },
  );
  return rows;
}

function setupMeasurements(setup: GatewayFigures['setup']): Measurement[] {
  const direct = { label: 'direct, p50', value: median(setup.direct) };
  return [
    {
      subject: 'set-up to first output, ssh2 client, gateway, p50',
      value: median(setup.ssh2Gateway),
      unit: 'ms',
      baseline: { label: 'ssh2 client, direct, p50', value: median(setup.ssh2Direct) },
      better: 'lower',
    },
    {
      subject: 'set-up to first output, gateway, p50',
      value: median(setup.gateway),
      unit: 'ms',
      baseline: direct,
      better: 'lower',
    },
    {
      subject: 'set-up to first output, ProxyJump, p50',
      value: median(setup.viajump),
      unit: 'ms',
      baseline: direct,
      better: 'lower',
    },
  ];
}

function keystrokeMeasurements(w: KeystrokeWindow, percentiles = [0.5, 0.99]): Measurement[] {
  return percentiles.flatMap((p) => {
    const row = (subject: string, values: readonly number[]): Measurement => ({
      subject: `keystroke p${p * 100}, ${w.label}${subject}`,
      value: percentile(values, p) * 1000,
      unit: 'µs',
      baseline: { label: `direct p${p * 100}`, value: percentile(w.direct, p) * 1000 },
      better: 'lower',
    });
    return [row('', w.gateway), row(', ProxyJump', w.viajump)];
  });
}

function sizeMeasurements(f: GatewayFigures): Measurement[] {
  const rows: Measurement[] = f.sizes.map((s) => ({
    subject: `recording of ${s.output / 1024 / 1024} MiB ${s.kind}`,
    value: s.file,
    unit: 'bytes',
    baseline: { label: 'terminal output', value: s.output },
    better: 'lower',
  }));
  for (const s of f.sizes) {
    if (s.cast === null) continue;
    rows.push({
      subject: `recording of ${s.output / 1024 / 1024} MiB ${s.kind}`,
      value: s.file,
      unit: 'bytes',
      baseline: { label: 'asciinema rec, same output', value: s.cast },
      better: 'lower',
    });
  }
  return rows;
}

function bulkGoals(bulk: BulkRuns): GoalCheck[] {
  const down = bulk.download;
  const direct = mibPerSecond(down.direct);
  const off = mibPerSecond(down['gateway, recording off']);
  const on = mibPerSecond(down['gateway, recording on']);
  const jump = mibPerSecond(down.ProxyJump);
  // A recording that dropped output was not kept up with: its speed is not recording's speed.
  const output = bulk.recordings.reduce((sum, r) => sum + r.output, 0);
  const dropped = bulk.recordings.reduce((sum, r) => sum + r.dropped, 0);
  const gap =
    dropped === 0
      ? null
      : `, but the recordings dropped ${((100 * dropped) / output).toFixed(0)} % of the output`;
  return [
    ratioGoal(
      `download, recording off ≥ ${GOALS.offOfDirect} of direct`,
      off / direct,
      GOALS.offOfDirect,
    ),
    ratioGoal(
      `download, recording on ≥ ${GOALS.onOfDirect} of direct`,
      on / direct,
      GOALS.onOfDirect,
      gap,
    ),
    ratioGoal(
      `download, recording off ≥ ${GOALS.ofProxyJump}× ProxyJump`,
      off / jump,
      GOALS.ofProxyJump,
    ),
    ratioGoal(`download, recording on ≥ ${GOALS.onOfOff} of off`, on / off, GOALS.onOfOff, gap),
  ];
}

function ratioGoal(goal: string, value: number, atLeast: number, gap: string | null = null) {
  const met = value >= atLeast && gap === null;
  return { goal, measured: `${value.toFixed(3)}${gap ?? ''}`, met } satisfies GoalCheck;
}

function keystrokeGoals(windows: readonly KeystrokeWindow[]): GoalCheck[] {
  const [idle, ...busy] = windows;
  if (idle === undefined) return [];
  const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
  // ProxyJump is one hop through sshd, in C: whether any proxy could meet the goal on this machine.
  const measured = (w: KeystrokeWindow, p: number) =>
    `${us(addedBy('gateway', w, p))}; ProxyJump adds ${us(addedBy('viajump', w, p))}`;
  return [
    {
      goal: `added keystroke p50 < ${GOALS.idleP50Us} µs, idle, recorded`,
      measured: measured(idle, 0.5),
      met: added50(idle) * 1000 < GOALS.idleP50Us,
    },
    {
      goal: `added keystroke p99 < ${GOALS.idleP99Us} µs, idle, recorded`,
      measured: measured(idle, 0.99),
      met: added99(idle) * 1000 < GOALS.idleP99Us,
    },
    ...busy.map((w) => ({
      goal: `added keystroke p99 < ${GOALS.busyP99Ms} ms, ${w.label}`,
      measured: measured(w, 0.99),
      met: added99(w) < GOALS.busyP99Ms,
    })),
  ];
}

function setupGoal(setup: GatewayFigures['setup']): GoalCheck {
  const added = median(setup.ssh2Gateway) - median(setup.ssh2Direct);
  return {
    goal: `added set-up (credential injection) p50 < ${GOALS.setupP50Ms} ms, ssh2 client`,
    measured: `${added.toFixed(1)} ms`,
    met: added < GOALS.setupP50Ms,
  };
}

function concurrencyGoals(c: GatewayFigures['concurrency']): GoalCheck[] {
  const held = c.levels.filter((l) => LEVEL_GOAL.broken(l) === null).at(-1);
  const perSession = held === undefined ? Number.NaN : kibPerSession(c.baseline, held);
  const mib = (bytes: number | undefined) => ((bytes ?? Number.NaN) / 2 ** 20).toFixed(0);
  return [
    {
      goal: `${LEVEL_GOAL.sessions} recorded sessions (1 KiB × 100/s) with added p99 < ${LEVEL_GOAL.addedP99Ms} ms`,
      measured: `${held?.sessions ?? 0} held${c.stopped === null ? '' : `; next step: ${c.stopped}`}`,
      met: (held?.sessions ?? 0) >= LEVEL_GOAL.sessions,
    },
    {
      goal: `< ${LEVEL_GOAL.kibPerSession} KiB resident per session (at ${held?.sessions ?? 0})`,
      measured:
        `${perSession.toFixed(0)} KiB (V8's young generation, sized by the rate of allocation, ` +
        `was ${mib(held?.memory.youngGeneration)} MiB of the gateway's ${mib(held?.memory.rss)})`,
      met: perSession < LEVEL_GOAL.kibPerSession,
    },
  ];
}

function kibPerSession(baseline: ChildMemory, level: ConcurrencyLevel): number {
  return (level.memory.rss - baseline.rss) / 1024 / Math.max(1, level.sessions);
}

function recordingGoals(f: GatewayFigures): GoalCheck[] {
  // A whole recording of text: the last bulk download's, or else the 64 MiB text run's.
  const whole = [...f.bulk.recordings, ...f.sizes.filter((s) => s.kind === 'text')];
  const sample = whole.filter((r) => r.dropped === 0).at(0);
  const ratio = sample === undefined ? Number.NaN : sample.file / sample.output;
  return [
    {
      goal: `recording of text ≤ ${GOALS.textRatio}× the output`,
      measured:
        sample === undefined ? 'every recording of text dropped output' : `${ratio.toFixed(3)}×`,
      met: ratio <= GOALS.textRatio,
    },
  ];
}

function notes(f: GatewayFigures): string[] {
  const lines = [
    ...(f.gatewayNodeFlags.length === 0
      ? []
      : [`EXPERIMENT: the gateway's Node ran with ${f.gatewayNodeFlags.join(' ')}`]),
    `the gateway's Node runs with the settings \`tessera server\` uses: ${serverSettings()} ` +
      '(src/node-settings.ts)',
    `load average (1, 5, 15 min) at start, after keystrokes, at end: ${f.loadAverage.join(' | ')}; ` +
      'other work on this machine shares its cores with every figure',
    `bulk: median of ${f.bulk.download.direct.length} downloads (target runs cat of a text file) ` +
      `and one upload (wc -c on the target) per way; real ssh with KexAlgorithms curve25519-sha256 everywhere`,
    'recording off: the bench policy has recordingRequired false and the recordings folder cannot be ' +
      'created, so sessions run unrecorded (the session policy has no setting that turns recording off)',
    `"≥ 2× ProxyJump" read as gateway throughput ÷ ProxyJump throughput`,
    ...cpuBudget(f.bulk),
    'keystrokes: ssh2 client in the bench process (no node-pty), shell with PTY running ' +
      '`stty raw -echo; exec cat`; direct, gateway and ProxyJump (a second ssh2 session inside ' +
      "a direct-tcpip channel of the jump host's sshd, as ssh -J opens it) interleaved, every " +
      'order of the three in turn; added = percentile of the path − direct percentile',
    ...f.keystrokes
      .filter((w) => w.extra !== null)
      .map((w) => `keystrokes, ${w.label}: ${w.extra}`),
    `set-up: ${f.setup.direct.length} rounds each; real ssh p50 added ` +
      `${(median(f.setup.gateway) - median(f.setup.direct)).toFixed(1)} ms: OpenSSH leaves Nagle on ` +
      'until a session starts, and its log-in to sshd stalls on delayed ACKs (about 40 ms, twice) ' +
      'where the gateway, Nagle off on both legs, does not; the goal is read on the ssh2 client',
    `set-up: the real ssh exited 255, the exit status lost, in ${f.setup.exitLost} of ` +
      `${f.setup.gateway.length} runs through the gateway (none direct)`,
    f.nagle === null
      ? 'Nagle: strace unavailable, not checked'
      : `Nagle: the gateway set TCP_NODELAY ${f.nagle.noDelayCalls} times during one connection ` +
        '(user leg and target leg)',
    ...concurrencyNotes(f.concurrency),
    ...f.sizes.map(
      (s) =>
        `${s.kind}: ${(s.file / s.output).toFixed(4)} bytes on disk per byte of output` +
        (s.dropped === 0 ? '' : ` (the recording dropped ${s.dropped} bytes)`) +
        (s.cast === null ? '' : `; asciinema ${(s.cast / s.output).toFixed(4)}`),
    ),
    ...f.bulk.recordings.map(
      (r, index) =>
        `recorded download ${index + 1}: ${r.dropped} of ${r.output} bytes of output left out ` +
        'of the recording (it drops only what it cannot catch up with)',
    ),
  ];
  return lines;
}

function concurrencyNotes(c: GatewayFigures['concurrency']): string[] {
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  return c.levels.map((l) => {
    const per = (field: keyof ChildMemory) =>
      ((l.memory[field] - c.baseline[field]) / 1024 / Math.max(1, l.sessions)).toFixed(0);
    return (
      `${l.sessions} sessions (${l.failed} failed, opened in ${l.openSeconds.toFixed(0)} s): ` +
      `${l.kibPerSessionSecond.toFixed(0)} KiB/s each; cores busy: gateway ` +
      `${l.cores.gateway.toFixed(2)}, all of this bench ${l.cores.ours.toFixed(2)}, other ` +
      `processes ${l.cores.others.toFixed(2)}; keys p99 direct ` +
      `${p99ms(l.window.direct)} ms, gateway ${p99ms(l.window.gateway)} ms, ` +
      `ProxyJump ${p99ms(l.window.viajump)} ms; ` +
      `gateway event loop late by p50 ${l.loopDelay.p50.toFixed(1)} ms, p99 ` +
      `${l.loopDelay.p99.toFixed(1)} ms, max ${l.loopDelay.max.toFixed(1)} ms; ` +
      `gateway rss ${mib(l.memory.rss)} MiB; per session KiB: rss ${per('rss')}, heap used ` +
      `${per('heapUsed')}, heap total ${per('heapTotal')}, external ${per('external')}, ` +
      `array buffers ${per('arrayBuffers')}; ` +
      `V8's young generation ${mib(l.memory.youngGeneration)} MiB`
    );
  });
}

/**
 * What each download path costs in CPU per GiB, and how many cores it kept busy. One connection
 * is relayed by one thread of the gateway, so its CPU seconds per GiB cap a transfer at about
 * 1 GiB divided by them (recording adds work on libuv's pool, so that cap is then a floor).
 */
function cpuBudget(bulk: BulkRuns): string[] {
  const perGib = (runs: readonly MeteredTransfer[], pick: (t: MeteredTransfer) => number) =>
    median(runs.map((t) => pick(t) / (t.bytes / 1024 ** 3)));
  const cores = (runs: readonly MeteredTransfer[]) =>
    median(runs.map((t) => t.cpuSeconds / t.seconds));
  const direct = mibPerSecond(bulk.download.direct);
  return VARIANTS.map((variant) => {
    const runs = bulk.download[variant];
    const all = perGib(runs, (t) => t.cpuSeconds);
    let share = '';
    if (variant.startsWith('gateway')) {
      const gateway = perGib(runs, (t) => t.gatewaySeconds);
      const cap = 1024 / gateway;
      share =
        `; the gateway process ${gateway.toFixed(2)} s, so one relaying thread tops out near ` +
        `${cap.toFixed(0)} MiB/s, ${(cap / direct).toFixed(2)} of direct`;
    }
    return (
      `CPU per GiB downloaded, ${variant}: ${all.toFixed(2)} s in all, ` +
      `${cores(runs).toFixed(2)} cores busy${share}`
    );
  }).concat(
    `CPU per GiB downloaded, gateway, recording off, client prefers AES-GCM: the gateway ` +
      `process ${perGib([bulk.aesGcm.gateway], (t) => t.gatewaySeconds).toFixed(2)} s ` +
      `(ChaCha20-Poly1305, OpenSSH's first choice, on the user's leg otherwise; the target's ` +
      `leg is AES-GCM either way)`,
  );
}

/** The Node options and environment `tessera server` runs with, as one line. */
function serverSettings(): string {
  const environment = Object.entries(SERVER_ENVIRONMENT).map(([name, value]) => `${name}=${value}`);
  return [...knownServerNodeFlags(), ...environment].join(' ');
}
