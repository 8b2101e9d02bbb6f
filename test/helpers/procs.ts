/**
 * The process table as /proc shows it (Linux): who descends from whom, and whether a process seen
 * earlier is still the same live process (same pid and start time, not a zombie). Used to show that
 * nothing of a run outlives its orchestrator, found by pid rather than by command line alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Proc {
  pid: number;
  ppid: number;
  /** start time in clock ticks since boot: tells a reused pid apart */
  start: string;
  state: string;
  cmd: string[];
}

export function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, ppid: Number(f[1]), state: f[0], start: f[19], cmd };
  } catch {
    return undefined;
  }
}

export function allProcs(): Proc[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is Proc => p !== undefined);
}

/** every process below `root` (children, their children, …) */
export function descendants(root: number, procs = allProcs()): Proc[] {
  const out: Proc[] = [];
  const below = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (below.has(p.ppid) && !below.has(p.pid)) (below.add(p.pid), out.push(p), (grew = true));
  }
  return out;
}

/** the same process still running (a zombie has ended: only its parent has not reaped it) */
export function stillAlive(p: Proc): boolean {
  const now = readProc(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z' && now.state !== 'X';
}

export const isNatsServer = (p: Proc) => /(^|\/)nats-server$/.test(p.cmd[0] ?? '');

/** a private server's folder: where its `-c` config lies */
export function serverDir(p: Proc): string | undefined {
  const i = p.cmd.indexOf('-c');
  return i >= 0 && p.cmd[i + 1] ? dirname(p.cmd[i + 1]) : undefined;
}

/** live processes whose command line mentions the run (agents: `--run <id>`) */
export function processesOfRun(runId: string): Proc[] {
  return allProcs().filter((p) => p.state !== 'Z' && p.cmd.join(' ').includes(`--run ${runId}`));
}

/** the pid a nats-server log names (`[pid] date time [INF] …` on every line) */
export function pidInServerLog(text: string): number | undefined {
  const m = /^\[(\d+)\]/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** poll `check` until it is true or `ms` have passed; returns its last value */
export async function until(check: () => boolean, ms: number, every = 100): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > end) return false;
    await sleep(every);
  }
}
