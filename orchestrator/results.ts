/**
 * Result files: every file is written to a temporary name and renamed into place, so a reader never
 * sees a half-written file, whatever happens to the process.
 */
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeAtomic(path, JSON.stringify(value, null, 2) + '\n');
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
