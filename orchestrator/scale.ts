/**
 * Scale curves: what a run costs as the number of agents N grows. Per run of a sweep: the leader's
 * mean time per round, the raw NATS floor's per round (broadcast + N tiny replies over the same
 * server, the same process layout and as many rounds, measured right after the run), the slowest
 * join and the join rate, and peak memory per agent (every process; the leader's and the
 * orchestrator's own). `mecsim sweep <scenario> --users 10,100,…` then draws the medians against N
 * on log–log axes (`scale.svg`, its data `scale.csv`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from '../scenarios/types.ts';
import { mechanismOf, partsOf } from '../scenarios/contract.ts';
import type { JsonObject } from '../scenarios/types.ts';
import type { Row, VlSpec } from '../scenarios/common/figures.ts';
import { planWorkers, type Placement } from './run.ts';

/** The per-run scale columns of a sweep's CSV (time to equilibrium is the per-slot `timeToEquilibriumMs`). */
export const SCALE_COLUMNS = ['roundMs', 'floorRoundMs', 'roundToFloor', 'floorSharedRoundMs', 'joinMaxMs', 'joinPerSec', 'bytesPerAgent', 'leaderBytesPerAgent', 'orchestratorBytesPerAgent'] as const;
export type ScaleColumn = (typeof SCALE_COLUMNS)[number];

/** Units of the scale columns (axis titles and table heads). */
export const SCALE_UNITS: Record<ScaleColumn | 'peakMemoryMiB' | 'wallMs', string> = {
  roundMs: 'ms',
  floorRoundMs: 'ms',
  floorSharedRoundMs: 'ms',
  roundToFloor: 'ratio',
  joinMaxMs: 'ms',
  joinPerSec: 'agents/s',
  bytesPerAgent: 'bytes',
  leaderBytesPerAgent: 'bytes',
  orchestratorBytesPerAgent: 'bytes',
  peakMemoryMiB: 'MiB',
  wallMs: 'ms',
};

/** The leader's round latencies of a finished run, every slot's, in order (metrics.json; summary.json keeps only their statistics). */
export function roundLatencies(runDir: string): number[] {
  try {
    const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { perSlot?: { roundLatencyMs?: number[] }[] };
    return (m.perSlot ?? []).flatMap((s) => s.roundLatencyMs ?? []);
  } catch {
    return [];
  }
}

/**
 * A finished run's scale figures. `serverPeakBytes`: the peak RSS of a server the run was given (a
 * sweep's own; the run then could not read it), added to the memory of every process. Figures a run
 * does not have (no leader host, no join times) are null.
 */
export function scaleMeasures(summary: Record<string, any>, latencies: number[], serverPeakBytes?: number): Record<ScaleColumn, number | null> & { peakBytesTotal: number | null } {
  const m = summary.runMetrics ?? {};
  const proc = m.processes ?? {};
  const hosts: { host: string; agents: number; maxRssBytes?: number }[] = proc.hosts ?? [];
  const agents = Number(summary.agents?.total) || hosts.reduce((a, h) => a + (h.agents ?? 0), 0);
  const perAgent = (bytes: unknown) => (typeof bytes === 'number' && agents > 0 ? Math.round(bytes / agents) : null);
  const base = proc.peakRssBytesTotal ?? proc.peakRssBytesSum;
  // the run's own server is already in peakRssBytesTotal; a server it was given is added here
  const peakBytesTotal = typeof base === 'number' ? base + (proc.natsServerRssBytes == null && serverPeakBytes !== undefined ? serverPeakBytes : 0) : null;
  const joinMax = m.agentStartToJoinedMs?.count ? Number(m.agentStartToJoinedMs.max) : null;
  return {
    roundMs: latencies.length ? r3(latencies.reduce((a, b) => a + b, 0) / latencies.length) : null,
    floorRoundMs: null,
    floorSharedRoundMs: null,
    roundToFloor: null,
    joinMaxMs: joinMax,
    // every agent joined within the slowest one's time: the rate at which the run took them in
    joinPerSec: joinMax && joinMax > 0 ? Number((agents / (joinMax / 1000)).toPrecision(4)) : null,
    bytesPerAgent: perAgent(peakBytesTotal),
    leaderBytesPerAgent: perAgent(hosts.find((h) => h.host === 'leader')?.maxRssBytes),
    orchestratorBytesPerAgent: perAgent(proc.orchestratorPeakRssBytes),
    peakBytesTotal,
  };
}

/** The floor's shape for a run: its follower processes' sizes (as the run placed them) and whether its rounds are one-to-one. */
export function floorLayout(scenario: Scenario, cfg: JsonObject, placement: Placement): { groups: number[]; single: boolean } {
  const mechanism = mechanismOf(scenario, cfg);
  const parts = partsOf(scenario, mechanism);
  const groups = planWorkers(parts.agents(cfg), parts.leaderId(cfg), placement, scenario.roles)
    .slice(1)
    .map((g) => g.length);
  return { groups, single: scenario.bench?.oneToOne?.includes(mechanism) ?? false };
}

/** The peak RSS of the process `pid` so far (Linux: VmHWM), bytes; undefined where it cannot be read. */
export function processPeakBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** One quantity drawn against N: its panel and the series in it (a column of summary.csv each). */
interface Panel {
  id: string;
  title: string;
  /** the y axis's title (its unit is added): short enough to fit beside the panel's height */
  yTitle: string;
  unit: string;
  series: { col: string; label: string }[];
}

/** The figure's panels: per-round time beside the floor on the same axes, time to equilibrium, join, memory. */
export const SCALE_PANELS: Panel[] = [
  {
    id: 'round',
    title: '(a) time per round',
    yTitle: 'time per round',
    unit: 'ms',
    series: [
      { col: 'roundMs', label: 'mecsim' },
      { col: 'floorRoundMs', label: 'raw NATS floor' },
      { col: 'floorSharedRoundMs', label: 'floor, 1 broadcast sub per process' },
    ],
  },
  { id: 'equilibrium', title: '(b) time to equilibrium', yTitle: 'time to equilibrium', unit: 'ms', series: [{ col: 'timeToEquilibriumMs', label: 'time to equilibrium' }] },
  { id: 'join', title: '(c) slowest join, spawn → joined', yTitle: 'slowest join', unit: 'ms', series: [{ col: 'joinMaxMs', label: 'slowest join' }] },
  {
    id: 'memory',
    title: '(d) peak memory per agent',
    yTitle: 'peak RSS per agent',
    unit: 'bytes',
    series: [
      { col: 'bytesPerAgent', label: 'all processes' },
      { col: 'leaderBytesPerAgent', label: 'leader' },
      { col: 'orchestratorBytesPerAgent', label: 'orchestrator' },
    ],
  },
];

/** One point of the scale figure (a row of scale.csv). */
export interface ScalePoint {
  panel: string;
  quantity: string;
  unit: string;
  series: string;
  mechanism: string;
  users: number;
  median: number;
  lo: number;
  hi: number;
  runs: number;
}

/** True when a sweep's summary spans sizes enough for scale curves: 2 or more distinct user counts. */
export const isScaleSweep = (summary: Row[]) => new Set(summary.map((r) => r.users).filter((u) => typeof u === 'number' && u > 0)).size >= 2;

/**
 * summary.csv's rows (one per mechanism and N) as the scale figure's points: one per panel, series,
 * mechanism and N, with the median across seeds and repeats and its interval. Points a log axis
 * cannot show (missing, zero or negative) are left out. With several mechanisms each series is
 * named with its mechanism.
 */
export function scalePoints(summary: Row[]): ScalePoint[] {
  const mechanisms = [...new Set(summary.map((r) => String(r.mechanism)))];
  const out: ScalePoint[] = [];
  for (const p of SCALE_PANELS)
    for (const s of p.series)
      for (const r of summary) {
        const median = r[`${s.col}.median`];
        const users = r.users;
        if (typeof median !== 'number' || !(median > 0) || typeof users !== 'number' || !(users > 0)) continue;
        const lo = Number(r[`${s.col}.lo`] ?? median);
        const hi = Number(r[`${s.col}.hi`] ?? median);
        out.push({
          panel: p.id,
          quantity: p.title.replace(/^\([a-z]\) /, ''),
          unit: p.unit,
          series: mechanisms.length > 1 ? `${s.label} (${String(r.mechanism)})` : s.label,
          mechanism: String(r.mechanism),
          users,
          median,
          lo: lo > 0 ? lo : median,
          hi: hi > 0 ? hi : median,
          runs: Number(r.runs ?? 1),
        });
      }
  return out.sort((a, b) => SCALE_PANELS.findIndex((p) => p.id === a.panel) - SCALE_PANELS.findIndex((p) => p.id === b.panel) || a.series.localeCompare(b.series) || a.users - b.users);
}

/** Series colours: mecsim's own in the palette's blue, the floor in grey, the memory breakdown in distinct hues. */
const SERIES_COLOURS: [RegExp, string][] = [
  [/^raw NATS floor/, '#555555'],
  [/^leader/, '#d62728'],
  [/^orchestrator/, '#2ca02c'],
];
const colourOfSeries = (s: string, i: number) => SERIES_COLOURS.find(([re]) => re.test(s))?.[1] ?? ['#1f77b4', '#ff7f0e', '#9467bd', '#8c564b'][i % 4];

/**
 * The scale figure: a 2 × 2 grid of log–log panels against N, each with its y axis titled with its
 * unit; the per-round time and the raw floor's share one panel and one axis. Bars: the median's
 * interval across seeds and repeats (a single run: none).
 */
export function scaleSpec(scenario: string, points: ScalePoint[]): VlSpec | undefined {
  if (!points.length) return undefined;
  const users = [...new Set(points.map((p) => p.users))].sort((a, b) => a - b);
  // every panel spans the same N, the sweep's, widened to whole decades
  const xDomain = padded(users[0], users[users.length - 1]);
  const x = {
    field: 'users',
    type: 'quantitative',
    title: 'users N (count)',
    scale: { type: 'log', domain: xDomain },
    axis: { values: decades(xDomain[0], xDomain[1]), format: '~s', grid: true, labelFlush: false },
  };
  const panel = (p: Panel) => {
    const mine = points.filter((q) => q.panel === p.id);
    if (!mine.length) return undefined;
    const series = [...new Set(mine.map((q) => q.series))].sort((a, b) => seriesOrder(p, a) - seriesOrder(p, b));
    const lo = Math.min(...mine.map((q) => q.lo));
    const hi = Math.max(...mine.map((q) => q.hi));
    // a legend needs a free corner: where the curves leave none, the axis is raised above them until one is
    let yDomain = padded(lo, hi);
    let corner = series.length > 1 ? freeCorner(mine, series, xDomain, yDomain, PANEL_WIDTH, PANEL_HEIGHT) : undefined;
    for (let k = 0; corner === null && k < 12; k++) {
      yDomain = [yDomain[0], yDomain[1] * 10 ** 0.25];
      corner = freeCorner(mine, series, xDomain, yDomain, PANEL_WIDTH, PANEL_HEIGHT);
    }
    const y = {
      field: 'median',
      type: 'quantitative',
      title: `${p.yTitle} (${p.unit})`,
      scale: { type: 'log', domain: yDomain },
      axis: { values: decades(yDomain[0], yDomain[1]), format: p.unit === 'bytes' ? '~s' : ',~g', grid: true, labelFlush: false },
    };
    // one legend (colour, dash and marker merged) inside the panel, in a corner the curves leave free
    const legend = series.length > 1 ? { title: null, orient: corner ?? 'top-left', fillColor: 'white', strokeColor: '#bbbbbb', padding: 5, offset: 6, labelFontSize: 10, symbolSize: 60, symbolStrokeWidth: 0, labelLimit: 280 } : null;
    const color = { field: 'series', type: 'nominal', sort: series, scale: { domain: series, range: series.map(colourOfSeries) }, legend };
    const dash = { field: 'series', type: 'nominal', sort: series, scale: { domain: series, range: series.map((s) => (/^raw NATS floor/.test(s) ? [5, 3] : [1, 0])) }, legend };
    const shape = { field: 'series', type: 'nominal', sort: series, scale: { domain: series, range: series.map((s) => (/^raw NATS floor/.test(s) ? 'square' : 'circle')) }, legend };
    const spread = mine.some((q) => q.hi > q.lo);
    return {
      title: { text: p.title, anchor: 'start', frame: 'group', fontSize: 13, fontWeight: 'normal' },
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      transform: [{ filter: { field: 'panel', equal: p.id } }],
      layer: [
        ...(spread ? [{ mark: { type: 'rule', strokeWidth: 1.2 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } }] : []),
        { mark: { type: 'line', strokeWidth: 1.6 }, encoding: { x, y, color, strokeDash: dash } },
        {
          mark: { type: 'point', filled: true, size: 40, opacity: 1 },
          encoding: {
            x,
            y,
            color,
            shape,
            tooltip: [
              { field: 'series', type: 'nominal' },
              { field: 'users', type: 'quantitative', title: 'N' },
              { field: 'median', type: 'quantitative', format: ',.4~g', title: `median (${p.unit})` },
              { field: 'runs', type: 'quantitative' },
            ],
          },
        },
      ],
    };
  };
  const panels = SCALE_PANELS.map(panel).filter((x) => x !== undefined);
  return {
    // short: Vega measures text by its length here, and a long title would widen the whole figure
    title: {
      text: `mecsim ${scenario}: cost against the number of users N`,
      subtitle: `log–log axes; medians across runs${points.some((p) => p.runs > 1) ? '; bars: 95 % interval of the median (below 6 runs: the range)' : ''}`,
      anchor: 'start',
      fontSize: 13,
      subtitleFontSize: 11,
    },
    data: { values: points },
    columns: 2,
    concat: panels,
    // the grid lays out the plot areas alone (axes, titles and legends hang outside them), so every panel's title sits at the same height
    bounds: 'flush',
    spacing: { row: 78, column: 96 },
    resolve: { scale: { color: 'independent', shape: 'independent', strokeDash: 'independent', y: 'independent' }, legend: { color: 'independent', shape: 'independent' } },
    config: {
      font: 'sans-serif',
      view: { stroke: '#333333', strokeWidth: 0.8 },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6', domainColor: '#333333', tickColor: '#333333' },
      legend: { labelFontSize: 10, labelLimit: 280 },
    },
  };
}

function seriesOrder(p: Panel, s: string): number {
  const i = p.series.findIndex((x) => s === x.label || s.startsWith(`${x.label} (`));
  return i < 0 ? p.series.length : i;
}

/** A log axis's domain: the values' range widened by about a third of a decade each side, so no point sits on the frame. */
function padded(lo: number, hi: number): [number, number] {
  return [lo / 10 ** 0.3, hi * 10 ** 0.3];
}

const PANEL_WIDTH = 300;
// Vega measures text without a font here (about 9.6 px a character at 12 px): a y title longer than the panel is high would push the panel's title up
const PANEL_HEIGHT = 250;

type Corner = 'top-left' | 'top-right' | 'bottom-right' | 'bottom-left';

/**
 * The first corner of the plot (top-left, top-right, bottom-right, bottom-left) whose legend box
 * no point, line between points or interval bar crosses; null if none is free. The box is
 * estimated from the labels' length (10 px type) and the number of series.
 */
export function freeCorner(points: ScalePoint[], series: string[], xDomain: [number, number], yDomain: [number, number], width: number, height: number): Corner | null {
  const boxW = (Math.max(...series.map((s) => s.length)) * 6.5 + 30) / width;
  const boxH = (series.length * 16 + 14) / height;
  const fx = (v: number) => Math.log(v / xDomain[0]) / Math.log(xDomain[1] / xDomain[0]);
  // 0 at the bottom of the plot, 1 at the top
  const fy = (v: number) => Math.log(v / yDomain[0]) / Math.log(yDomain[1] / yDomain[0]);
  const inks: [number, number][] = [];
  for (const s of series) {
    const line = points.filter((q) => q.series === s).sort((a, b) => a.users - b.users);
    line.forEach((q, i) => {
      for (const v of [q.lo, q.median, q.hi]) inks.push([fx(q.users), fy(v)]);
      const next = line[i + 1];
      if (next) for (let t = 0.05; t < 1; t += 0.05) inks.push([fx(q.users) + t * (fx(next.users) - fx(q.users)), fy(q.median) + t * (fy(next.median) - fy(q.median))]);
    });
  }
  const pad = 0.03;
  const boxes: Record<Corner, [number, number, number, number]> = {
    'top-left': [0, pad + boxW, 1 - pad - boxH, 1],
    'top-right': [1 - pad - boxW, 1, 1 - pad - boxH, 1],
    'bottom-right': [1 - pad - boxW, 1, 0, pad + boxH],
    'bottom-left': [0, pad + boxW, 0, pad + boxH],
  };
  const free = (Object.keys(boxes) as Corner[]).find((c) => {
    const [x0, x1, y0, y1] = boxes[c];
    return !inks.some(([x, y]) => x >= x0 - 0.02 && x <= x1 + 0.02 && y >= y0 - 0.03 && y <= y1 + 0.03);
  });
  return free ?? null;
}

/** The powers of ten from lo to hi: a log axis's ticks, one per decade (with 2 and 5 between them when the range is under two decades). */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  const few = Math.log10(hi / lo) < 3;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of few ? [1, 2, 5] : [1]) out.push(Number((m * 10 ** e).toPrecision(1)));
  return out.filter((v) => v >= lo && v <= hi);
}

/** scale.csv: the figure's points, one row each. */
export const scaleCsvRows = (points: ScalePoint[]): Row[] => points.map((p) => ({ ...p }));
