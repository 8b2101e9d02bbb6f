/**
 * The run folder's lock, `run.lock`: which orchestrator is writing the folder (its pid, host, boot
 * and process start time). It is written when a run starts and removed when the run ends, however
 * it ends that lets code run. An orchestrator killed outright (SIGKILL, the OOM killer, a power cut)
 * leaves `summary.json` at `running` with a lock naming a process that is gone: `runStatus` calls
 * that run `abandoned`, `mecsim report` shows it so, and the next run into the folder marks it so on
 * disk. A lock from another host cannot be checked from here: such a run stays `running`.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from './results.ts';

export const LOCK_FILE = 'run.lock';

export interface LockInfo {
  pid: number;
  host: string;
  /** when the run started (ISO time) */
  startedAt: string;
  /** Linux: the boot the process belongs to and its start time in clock ticks since boot, so a pid used again later by another process is told apart */
  bootId?: string;
  procStart?: string;
}

/** A run folder that a live orchestrator is still writing. */
export class RunFolderBusy extends Error {}

export type Liveness = 'alive' | 'gone' | 'unknown';

/** What is known of a run folder: its summary's status, `abandoned` for a `running` one whose orchestrator is gone. */
export interface RunStatus {
  status: string;
  lock?: LockInfo;
  /** why a run is called abandoned, or why a `running` one cannot be checked */
  note?: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id')?.trim();
}

/** field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces) and the state, field 3 */
function procStat(pid: number): { state: string; start: string } | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], start: f[19] };
}

/** This process as a lock holder. */
export function ownLockInfo(startedAt = new Date().toISOString()): LockInfo {
  return { pid: process.pid, host: hostname(), startedAt, bootId: bootId(), procStart: procStat(process.pid)?.start };
}

export function readLock(dir: string): LockInfo | undefined {
  const text = readText(join(dir, LOCK_FILE));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as LockInfo;
    return Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.host === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process a lock names still runs: `unknown` when it is on another host. */
export function holderLiveness(lock: LockInfo): Liveness {
  if (lock.host !== hostname()) return 'unknown';
  const boot = bootId();
  if (lock.bootId && boot && lock.bootId !== boot) return 'gone';
  try {
    process.kill(lock.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const stat = procStat(lock.pid);
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return 'gone';
  if (stat && lock.procStart && stat.start !== lock.procStart) return 'gone';
  return 'alive';
}

function readSummary(dir: string): Record<string, unknown> | undefined {
  const text = readText(join(dir, 'summary.json'));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function describe(lock: LockInfo): string {
  return `pid ${lock.pid} on ${lock.host}, started ${lock.startedAt}`;
}

/** The status of a run folder, with `abandoned` for a `running` summary whose orchestrator is gone. */
export function runStatus(dir: string): RunStatus {
  const summary = readSummary(dir);
  const status = typeof summary?.status === 'string' ? summary.status : 'unknown';
  if (status !== 'running') return { status };
  const lock = readLock(dir);
  if (!lock) return { status, note: 'no run.lock: whether its orchestrator still runs cannot be told' };
  const live = holderLiveness(lock);
  if (live === 'gone') return { status: 'abandoned', lock, note: `its orchestrator (${describe(lock)}) is gone and the run never finished` };
  if (live === 'unknown') return { status, lock, note: `its orchestrator runs on another host (${describe(lock)}): not checked from here` };
  return { status, lock };
}

/**
 * Record on disk that a run was abandoned: summary.json gets status `abandoned` (the note and when
 * it was found) and the stale lock goes. Returns the status found; only an abandoned run is changed.
 */
export function markAbandoned(dir: string): RunStatus {
  const st = runStatus(dir);
  if (st.status !== 'abandoned') return st;
  const summary = readSummary(dir)!;
  writeJsonAtomic(join(dir, 'summary.json'), { ...summary, status: 'abandoned', error: st.note, abandonedFoundAt: new Date().toISOString() });
  removeLock(dir, st.lock);
  return st;
}

/** Every abandoned run among the folders of `outDir` (e.g. runs/), marked so on disk; their folder names. */
export function markAbandonedIn(outDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(outDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const name of names) {
    const dir = join(outDir, name);
    if (!existsSync(join(dir, LOCK_FILE))) continue;
    try {
      if (markAbandoned(dir).status === 'abandoned') found.push(name);
    } catch {
      /* a folder that cannot be rewritten is left as it is */
    }
  }
  return found;
}

/** Remove `dir`'s lock if it is still the one described by `expected` (another run may have taken the folder since). */
function removeLock(dir: string, expected?: LockInfo): void {
  const now = readLock(dir);
  if (expected && now && (now.pid !== expected.pid || now.host !== expected.host || now.startedAt !== expected.startedAt)) return;
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    /* already gone */
  }
}

/**
 * The lock of a run this process is writing. `claim` takes the folder: refused (RunFolderBusy) while
 * a live orchestrator holds it; a lock left by a dead one is taken over and its run marked abandoned
 * (`previous`). `release` at the run's end, whatever status it wrote.
 */
export class RunLock {
  private released = false;

  private constructor(
    readonly dir: string,
    readonly info: LockInfo,
    /** the run found in the folder when it was claimed, if its orchestrator had died */
    readonly previous?: RunStatus,
  ) {}

  static claim(dir: string, startedAt?: string): RunLock {
    const info = ownLockInfo(startedAt);
    const path = join(dir, LOCK_FILE);
    let previous: RunStatus | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(path, JSON.stringify(info) + '\n', { flag: 'wx' });
        return new RunLock(dir, info, previous);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
      }
      const held = readLock(dir);
      const live = held ? holderLiveness(held) : 'gone';
      if (held && held.pid === process.pid && held.host === info.host) throw new RunFolderBusy(`${dir} is already being written by this process`);
      if (live !== 'gone') throw new RunFolderBusy(`${dir} is in use by another run (${held ? describe(held) : 'unknown holder'}${live === 'unknown' ? '; on another host, so it cannot be checked: remove its run.lock if that run is over' : ''})`);
      const st = markAbandoned(dir);
      if (st.status === 'abandoned') previous = st;
      removeLock(dir, held);
    }
  }

  /** remove the lock (once; a lock that another run has taken since is left alone) */
  release(): void {
    if (this.released) return;
    this.released = true;
    removeLock(this.dir, this.info);
  }
}
