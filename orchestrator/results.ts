/**
 * Result files: every file is written to a temporary name and renamed into place, so a reader never
 * sees a half-written file, whatever happens to the process. A write that fails (disk full, a
 * read-only file system, the folder removed) removes its temporary file and throws a DiskError that
 * names the file and the cause in words.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { JsonText } from './jsonText.ts';

const CAUSES: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or folder (was the run folder removed?)',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'is a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EFBIG: 'file too large',
  ENAMETOOLONG: 'file name too long',
};

/** A file that could not be written: which one, and why in words (`code` is the system's, e.g. ENOSPC). */
export class DiskError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot write ${path}: ${reason}${code && CAUSES[code] ? ` (${code})` : ''}`, options);
    this.name = 'DiskError';
  }

  static from(path: string, e: unknown): DiskError {
    if (e instanceof DiskError) return e;
    const code = (e as NodeJS.ErrnoException)?.code;
    const reason = (code && CAUSES[code]) || (e as Error)?.message || String(e);
    return new DiskError(path, code, reason, { cause: e });
  }
}

/** true for the errors that an overwrite of blocks already allocated gets past */
function outOfSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Text written in pieces: each piece handed to `write` in turn (see `writeAtomic`). */
export type Pieces = (write: (text: string) => void) => void;

/** Writes `data` (a string, or text made in pieces) to `path` atomically: to a temporary file, synced, renamed into place. */
export function writeAtomic(path: string, data: string | Pieces): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    if (typeof data === 'string') writeFileSync(tmp, data);
    else writePieces(tmp, data);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* nothing was created (a read-only file system, a removed folder) */
    }
    throw DiskError.from(path, e);
  }
}

/** pieces are gathered into writes of this many bytes */
const WRITE_BYTES = 1 << 16;

/**
 * A new file of the pieces' text, written 64 KB at a time: never the whole text in memory. Each
 * piece is copied into one buffer as it comes, so it is garbage at once: pieces kept until a write
 * (as a string being built) outlived the young generation, and writing a 60 MB summary that way took
 * the orchestrator's peak up by some 70 MB.
 */
function writePieces(path: string, pieces: Pieces): void {
  const fd = openSync(path, 'w');
  try {
    const buf = Buffer.allocUnsafe(WRITE_BYTES);
    let at = 0;
    const flush = () => {
      for (let off = 0; off < at; ) off += writeSync(fd, buf, off, at - off);
      at = 0;
    };
    pieces((text) => {
      // a UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4)
      if (text.length * 3 > WRITE_BYTES - at) {
        flush();
        if (text.length * 3 > WRITE_BYTES) return void writeSync(fd, text);
      }
      at += buf.write(text, at);
    });
    flush();
  } finally {
    closeSync(fd);
  }
}

/** `value` as JSON.stringify(value, null, 2) and a newline, written in pieces (see jsonText.ts). */
export function jsonPieces(value: unknown): Pieces {
  return (write) => {
    if (!new JsonText(write).write(value)) throw new TypeError(`${typeof value} has no JSON form`);
    write('\n');
  };
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeAtomic(path, jsonPieces(value));
}

/** the fields a summary keeps when the disk has room for nothing more */
const SUMMARY_CORE = ['schemaVersion', 'status', 'runId', 'scenario', 'mechanism', 'seed', 'error', 'startedAt', 'finishedAt', 'host'];

/**
 * Write a run's summary.json. On a full disk, where the atomic write (a new file) cannot get a block,
 * the summary already there is overwritten in place, within the blocks it already has: the whole
 * summary if it fits, else its core fields (status, error, …) with `truncated` saying why. Not atomic,
 * but a failing run's summary must not stay `running`. Returns how it was written; throws the
 * DiskError of the atomic write if nothing could be.
 */
export function writeSummary(path: string, summary: Record<string, unknown>): 'atomic' | 'in-place' | 'core' {
  try {
    writeAtomic(path, jsonPieces(summary));
    return 'atomic';
  } catch (e) {
    if (!outOfSpace((e as DiskError).cause) || !existsSync(path)) throw e;
    const full = JSON.stringify(summary, null, 2) + '\n';
    const core: Record<string, unknown> = {};
    for (const k of SUMMARY_CORE) if (k in summary) core[k] = summary[k];
    core.truncated = `the disk was full: only these fields of the summary could be written (${(e as Error).message})`;
    if (overwriteWithin(path, full)) return 'in-place';
    if (overwriteWithin(path, JSON.stringify(core) + '\n')) return 'core';
    throw e;
  }
}

/** Overwrite the file with `data` if it fits in the blocks the file already has; false if it does not, or the write failed. */
function overwriteWithin(path: string, data: string): boolean {
  const bytes = Buffer.from(data);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r+');
    const st = fstatSync(fd);
    if (bytes.byteLength > st.blocks * 512) return false;
    for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off, off);
    ftruncateSync(fd, bytes.byteLength);
    fsyncSync(fd);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* nothing more to do with it */
  }
}

type Cell = number | string | boolean | null | undefined;

/** CSV with the union of the rows' columns (first-seen order), RFC 4180 quoting. */
export function toCsv(rows: Record<string, Cell>[], leading: string[] = []): string {
  const cols: string[] = [...leading];
  const seen = new Set(cols);
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), cols.push(k));
  const esc = (v: Cell) => {
    if (v === undefined || v === null) return '';
    const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}

export function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function latencyStats(xs: number[]): { p50: number; p95: number; max: number; mean: number; count: number } {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50: r(quantile(xs, 0.5)),
    p95: r(quantile(xs, 0.95)),
    max: r(xs.reduce((m, x) => (x > m ? x : m), xs.length ? -Infinity : 0)), // no spread: 100,000 rounds overflow the call stack
    mean: r(xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0),
    count: xs.length,
  };
}

/** Scalar fields of an object, for a flat per-slot CSV row. */
export function scalars(prefix: string, o: Record<string, unknown> | undefined): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) {
    if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[`${prefix}${k}`] = v;
  }
  return out;
}
