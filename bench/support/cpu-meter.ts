/**
 * Where the CPU went while one side of a benchmark ran: this process (the connectors, and
 * Tessera when it runs in-process), the servers this process started (every descendant, with the
 * children they reaped), and the rest of the machine, which on a shared machine is noise. Read
 * from /proc; elsewhere only this process's share is known.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuUse {
  /** CPU seconds this process used (user + system), all threads. */
  readonly processSeconds: number;
  /** CPU seconds used by this process's descendants: the target servers and their children. */
  readonly serversSeconds: number;
  /** CPU seconds every other process on the machine used. */
  readonly othersSeconds: number;
  /** CPUs of the machine, for reading the seconds above against the wall time. */
  readonly cpus: number;
}

/** USER_HZ, the unit of /proc times: 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** Starts measuring; the returned function reads what was used since. */
export function startCpuMeter(): () => CpuUse {
  const self0 = process.cpuUsage();
  const servers0 = descendantTicks();
  const machine0 = machineBusyTicks();
  return () => {
    const self = process.cpuUsage(self0);
    const processSeconds = (self.user + self.system) / 1e6;
    const serversSeconds = (descendantTicks() - servers0) / TICKS_PER_SECOND;
    const machineSeconds = (machineBusyTicks() - machine0) / TICKS_PER_SECOND;
    return {
      processSeconds,
      serversSeconds,
      othersSeconds: Math.max(0, machineSeconds - processSeconds - serversSeconds),
      cpus: os.cpus().length,
    };
  };
}

/** Busy ticks of all CPUs together (everything but idle and iowait) from /proc/stat. */
function machineBusyTicks(): number {
  const line = readText('/proc/stat').split('\n')[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((sum, t) => sum + t, 0);
  return total - (ticks[3] ?? 0) - (ticks[4] ?? 0);
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime: its own time and its reaped children's. */
  readonly ticks: number;
}

/**
 * Ticks of every live descendant, with the children each has reaped, plus the children this
 * process reaped itself. A server that exited between two readings drops out; the sides of the
 * benchmark start and stop none.
 */
function descendantTicks(): number {
  const stats = readdirSafe('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => procStat(`/proc/${name}/stat`))
    .filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let ticks = reapedTicks();
  const stack = [...(children.get(process.pid) ?? [])];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    ticks += next.ticks;
    stack.push(...(children.get(next.pid) ?? []));
  }
  return ticks;
}

/** cutime + cstime of this process: the children it started and reaped (chpasswd never, here). */
function reapedTicks(): number {
  const fields = statFields(readText('/proc/self/stat'));
  return Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
}

function procStat(file: string): ProcStat | undefined {
  const text = readText(file);
  if (text === '') return undefined;
  const fields = statFields(text);
  const pid = Number(text.slice(0, text.indexOf(' ')));
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((i) => Number(fields[i]));
  return {
    pid,
    ppid: ppid ?? 0,
    ticks: (utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0),
  };
}

/** The fields after the command name, which may hold spaces: field 0 is the state. */
function statFields(text: string): string[] {
  return text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // gone meanwhile, or no /proc
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
