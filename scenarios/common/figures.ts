/**
 * Figures as data: Vega-Lite specs built from a run's files, with no I/O. A scenario's `figures`
 * (scenarios/types.ts) returns these; the report (orchestrator/report.ts) renders them to SVG.
 */
// Vega-Lite specs are plain JSON objects; the library validates them when it compiles.
export type VlSpec = Record<string, unknown>;
export interface Figure {
  id: string;
  title: string;
  caption?: string;
  spec: VlSpec;
}
export type Row = Record<string, number | string | boolean | null>;

export interface RunData {
  dir: string;
  summary: Record<string, any>;
  trajectory: Row[];
  slots: Row[];
  metrics: Record<string, any> | null;
}

/** Every k-th row so a figure holds at most `max` points per series (the last row is kept). */
export function thin<T>(rows: T[], max: number): T[] {
  if (rows.length <= max) return rows;
  const k = Math.ceil(rows.length / max);
  const out = rows.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== rows[rows.length - 1]) out.push(rows[rows.length - 1]);
  return out;
}

export const numericCols = (rows: Row[], exclude: (c: string) => boolean): string[] => {
  const cols: string[] = [];
  const seen = new Set<string>();
  for (const r of rows.slice(0, 200))
    for (const [k, v] of Object.entries(r)) {
      if (seen.has(k)) continue;
      seen.add(k);
      if (!exclude(k) && rows.some((x) => typeof x[k] === 'number')) cols.push(k);
    }
  return cols;
};

/** Vega reads `.` and brackets in a field name as nested access: display names use `·` instead. */
const safe = (c: string) => c.replace(/[.[\]\\]/g, '·');
const pick = (r: Row, x: string, cols: string[], extra?: string) => Object.fromEntries([[safe(x), r[x]], ...(extra ? [[safe(extra), r[extra]]] : []), ...cols.map((c) => [safe(c), r[c]])]);

/** One chart per series, stacked, independent y scales: the usual convergence plot. */
export function seriesFigure(id: string, title: string, rows: Row[], x: string, cols: string[], opts: { xTitle?: string; caption?: string; color?: string; maxPoints?: number } = {}): Figure | undefined {
  if (!rows.length || !cols.length) return undefined;
  const data = thin(rows, opts.maxPoints ?? 3000).map((r) => pick(r, x, cols, opts.color));
  [x, cols] = [safe(x), cols.map(safe)];
  return {
    id,
    title,
    caption: opts.caption,
    spec: {
      data: { values: data },
      transform: [{ fold: cols, as: ['series', 'value'] }, { filter: 'isValid(datum.value)' }],
      facet: { row: { field: 'series', type: 'nominal', title: null, sort: cols } },
      spec: {
        width: 620,
        height: 110,
        mark: { type: 'line', point: data.length <= 60, interpolate: 'linear' },
        encoding: {
          x: { field: x, type: 'quantitative', title: opts.xTitle ?? x },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          ...(opts.color ? { color: { field: safe(opts.color), type: 'nominal' } } : {}),
        },
      },
      resolve: { scale: { y: 'independent' } },
    },
  };
}

/** Several series on one chart (e.g. every user's utility per round). */
export function linesFigure(id: string, title: string, rows: Row[], x: string, cols: string[], opts: { xTitle?: string; yTitle?: string; caption?: string; legend?: boolean; logX?: boolean } = {}): Figure | undefined {
  if (!rows.length || !cols.length) return undefined;
  const data = thin(rows, 2000).map((r) => pick(r, x, cols));
  [x, cols] = [safe(x), cols.map(safe)];
  return {
    id,
    title,
    caption: opts.caption,
    spec: {
      width: 620,
      height: 260,
      data: { values: data },
      transform: [{ fold: cols, as: ['series', 'value'] }, { filter: 'isValid(datum.value)' }],
      mark: { type: 'line', point: data.length <= 40 },
      encoding: {
        x: { field: x, type: 'quantitative', title: opts.xTitle ?? x, ...(opts.logX ? { scale: { type: 'log' } } : {}) },
        y: { field: 'value', type: 'quantitative', title: opts.yTitle ?? null, scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null, sort: cols, legend: opts.legend === false || cols.length > 20 ? null : {} },
      },
    },
  };
}

/** Grouped bars: one bar per (group, series) — for comparing schemes, policies or baselines. */
export function barsFigure(id: string, title: string, rows: { group: string; series: string; value: number }[], opts: { caption?: string; yTitle?: string; independent?: boolean } = {}): Figure | undefined {
  const data = rows.filter((r) => Number.isFinite(r.value));
  if (!data.length) return undefined;
  const series = [...new Set(data.map((r) => r.series))];
  return {
    id,
    title,
    caption: opts.caption,
    spec: {
      data: { values: data },
      facet: { column: { field: 'series', type: 'nominal', title: null, sort: series } },
      spec: {
        width: Math.max(120, Math.min(300, 40 * new Set(data.map((r) => r.group)).size)),
        height: 200,
        mark: 'bar',
        encoding: {
          x: { field: 'group', type: 'nominal', title: null, sort: null },
          y: { field: 'value', type: 'quantitative', title: opts.yTitle ?? null },
          color: { field: 'group', type: 'nominal', legend: null },
          tooltip: [{ field: 'group' }, { field: 'value', format: '.6g' }],
        },
      },
      resolve: { scale: { y: opts.independent === false ? 'shared' : 'independent' } },
    },
  };
}
