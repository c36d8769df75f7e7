/**
 * Benchmark: the SSH gateway next to a direct OpenSSH connection to the same throw-away sshd
 * (the limit) and next to OpenSSH's own ProxyJump through a second sshd (the peer), in one run.
 * Tessera and its gateway run in a child process; the load runs in another.
 *
 * 1. set-up: `ssh HOST 'echo ready'` with the real client, start to first byte of output;
 * 2. keystroke echo round trips (ssh2 client, PTY, `cat` in raw mode), direct, through the
 *    gateway and through ProxyJump, interleaved: idle, beside a session flooding output, during
 *    password logins;
 * 3. concurrent recorded shell sessions, each printing 1 KiB 100 times a second, raised step by
 *    step until the added keystroke p99 passes 10 ms, with the gateway's memory per session;
 * 4. bulk: `cat` of a text file over exec (1 GiB by default) both ways, direct, through the
 *    gateway with recording off and on, and through ProxyJump; then one download direct and
 *    through the gateway with the client preferring AES-GCM to OpenSSH's ChaCha20-Poly1305;
 * 5. recording size for text, NUL bytes and random bytes, beside `asciinema rec` when installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCpuMeter } from './support/cpu-meter.ts';
import {
  type EchoSession,
  firstOutput,
  openEcho,
  openEchoViaJump,
} from './support/gateway-echo.ts';
import { type GatewayLoad, gatewayLoad } from './support/gateway-load.ts';
import { checkNagle } from './support/gateway-nagle.ts';
import {
  background,
  catCommand,
  type Transfer,
  timeToFirstOutput,
  transfer,
} from './support/gateway-openssh.ts';
import {
  type BulkRuns,
  type ConcurrencyLevel,
  type GatewayFigures,
  type KeystrokeWindow,
  LEVEL_GOAL,
  type MeteredTransfer,
  report,
  type SizeRun,
  VARIANTS,
} from './support/gateway-report.ts';
import { GATEWAY_NODE_FLAGS, type GatewayRig, startGatewayRig } from './support/gateway-rig.ts';
import type { BenchContext, Benchmark, BenchReport } from './support/report.ts';

/** 1 GiB as the issue asks; TESSERA_BENCH_GATEWAY_MIB=256 for a quicker run. */
const BULK_MIB = Number(process.env.TESSERA_BENCH_GATEWAY_MIB ?? 1024);
const BULK_ROUNDS = 3;
const SETUP_ROUNDS = 30;
const SETUP_PAUSE_MS = 200;
const KEYSTROKES = 2_000;
const LEVEL_KEYSTROKES = 400;
const LEVELS = [10, 20, 40, 70, 100, 200, 400, 700, 1_000] as const;
const OPEN_CONCURRENCY = 8;
const SETTLE_MS = 3_000;
const LOGIN_CONCURRENCY = 8;
const FLOOD =
  "yes '2025-12-04T17:00:00Z INFO worker-3 job 1234 done in 17 ms: a flood of log text'";
const SIZE_MIB = 64;
const MIB = 1024 * 1024;

/** The three ways to the target user's echo session, named as KeystrokeWindow names them. */
interface Probes {
  readonly direct: EchoSession;
  readonly gateway: EchoSession;
  readonly viajump: EchoSession;
}

const PATHS = ['direct', 'gateway', 'viajump'] as const;

export const gateway: Benchmark = {
  name: 'gateway',
  title: 'SSH gateway beside direct OpenSSH and ProxyJump to the same sshd',
  run,
};

async function run(context: BenchContext): Promise<BenchReport> {
  context.log('starting two throw-away sshd, and Tessera with its gateway in a child process');
  const rig = await startGatewayRig({ profileDir: context.profileDir });
  const load = gatewayLoad();
  try {
    const figures = await measureAll(context, rig, load);
    return report(figures);
  } finally {
    await load.stop();
    await rig.stop();
  }
}

/** The order matters: memory per session is measured before floods and bulk inflate the heap. */
async function measureAll(
  context: BenchContext,
  rig: GatewayRig,
  load: GatewayLoad,
): Promise<GatewayFigures> {
  const loadAverage = [readLoadAverage()];
  context.log(`set-up: ${SETUP_ROUNDS} rounds of ssh HOST 'echo ready', and Nagle's algorithm`);
  const setup = await measureSetup(rig);
  const nagle = await checkNagle(rig.dir, rig.gatewayPid, rig.sshConfig);
  const probes: Probes = {
    direct: await openEcho(rig.direct),
    gateway: await openEcho(rig.gateway),
    viajump: await openEchoViaJump(rig.jump, rig.direct),
  };
  try {
    context.log(`keystrokes: ${KEYSTROKES} idle`);
    const idle = await keystrokes('idle', probes, KEYSTROKES);
    context.log(`concurrency: up to ${LEVELS.at(-1)} recorded shell sessions`);
    const concurrency = await measureConcurrency(context, rig, load, probes);
    context.log(`keystrokes: ${KEYSTROKES} beside a flooding neighbour`);
    const flood = await beside(rig, probes);
    context.log(`keystrokes: ${KEYSTROKES} during password logins`);
    const logins = await duringLogins(rig, load, probes);
    loadAverage.push(readLoadAverage());
    context.log(`bulk: ${BULK_MIB} MiB each way, ${BULK_ROUNDS} rounds`);
    const bulk = await measureBulk(context, rig);
    context.log(`recording size: ${SIZE_MIB} MiB of text, NUL and random bytes`);
    const sizes = await measureSizes(rig);
    loadAverage.push(readLoadAverage());
    return {
      setup,
      nagle,
      keystrokes: [idle, flood, logins],
      concurrency,
      bulk,
      sizes,
      bulkMib: BULK_MIB,
      loadAverage,
      gatewayNodeFlags: GATEWAY_NODE_FLAGS,
    };
  } finally {
    for (const path of PATHS) probes[path].close();
  }
}

/**
 * Each round runs the five clients in a rotated order, after a pause: an sshd still tearing down
 * the previous connection would otherwise always slow the same one.
 */
async function measureSetup(rig: GatewayRig): Promise<GatewayFigures['setup']> {
  const setup: GatewayFigures['setup'] = {
    direct: [],
    gateway: [],
    viajump: [],
    ssh2Direct: [],
    ssh2Gateway: [],
    exitLost: 0,
  };
  const openssh = (host: 'direct' | 'gateway' | 'viajump') => async () => {
    const first = await timeToFirstOutput(rig.sshConfig, host);
    setup[host].push(first.ms);
    if (first.code !== 0 && host !== 'gateway') throw new Error(`ssh ${host} failed`);
    if (first.code !== 0) setup.exitLost += 1;
  };
  const probes = [
    openssh('direct'),
    openssh('gateway'),
    openssh('viajump'),
    async () => setup.ssh2Direct.push(await firstOutput(rig.direct)),
    async () => setup.ssh2Gateway.push(await firstOutput(rig.gateway)),
  ];
  for (let round = 0; round < SETUP_ROUNDS; round++) {
    for (let i = 0; i < probes.length; i++) {
      await sleep(SETUP_PAUSE_MS);
      await probes[(round + i) % probes.length]?.();
    }
  }
  return setup;
}

/** Rounds of one keystroke on each path, the paths in a new order each round (see `inTurn`). */
async function keystrokes(label: string, probes: Probes, rounds: number): Promise<KeystrokeWindow> {
  const window: KeystrokeWindow = { label, direct: [], gateway: [], viajump: [], extra: null };
  for (let round = 0; round < rounds; round++) {
    for (const path of inTurn(PATHS, round)) window[path].push(await probes[path].keystroke());
    await sleep(1);
  }
  return window;
}

/**
 * Turned by one place each round, and reversed in every other cycle of turns: that goes through
 * every order of three, so each path goes first after the pause, and follows each other path,
 * equally often.
 */
function inTurn<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  const turned = [...items.slice(shift), ...items.slice(0, shift)];
  return Math.floor(round / items.length) % 2 === 0 ? turned : turned.reverse();
}

async function beside(rig: GatewayRig, probes: Probes): Promise<KeystrokeWindow> {
  const flood = background(rig.sshConfig, 'gateway', FLOOD);
  try {
    await sleep(1_000);
    return await keystrokes('a neighbour floods output', probes, KEYSTROKES);
  } finally {
    await flood.kill();
  }
}

async function duringLogins(
  rig: GatewayRig,
  load: GatewayLoad,
  probes: Probes,
): Promise<KeystrokeWindow> {
  await load.startLogins({
    url: rig.apiUrl,
    users: rig.loginUsers,
    password: rig.loginPassword,
    concurrency: LOGIN_CONCURRENCY,
  });
  const started = performance.now();
  try {
    await sleep(500);
    const window = await keystrokes('password logins', probes, KEYSTROKES);
    const { done, failed } = await load.stopLogins();
    const rate = done / ((performance.now() - started) / 1000);
    return { ...window, extra: `${done} logins (${rate.toFixed(0)}/s), ${failed} failed` };
  } catch (error) {
    await load.stopLogins().catch(() => undefined);
    throw error;
  }
}

async function measureConcurrency(
  context: BenchContext,
  rig: GatewayRig,
  load: GatewayLoad,
  probes: Probes,
) {
  const baseline = await rig.memory();
  const levels: ConcurrencyLevel[] = [];
  let stopped: string | null = null;
  for (const count of LEVELS) {
    const level = await measureLevel(rig, load, probes, count);
    levels.push(level);
    const why = level.firstError === null ? '' : `; first failure: ${level.firstError}`;
    context.log(
      `  ${level.sessions} sessions (${level.failed} failed to open ` +
        `in ${level.openSeconds.toFixed(0)} s${why})`,
    );
    stopped = LEVEL_GOAL.broken(level);
    if (stopped !== null) break;
  }
  await load.closeSessions();
  return { baseline, levels, stopped };
}

/** Opens sessions up to `count`, lets them run, then probes keystrokes, CPU and memory. */
async function measureLevel(
  rig: GatewayRig,
  load: GatewayLoad,
  probes: Probes,
  count: number,
): Promise<ConcurrencyLevel> {
  const opening = performance.now();
  const opened = await load.sessions({
    count,
    endpoint: rig.gateway,
    program: `perl ${rig.producerFile} 1024 100`,
    concurrency: OPEN_CONCURRENCY,
  });
  const openSeconds = (performance.now() - opening) / 1000;
  await sleep(SETTLE_MS);
  await load.rate();
  const cpu = startCpuMeter();
  const gatewayCpu = rig.gatewayCpuSeconds();
  const label = `${count} sessions`;
  await rig.loopDelay();
  const window = await keystrokes(label, probes, LEVEL_KEYSTROKES);
  const loopDelay = await rig.loopDelay();
  if (loopDelay === null) throw new Error('the gateway was not watching its event loop');
  const rate = await load.rate();
  const used = cpu();
  const cores = (seconds: number) => seconds / rate.seconds;
  return {
    sessions: opened.open,
    failed: opened.failed,
    firstError: opened.firstError,
    openSeconds,
    window,
    kibPerSessionSecond: rate.bytes / 1024 / rate.seconds / Math.max(1, opened.open),
    cores: {
      gateway: cores(rig.gatewayCpuSeconds() - gatewayCpu),
      ours: cores(used.processSeconds + used.serversSeconds),
      others: cores(used.othersSeconds),
    },
    memory: await rig.memory(),
    loopDelay,
  };
}

async function measureBulk(context: BenchContext, rig: GatewayRig): Promise<BulkRuns> {
  const copies = Math.max(1, Math.round((BULK_MIB * MIB) / rig.textBytes));
  const download = { download: catCommand(rig.textFile, copies) };
  const upload = { upload: catCommand(rig.textFile, copies) };
  const runs: Omit<BulkRuns, 'aesGcm'> = {
    download: emptyRuns<MeteredTransfer>(),
    upload: emptyRuns<Transfer>(),
    recordings: [],
  };
  for (let round = 0; round < BULK_ROUNDS; round++) {
    for (const variant of VARIANTS) {
      const host = variant === 'gateway, recording off' ? 'gateway' : hostOf(variant);
      rig.setRecording(variant !== 'gateway, recording off');
      const before = rig.recordingFiles().length;
      const down = await metered(rig, () => transfer(rig.sshConfig, host, download));
      runs.download[variant].push(down);
      if (variant === 'gateway, recording on') {
        const file = rig.recordingFiles().slice(before).at(-1);
        const dropped = await rig.lastDroppedBytes();
        if (file !== undefined) {
          runs.recordings.push({ output: down.bytes, file: file.bytes, dropped });
        }
      }
      // One upload round: it is the same relay, the other way.
      if (round === 0) runs.upload[variant].push(await transfer(rig.sshConfig, host, upload));
      context.log(`  ${variant}: ${mibPerSecond(down).toFixed(0)} MiB/s down`);
    }
  }
  const preferGcm = withCiphers(rig.sshConfig, 'aes128-gcm@openssh.com,aes256-gcm@openssh.com');
  rig.setRecording(false);
  const aesGcm = {
    direct: await metered(rig, () => transfer(preferGcm, 'direct', download)),
    gateway: await metered(rig, () => transfer(preferGcm, 'gateway', download)),
  };
  context.log(`  client prefers AES-GCM: ${mibPerSecond(aesGcm.gateway).toFixed(0)} MiB/s down`);
  rig.setRecording(true);
  return { ...runs, aesGcm };
}

/** A copy of an ssh_config whose client offers these ciphers, in this order, to every host. */
function withCiphers(sshConfig: string, ciphers: string): string {
  const copy = `${sshConfig}.ciphers`;
  // ssh takes the first value it reads for a keyword: a line before every Host block wins.
  writeFileSync(copy, `Ciphers ${ciphers}\n${readFileSync(sshConfig, 'utf8')}`, { mode: 0o600 });
  return copy;
}

/** A transfer with the CPU that everything this bench started used meanwhile. */
async function metered(rig: GatewayRig, run: () => Promise<Transfer>): Promise<MeteredTransfer> {
  const cpu = startCpuMeter();
  const gateway = rig.gatewayCpuSeconds();
  const done = await run();
  const used = cpu();
  return {
    ...done,
    cpuSeconds: used.processSeconds + used.serversSeconds,
    gatewaySeconds: rig.gatewayCpuSeconds() - gateway,
  };
}

function hostOf(variant: (typeof VARIANTS)[number]): string {
  if (variant === 'direct') return 'direct';
  if (variant === 'ProxyJump') return 'viajump';
  return 'gateway';
}

function emptyRuns<T>(): Record<(typeof VARIANTS)[number], T[]> {
  return {
    direct: [],
    'gateway, recording off': [],
    'gateway, recording on': [],
    ProxyJump: [],
  };
}

async function measureSizes(rig: GatewayRig): Promise<SizeRun[]> {
  const bytes = SIZE_MIB * MIB;
  const kinds = [
    { kind: 'text', command: `head -c ${bytes} ${rig.textFile}` },
    { kind: 'NUL bytes', command: `head -c ${bytes} /dev/zero` },
    { kind: 'random bytes', command: `head -c ${bytes} /dev/urandom` },
  ];
  const runs: SizeRun[] = [];
  for (const { kind, command } of kinds) {
    const before = rig.recordingFiles().length;
    const sent = await transfer(rig.sshConfig, 'gateway', { download: command });
    const file = rig.recordingFiles().slice(before).at(-1);
    const dropped = await rig.lastDroppedBytes();
    const cast = asciinemaCast(rig, command);
    runs.push({ kind, output: sent.bytes, file: file?.bytes ?? Number.NaN, dropped, cast });
  }
  return runs;
}

/** The size of `asciinema rec -c COMMAND`, or null when asciinema is not installed. */
function asciinemaCast(rig: GatewayRig, command: string): number | null {
  if (spawnSync('sh', ['-c', 'command -v asciinema']).status !== 0) return null;
  const cast = path.join(rig.dir, `asciinema-${Date.now()}.cast`);
  const rec = spawnSync('asciinema', ['rec', '-q', '--overwrite', '-c', command, cast], {
    stdio: 'ignore',
    timeout: 300_000,
  });
  return rec.status === 0 ? statSync(cast).size : null;
}

function mibPerSecond(t: Transfer): number {
  return t.bytes / MIB / t.seconds;
}

function readLoadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown'; // no /proc
  }
}
