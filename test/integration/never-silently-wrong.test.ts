/**
 * A run never says it is right when it is not, over real nats-server and agent processes:
 *   - a second run with a run id already in use on the server is refused before any agent starts;
 *   - a frozen follower (SIGSTOP) makes replies miss their round deadline: the run says so in its
 *     summary (`faults`), and with `strict` it fails at the end of that slot;
 *   - a disk that fills up mid-run, or a run folder removed mid-run, ends the run with a clear
 *     message; where a summary can still be written it says `failed`; no `*.tmp-*` file is left.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printHuman } from '../../orchestrator/cli.ts';
import { getScenario } from '../../scenarios/index.ts';
import { RunError, type RunOptions } from '../../orchestrator/run.ts';
import { outDir, processesOf, resolveCfg, runDistributed } from '../helpers/run.ts';

/**
 * Options that run `fn` once, `delayMs` after the orchestrator announces slot `slot`. With no delay it
 * runs at once, before the slot is asked of the leader: a short slot could otherwise end first.
 */
function atSlot(slot: number, delayMs: number, fn: () => void): Partial<RunOptions> {
  let fired = false;
  return {
    onProgress: (p) => {
      if (p.phase !== 'slot' || p.slot !== slot || p.line !== undefined || fired) return;
      fired = true;
      if (delayMs > 0) setTimeout(fn, delayMs);
      else fn();
    },
  };
}

describe('one orchestrator per run id', () => {
  it('a second run with a run id in use on the server is refused before any agent starts; the first is unaffected', async () => {
    const runId = `dup-${Date.now()}`;
    const cfg = resolveCfg('ping', { users: 3, seed: 2, slots: 3, options: { rounds: 40 } });
    let second: unknown;
    const spawnedBySecond: string[] = [];
    const first = runDistributed('ping', cfg, 'packed:3', {
      runId,
      ...atSlot(1, 0, () => {
        second = runDistributed('ping', cfg, 'packed:3', { runId, outDir: join(outDir, 'second'), onSpawn: (w) => spawnedBySecond.push(w.id) }).catch((e) => e);
      }),
    });
    const a = await first;
    const err = (await second) as RunError;
    expect(err).toBeInstanceOf(RunError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/already in use/);
    expect(err.message).toContain('--run-id');
    expect(spawnedBySecond).toEqual([]);
    expect(a.status).toBe('complete');
    expect(a.ok).toBe(true);
    expect(a.runMetrics.drops).toEqual({});
  });
});

describe('replies missing at a round deadline', () => {
  const cfg = resolveCfg('ping', { users: 4, seed: 5, slots: 3, options: { rounds: 2 } });
  /** freeze (SIGSTOP) the process hosting ue-1 once slot 1 is asked for; it is killed at the run's end */
  const freeze = () => {
    const pids = new Map<string, number>();
    return {
      onSpawn: (w: { pid: number; agents: string[] }) => w.agents.forEach((a) => pids.set(a, w.pid)),
      ...atSlot(1, 0, () => process.kill(pids.get('ue-1')!, 'SIGSTOP')),
    };
  };

  it('are counted in the summary (faults, per slot), and the run is not called clean', async () => {
    const s = await runDistributed('ping', cfg, 'process', { roundTimeoutMs: 1500, ...freeze() });
    expect(s.status).toBe('complete');
    expect(s.runMetrics.missingReplies).toBeGreaterThan(0);
    expect(s.faults.missingReplies).toBe(s.runMetrics.missingReplies);
    expect(s.faults.clean).toBe(false);
    expect(s.perSlot[0].metrics.missingReplies).toBe(0);
    expect(s.perSlot[1].metrics.missingReplies).toBeGreaterThan(0);
    expect(processesOf(s.runId)).toEqual([]);
    // the console says so, beside "equals (or differs from) the reference"
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => lines.push(String(chunk)) > 0) as unknown as typeof process.stdout.write;
    try {
      printHuman(s, getScenario('ping')!);
    } finally {
      process.stdout.write = write;
    }
    const text = lines.join('');
    // whatever it was compared with (ping: the same rounds summed centrally), equal or not
    expect(text).toMatch(/distributed run (equals|differs from) [^\n]*, with \d+ repl(y|ies) missing at round deadlines/);
    expect(text).toMatch(new RegExp(`slot 1: .*\\(${s.perSlot[1].metrics.missingReplies} repl(y|ies) missing\\)`));
    expect(text).not.toMatch(/slot 0: .*missing/);
  });

  it('with strict, fail the run at the end of the slot, naming the count', async () => {
    const err = (await runDistributed('ping', cfg, 'process', { roundTimeoutMs: 1500, strict: true, ...freeze() }).catch((e) => e)) as RunError & { runDir: string };
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toMatch(/--strict: slot 1 had \d+ repl(y|ies) missing/);
    const summary = JSON.parse(readFileSync(join(err.runDir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.strict).toBe(true);
    // slot 0 clean, slot 1 recorded with its missing replies, and nothing after it
    expect(summary.perSlot.map((r: any) => r.metrics.missingReplies > 0)).toEqual([false, true]);
  });

  it('an undisturbed run is clean', async () => {
    const s = await runDistributed('ping', cfg, 'packed:2');
    expect(s.faults).toEqual({ missingReplies: 0, resent: 0, restarts: 0, drops: 0, clean: true });
  });
});

/** A small tmpfs of our own (root only); undefined where mounting is not allowed. */
function smallDisk(kib: number): string | undefined {
  const dir = join(tmpdir(), `mecsim-disk-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function unmount(dir: string | undefined): void {
  if (!dir) return;
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* already gone */
  }
}

/** whether this process may mount a tmpfs (asked once, with a mount that is undone at once) */
function canMount(): boolean {
  const probe = smallDisk(64);
  unmount(probe);
  return probe !== undefined;
}

function tmpFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.tmp-'));
}

describe('disk errors mid-run', () => {
  // mounted only when a test here runs (a filtered run skips the hooks too, and must leave no mount)
  const mountable = canMount();
  let disk: string | undefined;
  beforeAll(() => {
    if (mountable) disk = smallDisk(1024);
  });
  afterAll(() => unmount(disk));
  const cfg = resolveCfg('ping', { users: 3, seed: 1, slots: 4, options: { rounds: 20 } });

  it.skipIf(!mountable)('a disk that fills up ends the run with "disk full"; summary.json says failed; no *.tmp-* left', async () => {
    const out = join(disk!, 'runs');
    const fill = () => {
      // fill every free block: the run's next log line or file cannot be written
      try {
        writeFileSync(join(disk!, 'filler'), Buffer.alloc(4 * 1024 * 1024));
      } catch {
        /* ENOSPC: the disk is full, as wanted */
      }
    };
    const err = (await runDistributed('ping', cfg, 'packed:3', { outDir: out, ...atSlot(1, 0, fill) }).catch((e) => e)) as RunError & { runDir: string; summaryWritten: boolean };
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toMatch(/disk full/);
    expect(err.summaryWritten).toBe(true);
    const summary = JSON.parse(readFileSync(join(err.runDir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/disk full/);
    expect(tmpFiles(out)).toEqual([]);
    expect(processesOf(summary.runId)).toEqual([]);
  });

  it('a run folder removed mid-run ends the run with a clear message, and no process is left', async () => {
    const runId = `rm-${Date.now()}`;
    const err = (await runDistributed('ping', cfg, 'packed:3', {
      runId,
      ...atSlot(1, 0, () => rmSync(join(outDir, runId), { recursive: true, force: true })),
    }).catch((e) => e)) as RunError & { runDir: string };
    expect(err).toBeInstanceOf(RunError);
    expect(err.message).toMatch(/cannot write .*(deleted|no such file)/);
    expect(processesOf(err.runDir.split('/').pop()!)).toEqual([]);
  });
});
