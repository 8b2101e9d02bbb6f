/**
 * A run's log files (run.log, the orchestrator's pino log; agents.log, what the agent processes write
 * to stderr), written so that a disk error never crashes the run.
 *
 * Why: a file stream that fails (disk full, a read-only remount, an I/O error) emits an 'error' that
 * nobody handles, or throws from inside the logger, and the orchestrator dies with an `ENOSPC` stack
 * trace in the middle of a run, leaving its summary at `running`. Here every write goes through a
 * FileSink that writes synchronously to its own descriptor (as pino.destination({ sync: true }) did
 * for run.log; agents.log is written the same way, so its lines are on disk in order even if the
 * orchestrator is killed) and catches every error: the first one is remembered, reported once
 * (`onError`), and later writes are dropped and counted. The runtime asks `failed()` (at a slot's end,
 * before writing results) and ends the run with that message.
 *
 * A folder removed under a running run gives no write error at all (the open files live on, unlinked),
 * so `failed()` also checks that each file still has a name (fstat's link count).
 */
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { DiskError } from './results.ts';

/** One append-only file that never throws: the first error is kept, everything after it is dropped. */
export class FileSink {
  private fd: number | undefined;
  private error: DiskError | undefined;
  /** writes dropped after the first error */
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly onError: (e: DiskError) => void,
  ) {
    try {
      this.fd = openSync(path, 'a');
    } catch (e) {
      this.fail(e);
    }
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.fd === undefined || this.error) {
      this.dropped++;
      return true;
    }
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    try {
      // writeSync may write part of it (a disk filling up): the rest, or the error, comes next
      for (let off = 0; off < data.byteLength; ) off += writeSync(this.fd, data, off, data.byteLength - off);
    } catch (e) {
      this.fail(e);
    }
    return true;
  }

  /** the first error, or a file that lost its name (its folder removed); undefined while all is well */
  failed(): DiskError | undefined {
    if (this.error || this.fd === undefined) return this.error;
    try {
      if (fstatSync(this.fd).nlink === 0) this.fail(Object.assign(new Error('the file was deleted'), { code: 'ENOENT' }));
    } catch (e) {
      this.fail(e);
    }
    return this.error;
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch (e) {
      this.fail(e);
    }
  }

  /** pino's multistream calls these */
  flushSync(): void {}
  end(): void {}

  private fail(e: unknown): void {
    if (this.error) return;
    this.error = DiskError.from(this.path, e);
    this.onError(this.error);
  }
}

export interface RunLogsOptions {
  runId: string;
  verbose?: boolean;
  /** called once, with the first error of either file (default: one line on stderr) */
  onError?: (e: DiskError) => void;
}

/** run.log and agents.log of one run. Opening never throws: an error opening them is what failed() reports. */
export class RunLogs {
  /** the orchestrator's logger (run.log, and stderr with verbose) */
  readonly log: Logger;
  /** run.log */
  readonly runLog: FileSink;
  /** agents.log: the agent processes' stderr */
  readonly agentLog: FileSink;
  private reported = false;

  constructor(
    dir: string,
    private readonly opts: RunLogsOptions,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      /* opening the files reports it */
    }
    this.runLog = new FileSink(join(dir, 'run.log'), (e) => this.report(e));
    this.agentLog = new FileSink(join(dir, 'agents.log'), (e) => this.report(e));
    const streams: pino.StreamEntry[] = [{ level: 'info', stream: this.runLog }];
    if (opts.verbose) streams.push({ level: 'info', stream: process.stderr });
    this.log = pino({ base: { run: opts.runId } }, pino.multistream(streams));
  }

  /** the first disk error of either file (also a file deleted under the run), or undefined */
  failed(): DiskError | undefined {
    return this.runLog.failed() ?? this.agentLog.failed();
  }

  /** close both files (never throws; an error on close is kept for failed()) */
  close(): void {
    this.runLog.close();
    this.agentLog.close();
  }

  private report(e: DiskError): void {
    if (this.reported) return;
    this.reported = true;
    if (this.opts.onError) this.opts.onError(e);
    else process.stderr.write(`mecsim: ${e.message}\n`);
  }
}

export function openRunLogs(dir: string, opts: RunLogsOptions): RunLogs {
  return new RunLogs(dir, opts);
}
