/** The run folder's lock (orchestrator/runLock.ts) and the `abandoned` status it makes visible. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holderLiveness, LOCK_FILE, markAbandoned, markAbandonedIn, ownLockInfo, readLock, RunFolderBusy, RunLock, runStatus, type LockInfo } from '../../orchestrator/runLock.ts';
import { statusLine } from '../../orchestrator/report.ts';

const root = mkdtempSync(join(tmpdir(), 'mecsim-lock-'));
let n = 0;
function runDir(status?: string): string {
  const dir = join(root, `run-${n++}`);
  mkdirSync(dir);
  if (status) writeFileSync(join(dir, 'summary.json'), JSON.stringify({ status, runId: `run-${n}` }));
  return dir;
}
const writeLock = (dir: string, lock: LockInfo) => writeFileSync(join(dir, LOCK_FILE), JSON.stringify(lock));
const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

/** the pid of a process that has exited (and been reaped) */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => c.once('exit', r));
  return c.pid!;
}

const sleepers: ReturnType<typeof spawn>[] = [];
afterAll(() => sleepers.forEach((c) => c.kill('SIGKILL')));

describe('RunLock', () => {
  it('claim writes run.lock with pid, host and start time; release removes it', () => {
    const dir = runDir();
    const lock = RunLock.claim(dir, '2026-12-02T06:00:00.000Z');
    const onDisk = readLock(dir)!;
    expect(onDisk.pid).toBe(process.pid);
    expect(onDisk.host).toBe(hostname());
    expect(onDisk.startedAt).toBe('2026-12-02T06:00:00.000Z');
    expect(holderLiveness(onDisk)).toBe('alive');
    expect(lock.previous).toBeUndefined();
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lock.release(); // twice is harmless
  });

  it('a folder held by a live orchestrator is refused; one on another host too, with a hint', async () => {
    const dir = runDir('running');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    sleepers.push(sleeper);
    writeLock(dir, { ...ownLockInfo(), pid: sleeper.pid!, procStart: undefined });
    expect(() => RunLock.claim(dir)).toThrow(RunFolderBusy);
    expect(() => RunLock.claim(dir)).toThrow(new RegExp(`pid ${sleeper.pid}`));
    expect(runStatus(dir).status).toBe('running');
    const other = runDir('running');
    writeLock(other, { pid: 12345, host: 'elsewhere', startedAt: 'x' });
    expect(() => RunLock.claim(other)).toThrow(/another host/);
    // this process's own lock: a second claim in the same process is refused as well
    const own = runDir();
    const lock = RunLock.claim(own);
    expect(() => RunLock.claim(own)).toThrow(RunFolderBusy);
    lock.release();
  });

  it('a lock left by a dead orchestrator is taken over and its running run marked abandoned', async () => {
    const dir = runDir('running');
    const pid = await deadPid();
    writeLock(dir, { ...ownLockInfo('2026-12-01T00:00:00.000Z'), pid, procStart: undefined });
    const lock = RunLock.claim(dir);
    expect(lock.previous?.status).toBe('abandoned');
    expect(lock.previous?.note).toMatch(new RegExp(`pid ${pid} on ${hostname()}`));
    expect(summaryOf(dir).status).toBe('abandoned');
    expect(summaryOf(dir).error).toMatch(/is gone and the run never finished/);
    expect(readLock(dir)!.pid).toBe(process.pid);
    lock.release();
  });

  it('a stale lock beside a finished summary is replaced without touching the summary', async () => {
    const dir = runDir('complete');
    writeLock(dir, { ...ownLockInfo(), pid: await deadPid(), procStart: undefined });
    const lock = RunLock.claim(dir);
    expect(lock.previous).toBeUndefined();
    expect(summaryOf(dir).status).toBe('complete');
    lock.release();
  });

  it('release leaves alone a lock another run has taken since', () => {
    const dir = runDir();
    const lock = RunLock.claim(dir);
    writeLock(dir, { pid: 4242, host: 'elsewhere', startedAt: 'later' });
    lock.release();
    expect(readLock(dir)?.host).toBe('elsewhere');
  });
});

describe('runStatus', () => {
  it('running with a live holder stays running; with a dead one it is abandoned; finished runs are what they say', async () => {
    const live = runDir('running');
    writeLock(live, ownLockInfo());
    expect(runStatus(live)).toMatchObject({ status: 'running' });

    const dead = runDir('running');
    const pid = await deadPid();
    writeLock(dead, { ...ownLockInfo(), pid, procStart: undefined });
    expect(runStatus(dead)).toMatchObject({ status: 'abandoned', lock: { pid } });

    const done = runDir('interrupted');
    writeLock(done, { ...ownLockInfo(), pid, procStart: undefined });
    expect(runStatus(done).status).toBe('interrupted');

    expect(runStatus(runDir('running'))).toMatchObject({ status: 'running', note: expect.stringMatching(/no run.lock/) });
    expect(runStatus(runDir()).status).toBe('unknown');
  });

  it('a pid used again by another process, or a lock from an earlier boot, is not the holder', async () => {
    const reused = runDir('running');
    writeLock(reused, { ...ownLockInfo(), procStart: '1' }); // this pid, but a process started at another time
    expect(runStatus(reused).status).toBe(existsSync('/proc/self/stat') ? 'abandoned' : 'running');
    const rebooted = runDir('running');
    writeLock(rebooted, { ...ownLockInfo(), bootId: 'an-earlier-boot' });
    expect(runStatus(rebooted).status).toBe(existsSync('/proc/sys/kernel/random/boot_id') ? 'abandoned' : 'running');
  });

  it('another host cannot be checked: still running, with a note', () => {
    const dir = runDir('running');
    writeLock(dir, { pid: 1, host: 'elsewhere', startedAt: 'x' });
    expect(runStatus(dir)).toMatchObject({ status: 'running', note: expect.stringMatching(/another host/) });
  });

  it('markAbandoned / markAbandonedIn record it on disk and drop the stale lock; live and finished runs are untouched', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-lock-out-'));
    const mk = (name: string, status: string, lock?: LockInfo) => {
      mkdirSync(join(out, name));
      writeFileSync(join(out, name, 'summary.json'), JSON.stringify({ status }));
      if (lock) writeFileSync(join(out, name, LOCK_FILE), JSON.stringify(lock));
    };
    const pid = await deadPid();
    mk('dead', 'running', { ...ownLockInfo(), pid, procStart: undefined });
    mk('live', 'running', ownLockInfo());
    mk('done', 'complete');
    expect(markAbandonedIn(out)).toEqual(['dead']);
    expect(JSON.parse(readFileSync(join(out, 'dead', 'summary.json'), 'utf8'))).toMatchObject({ status: 'abandoned', abandonedFoundAt: expect.any(String) });
    expect(existsSync(join(out, 'dead', LOCK_FILE))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'live', 'summary.json'), 'utf8')).status).toBe('running');
    expect(markAbandoned(join(out, 'done')).status).toBe('complete');
    expect(markAbandonedIn(join(out, 'no-such-folder'))).toEqual([]);
  });

  it("the report's status line says abandoned, with the orchestrator that is gone", async () => {
    const dir = runDir('running');
    const pid = await deadPid();
    writeLock(dir, { ...ownLockInfo(), pid, procStart: undefined });
    expect(statusLine(dir, summaryOf(dir))).toEqual({ status: 'abandoned', line: expect.stringMatching(new RegExp(`^abandoned: its orchestrator \\(pid ${pid} on `)) });
    expect(statusLine(dir, { status: 'failed', error: 'boom' })).toEqual({ status: 'failed', line: 'failed: boom' });
    expect(statusLine(dir, { status: 'complete', ok: true }).line).toMatch(/equals the reference/);
  });
});
