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
  /** units of config keys and recorded columns (the scenario's `units` over the generic ones); see `unitOf` */
  units?: Record<string, string>;
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

/**
 * Units of the columns every run records, and of the generic axes. A quantity without a physical
 * unit says what it counts (`count`, `rounds`) or that it is a `ratio`/`fraction`, so every axis
 * title ends in a parenthesised unit.
 */
export const GENERIC_UNITS: Record<string, string> = {
  slot: 'index',
  round: 'count',
  step: 'count',
  rounds: 'rounds',
  messages: 'count',
  bytes: 'bytes',
  missing: 'count',
  timeToEquilibriumMs: 'ms',
  latencyMs: 'ms',
  roundP50Ms: 'ms',
  roundP95Ms: 'ms',
  roundMaxMs: 'ms',
  gap: 'ratio',
  users: 'users',
};
/** Units whose values are whole numbers: their axes tick at integers. */
const INTEGER_UNITS = new Set(['count', 'rounds', 'index', 'users', 'servers', 'iterations', 'agents', 'messages', 'slots']);

/**
 * The unit of a column or key: a unit written in its name (`energy (J)`), else the map's entry for the
 * whole key, for the key without its `eq.`/`ref.` prefix and indices (`users[3].r` → `users.r`), or for
 * its last part (`r`); undefined when nobody declared one.
 */
export function unitOf(key: string, units: Record<string, string> = {}): string | undefined {
  const inName = /\(([^()]+)\)\s*$/.exec(key)?.[1];
  if (inName) return inName;
  const all = { ...GENERIC_UNITS, ...units };
  const bare = key.replace(/^(eq|ref)[.·]/, '').replace(/\[\d+\]/g, '').replace(/[.·]\d+(?=[.·]|$)/g, '');
  const last = bare.split(/[.·]/).pop()!;
  return all[key] ?? all[bare] ?? all[last];
}

/** An axis title that always ends in its unit, e.g. `price (money/unit)`; an undeclared unit says so. */
export function axisTitle(name: string, unit: string | undefined): string {
  if (/\([^()]+\)\s*$/.test(name)) return name;
  return `${name} (${unit ?? 'unit not declared'})`;
}

/** Axis options: whole-number quantities tick at integers. */
export const axisFor = (unit: string | undefined) => (unit && INTEGER_UNITS.has(unit) ? { tickMinStep: 1, format: 'd' } : {});

/**
 * One colour per policy, mechanism, scheme or predictor, the same in every figure of every report,
 * so a reader can follow "NE" or "MQO" from one figure to the next. Names not listed get a colour
 * from their hash (stable, though two such names may share one).
 */
const FIXED: Record<string, string> = {
  distributed: '#1f77b4',
  reference: '#ff7f0e',
  NE: '#1f77b4', ES: '#ff7f0e', RS: '#2ca02c', NS: '#d62728', PS: '#9467bd', NoG: '#8c564b',
  MQO: '#1f77b4', ODPC: '#d62728',
  gsrp: '#1f77b4', gurp: '#1f77b4', 'gsrp-search': '#1f77b4', 'gsrp-step': '#17becf', random: '#2ca02c', historical: '#9467bd', fixed: '#8c564b',
  'optimal-pricing': '#1f77b4', 'social-welfare': '#2ca02c', 'no-sharing': '#d62728', 'constant-price': '#9467bd',
  complete: '#1f77b4', incomplete: '#ff7f0e',
  kalman: '#1f77b4', pa: '#ff7f0e',
  budget: '#7f7f7f',
};
const CYCLE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The colour of a series, by its name (or the first word of it: "MQO cost" is MQO's colour). */
export function colourOf(name: string): string {
  const key = FIXED[name] ? name : Object.keys(FIXED).find((k) => name.startsWith(`${k} `) || name.startsWith(`${k}:`));
  if (key) return FIXED[key];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return CYCLE[h % CYCLE.length];
}
/** A Vega-Lite colour scale with each name's colour from `colourOf`. */
export const paletteScale = (names: string[]) => ({ domain: names, range: names.map(colourOf) });

/** Above this many points a series is summarised per bin (mean line, min–max band) instead of drawn point by point. */
export const SUMMARISE_ABOVE = 200;
const BINS = 100;

/** Rows binned along x: per bin the mean x, and per column the mean, min and max (`c`, `c·min`, `c·max`). */
export function binRows(rows: Row[], x: string, cols: string[], bins = BINS): Row[] {
  const k = Math.ceil(rows.length / bins);
  const out: Row[] = [];
  for (let i = 0; i < rows.length; i += k) {
    const chunk = rows.slice(i, i + k);
    const row: Row = { [x]: mean(chunk.map((r) => Number(r[x]))) };
    for (const c of cols) {
      const v = chunk.map((r) => r[c]).filter((y): y is number => typeof y === 'number' && Number.isFinite(y));
      row[c] = v.length ? mean(v) : null;
      row[`${c}·min`] = v.length ? Math.min(...v) : null;
      row[`${c}·max`] = v.length ? Math.max(...v) : null;
    }
    out.push(row);
  }
  return out;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface AxisOpts {
  /** the x axis's name (default: the x column) and unit (default: `unitOf(x)`) */
  xTitle?: string;
  xUnit?: string;
  /** units of the series, by column (default: `unitOf(column, units)`) */
  units?: Record<string, string>;
  caption?: string;
}

const pickAll = (r: Row, cols: string[]) => Object.fromEntries(cols.map((c) => [safe(c), r[c] ?? null]));

/**
 * One panel per series, stacked, each with its own y axis titled with its unit: the usual
 * convergence plot. A long series (more than `SUMMARISE_ABOVE` points) is drawn as its mean per bin
 * with a min–max band, and the caption says so.
 */
export function seriesFigure(id: string, title: string, rows: Row[], x: string, cols: string[], opts: AxisOpts & { color?: string; maxPoints?: number } = {}): Figure | undefined {
  cols = cols.filter((c) => rows.some((r) => typeof r[c] === 'number' && Number.isFinite(r[c] as number)));
  if (!rows.length || !cols.length) return undefined;
  const long = rows.length > SUMMARISE_ABOVE;
  const src = long ? binRows(rows, x, cols) : rows;
  const extra = long ? cols.flatMap((c) => [`${c}·min`, `${c}·max`]) : opts.color ? [opts.color] : [];
  const data = src.map((r) => pickAll(r, [x, ...cols, ...extra]));
  const xUnit = opts.xUnit ?? unitOf(x, opts.units);
  const xEnc = { field: safe(x), type: 'quantitative', title: axisTitle(opts.xTitle ?? x, xUnit), axis: axisFor(xUnit) };
  const panel = (c: string) => {
    const unit = unitOf(c, opts.units);
    const y = { field: safe(c), type: 'quantitative', title: axisTitle(c, unit), scale: { zero: false }, axis: axisFor(unit) };
    const line = { mark: { type: 'line', point: !long && data.length <= 60, color: colourOf(c) }, encoding: { x: xEnc, y, ...(opts.color && !long ? { color: { field: safe(opts.color), type: 'nominal' } } : {}) } };
    return {
      width: 620,
      height: 110,
      layer: long ? [{ mark: { type: 'area', opacity: 0.25, color: colourOf(c) }, encoding: { x: xEnc, y: { ...y, field: `${safe(c)}·min` }, y2: { field: `${safe(c)}·max` } } }, line] : [line],
    };
  };
  const note = long ? ` Each of the ${rows.length} points is summarised: the line is the mean over bins of ${Math.ceil(rows.length / BINS)} consecutive points, the band their min–max.` : '';
  return { id, title, caption: `${opts.caption ?? ''}${note}`.trim() || undefined, spec: { data: { values: data }, vconcat: cols.map(panel) } };
}

/** Several comparable series on one chart with one y axis (e.g. every user's utility per round, or two policies' costs). */
export function linesFigure(id: string, title: string, rows: Row[], x: string, cols: string[], opts: AxisOpts & { yTitle?: string; yUnit?: string; legend?: boolean; logX?: boolean } = {}): Figure | undefined {
  cols = cols.filter((c) => rows.some((r) => typeof r[c] === 'number' && Number.isFinite(r[c] as number)));
  if (!rows.length || !cols.length) return undefined;
  const long = rows.length > SUMMARISE_ABOVE;
  const src = long ? binRows(rows, x, cols) : rows;
  const data = src.map((r) => pickAll(r, [x, ...cols]));
  const xUnit = opts.xUnit ?? unitOf(x, opts.units);
  const yUnit = opts.yUnit ?? unitOf(opts.yTitle ?? '', opts.units) ?? unitOf(cols[0], opts.units);
  const sc = cols.map(safe);
  return {
    id,
    title,
    caption: `${opts.caption ?? ''}${long ? ` Means over bins of ${Math.ceil(rows.length / BINS)} consecutive points (${rows.length} in all).` : ''}`.trim() || undefined,
    spec: {
      width: 620,
      height: 260,
      data: { values: data },
      transform: [{ fold: sc, as: ['series', 'value'] }, { filter: 'isValid(datum.value)' }],
      mark: { type: 'line', point: data.length <= 40 },
      encoding: {
        x: { field: safe(x), type: 'quantitative', title: axisTitle(opts.xTitle ?? x, xUnit), axis: axisFor(xUnit), ...(opts.logX ? { scale: { type: 'log' } } : {}) },
        y: { field: 'value', type: 'quantitative', title: axisTitle(opts.yTitle ?? (cols.length === 1 ? cols[0] : 'value'), yUnit), scale: { zero: false }, axis: axisFor(yUnit) },
        color: { field: 'series', type: 'nominal', title: null, sort: sc, scale: paletteScale(sc), legend: opts.legend === false || cols.length > 20 ? null : {} },
      },
    },
  };
}

/**
 * Grouped bars: one panel per quantity (`series`), one bar per group (policy, scheme, baseline) in
 * the group's colour, panels wrapped three to a row so the figure fits the page. Rows with a
 * `variant` (realized / expected) put the variants of a quantity side by side on its one axis. Each panel's y axis
 * is titled with its quantity and unit (from `units`, or written in the series name).
 */
export function barsFigure(id: string, title: string, rows: { group: string; series: string; value: number; variant?: string }[], opts: { caption?: string; units?: Record<string, string>; groupTitle?: string; yTitle?: string; independent?: boolean } = {}): Figure | undefined {
  const data = rows.filter((r) => Number.isFinite(r.value));
  if (!data.length) return undefined;
  const series = [...new Set(data.map((r) => r.series))];
  const groups = [...new Set(data.map((r) => r.group))];
  // variants (e.g. realized and expected) of one quantity share its panel and axis, side by side, one colour each
  const variants = [...new Set(data.map((r) => r.variant).filter((v): v is string => v !== undefined))];
  const width = Math.max(90, Math.min(220, 34 * groups.length * Math.max(1, variants.length)));
  const panel = (s: string) => {
    const unit = opts.units?.[s] ?? unitOf(s, opts.units);
    return {
      width,
      height: 180,
      transform: [{ filter: { field: 'series', equal: s } }],
      mark: 'bar',
      encoding: {
        x: { field: 'group', type: 'nominal', title: opts.groupTitle ?? null, sort: groups, axis: { labelAngle: -35, labelLimit: 110 } },
        y: { field: 'value', type: 'quantitative', title: axisTitle(opts.yTitle && series.length === 1 ? opts.yTitle : s, unit), axis: axisFor(unit) },
        ...(variants.length
          ? { xOffset: { field: 'variant', sort: variants }, color: { field: 'variant', type: 'nominal', title: null, sort: variants, scale: paletteScale(variants) } }
          : { color: { field: 'group', type: 'nominal', legend: null, scale: paletteScale(groups) } }),
      },
    };
  };
  return { id, title, caption: opts.caption, spec: { data: { values: data }, columns: 3, concat: series.map(panel) } };
}
