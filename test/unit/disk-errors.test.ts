/**
 * Disk errors with real failures: a small tmpfs filled up or remounted read-only (needs root; those
 * tests are skipped otherwise), /dev/full, a removed folder. Result files never leave a `*.tmp-*`
 * and fail with a message naming the file and the cause; the log files never throw or emit an
 * unhandled error, remember the first error and report it once.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskError, writeAtomic, writeJsonAtomic, writeSummary } from '../../orchestrator/results.ts';
import { FileSink, openRunLogs } from '../../orchestrator/runLogs.ts';

/** a tmpfs of `size` mounted on a fresh folder, or undefined where mounting is not permitted */
function mountTmpfs(size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

const mounted: string[] = [];
function tmpfs(size = '256k'): string {
  const d = mountTmpfs(size)!;
  mounted.push(d);
  return d;
}
const canMount = (() => {
  const d = mountTmpfs('64k');
  if (!d) return false;
  execFileSync('umount', [d]);
  rmSync(d, { recursive: true, force: true });
  return true;
})();

/** fill the file system under `dir` to the last byte */
function fill(dir: string): void {
  const chunk = Buffer.alloc(64 * 1024, 120);
  let i = 0;
  for (;;) {
    try {
      writeFileSync(join(dir, `fill-${i++}`), chunk);
    } catch {
      break;
    }
  }
  // the last partial blocks
  for (const n of [4096, 512, 1]) {
    try {
      for (;;) writeFileSync(join(dir, `fill-${i++}`), Buffer.alloc(n));
    } catch {
      /* full at this size */
    }
  }
}

const tmpLeft = (dir: string) => readdirSync(dir).filter((f) => f.includes('.tmp-'));

afterEach(() => {
  for (const d of mounted.splice(0)) {
    try {
      execFileSync('umount', [d], { stdio: 'pipe' });
      rmSync(d, { recursive: true, force: true });
    } catch {
      /* already gone */
    }
  }
});

describe('result files on a failing disk', () => {
  it.skipIf(!canMount)('a full disk: a clear error naming the file, no *.tmp-* left', () => {
    const dir = tmpfs();
    writeJsonAtomic(join(dir, 'summary.json'), { status: 'running' });
    fill(dir);
    let err: unknown;
    try {
      writeAtomic(join(dir, 'trajectory.csv'), 'x'.repeat(100_000));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DiskError);
    expect((err as DiskError).message).toBe(`cannot write ${join(dir, 'trajectory.csv')}: disk full (ENOSPC)`);
    expect((err as DiskError).code).toBe('ENOSPC');
    expect(tmpLeft(dir)).toEqual([]);
    expect(existsSync(join(dir, 'trajectory.csv'))).toBe(false);
  });

  it.skipIf(!canMount)('a full disk: the summary is still marked failed, in place (whole, or its core fields)', () => {
    const dir = tmpfs();
    const path = join(dir, 'summary.json');
    writeJsonAtomic(path, { status: 'running', runId: 'r1', scenario: 'stackelberg', startedAt: 'then' });
    fill(dir);
    const small = writeSummary(path, { status: 'failed', runId: 'r1', error: 'cannot write …: disk full', finishedAt: 'now' });
    expect(small).toBe('in-place');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ status: 'failed', runId: 'r1', error: 'cannot write …: disk full' });
    const big = writeSummary(path, { status: 'failed', runId: 'r1', error: 'disk full', perSlot: Array.from({ length: 2000 }, (_, i) => ({ slot: i, ok: true })) });
    expect(big).toBe('core');
    const s = JSON.parse(readFileSync(path, 'utf8'));
    expect(s).toMatchObject({ status: 'failed', runId: 'r1', error: 'disk full' });
    expect(s.truncated).toMatch(/disk was full/);
    expect(s.perSlot).toBeUndefined();
    expect(tmpLeft(dir)).toEqual([]);
  });

  it.skipIf(!canMount)('a read-only file system: a clear error, no *.tmp-*, the summary on a writable disk written atomically', () => {
    const dir = tmpfs();
    writeJsonAtomic(join(dir, 'summary.json'), { status: 'running' });
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    expect(() => writeJsonAtomic(join(dir, 'summary.json'), { status: 'failed' })).toThrow(`cannot write ${join(dir, 'summary.json')}: read-only file system (EROFS)`);
    expect(() => writeSummary(join(dir, 'summary.json'), { status: 'failed' })).toThrow(/read-only file system/);
    expect(tmpLeft(dir)).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).status).toBe('running');
    const ok = mkdtempSync(join(tmpdir(), 'mecsim-ok-'));
    expect(writeSummary(join(ok, 'summary.json'), { status: 'failed' })).toBe('atomic');
    rmSync(ok, { recursive: true });
  });

  it('a folder that is a file: a clear error, nothing left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
    writeFileSync(join(dir, 'runs'), 'not a folder');
    expect(() => writeAtomic(join(dir, 'runs', 'summary.json'), '{}')).toThrow(new RegExp(`cannot write ${join(dir, 'runs', 'summary.json')}: .*(not a folder|ENOTDIR|EEXIST)`));
    expect(tmpLeft(dir)).toEqual([]);
    rmSync(dir, { recursive: true });
  });

  it('a write error after the temporary file exists removes it (a folder where the file should be)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
    mkdirSync(join(dir, 'summary.json'));
    writeFileSync(join(dir, 'summary.json', 'x'), 'keeps the folder non-empty');
    expect(() => writeAtomic(join(dir, 'summary.json'), '{}')).toThrow(/cannot write .*summary\.json: /);
    expect(tmpLeft(dir)).toEqual([]);
    rmSync(dir, { recursive: true });
  });
});

describe('run logs on a failing disk', () => {
  /** fails the test if anything reaches the process as an uncaught error */
  function watchUncaught() {
    const seen: unknown[] = [];
    const on = (e: unknown) => seen.push(e);
    process.on('uncaughtException', on);
    process.on('unhandledRejection', on);
    return {
      seen,
      stop: () => {
        process.off('uncaughtException', on);
        process.off('unhandledRejection', on);
      },
    };
  }

  it('/dev/full: a write error is kept, reported once, and later writes are dropped', () => {
    const reports: DiskError[] = [];
    const sink = new FileSink('/dev/full', (e) => reports.push(e));
    expect(sink.write('one\n')).toBe(true);
    expect(sink.write(Buffer.from('two\n'))).toBe(true);
    expect(reports.length).toBe(1);
    expect(reports[0].message).toBe('cannot write /dev/full: disk full (ENOSPC)');
    expect(sink.failed()).toBe(reports[0]);
    expect(sink.dropped).toBe(1);
    sink.close();
  });

  it.skipIf(!canMount)('a disk that fills up mid-run: logging goes on without a throw or an unhandled error; failed() says disk full, once', async () => {
    const dir = tmpfs('128k');
    const reports: DiskError[] = [];
    const watch = watchUncaught();
    const logs = openRunLogs(join(dir, 'r1'), { runId: 'r1', onError: (e) => reports.push(e) });
    logs.log.info({ slot: 0 }, 'started');
    logs.agentLog.write(Buffer.from('agent says hello\n'));
    expect(logs.failed()).toBeUndefined();
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 300; i++) {
      logs.log.info({ i, line }, 'a long line');
      logs.agentLog.write(Buffer.from(`${line}\n`));
    }
    await new Promise((r) => setTimeout(r, 50));
    watch.stop();
    expect(watch.seen).toEqual([]);
    expect(reports.length).toBe(1);
    expect(reports[0].code).toBe('ENOSPC');
    expect(logs.failed()?.message).toMatch(/^cannot write .*\/r1\/(run|agents)\.log: disk full \(ENOSPC\)$/);
    logs.close();
    logs.close();
  });

  it.skipIf(!canMount)('logs opened on a read-only file system: no throw; failed() says read-only', () => {
    const dir = tmpfs('64k');
    mkdirSync(join(dir, 'r1'));
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const reports: DiskError[] = [];
    const logs = openRunLogs(join(dir, 'r1'), { runId: 'r1', onError: (e) => reports.push(e) });
    logs.log.info('nothing lands');
    logs.agentLog.write('nor this\n');
    expect(reports.length).toBe(1);
    expect(logs.failed()?.message).toBe(`cannot write ${join(dir, 'r1', 'run.log')}: read-only file system (EROFS)`);
    logs.close();
  });

  it('the run folder removed mid-run: failed() says the file was deleted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
    const reports: DiskError[] = [];
    const logs = openRunLogs(join(dir, 'r1'), { runId: 'r1', onError: (e) => reports.push(e) });
    logs.log.info('started');
    expect(logs.failed()).toBeUndefined();
    rmSync(join(dir, 'r1'), { recursive: true });
    logs.log.info('still writing to an unlinked file');
    expect(logs.failed()?.message).toMatch(/r1\/run\.log: no such file or folder \(was the run folder removed\?\) \(ENOENT\)/);
    expect(reports.length).toBe(1);
    logs.close();
    rmSync(dir, { recursive: true });
  });

  it('a folder that cannot be created: no throw; failed() names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
    writeFileSync(join(dir, 'runs'), 'a file');
    const reports: DiskError[] = [];
    const logs = openRunLogs(join(dir, 'runs', 'r1'), { runId: 'r1', onError: (e) => reports.push(e) });
    logs.log.info('nowhere');
    expect(logs.failed()?.message).toMatch(/runs\/r1\/run\.log: /);
    expect(reports.length).toBe(1);
    logs.close();
    rmSync(dir, { recursive: true });
  });

  it('a healthy run: both files get their lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-disk-'));
    const logs = openRunLogs(dir, { runId: 'r1' });
    logs.log.info({ slot: 1 }, 'hello');
    logs.agentLog.write(Buffer.from('agent line\n'));
    logs.close();
    expect(JSON.parse(readFileSync(join(dir, 'run.log'), 'utf8'))).toMatchObject({ run: 'r1', slot: 1, msg: 'hello' });
    expect(readFileSync(join(dir, 'agents.log'), 'utf8')).toBe('agent line\n');
    expect(logs.failed()).toBeUndefined();
    rmSync(dir, { recursive: true });
  });
});
