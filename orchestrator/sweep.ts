/**
 * `mecsim sweep`: the one sweep implementation. One distributed run per point of
 * (mechanism × varied value × users × seed × repeat), then
 * - a tidy CSV, one row per run and slot, every scalar parameter and outcome a column
 *   (`sweep-<scenario>-<key>-<YYYYMMDD-HHMMSS>.csv`);
 * - a summary CSV: per (mechanism, value, users) the median of every outcome across the seeds and a
 *   distribution-free 95 % interval for that median (order statistics; see `medianInterval`);
 * - a comparison figure (SVG) and page (HTML) with those medians and intervals.
 * `run --sweep key=…` and `sweep --users …` are this, with one seed or with users as the varied key.
 * A sweep over two or more user counts also measures, after each run, the raw NATS floor on the same
 * server, process layout and round count, and draws the scale curves (`scale.svg`, orchestrator/scale.ts).
 */
import { LINK_SCHEMA } from '../scenarios/common/schema.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Json, JsonObject, Scenario } from '../scenarios/types.ts';
import { axisFor, axisTitle, paletteScale, unitOf, GENERIC_UNITS, type Row, type VlSpec } from '../scenarios/common/figures.ts';
import { renderSvg, sig4 } from './report.ts';
import { quantile, scalars, toCsv, writeAtomic } from './results.ts';
import { RunError, runScenario, type NatsAuth, type Placement, type Progress } from './run.ts';
import { runVerdict } from './verdict.ts';
import { acquireNats, type NatsHandle } from './natsServer.ts';
import { floorLayout, isScaleSweep, processPeakBytes, roundLatencies, SCALE_COLUMNS, SCALE_UNITS, scaleCsvRows, scaleMeasures, scalePoints, scaleSpec } from './scale.ts';

export type SweepValue = number | string | boolean;

/** One run of a sweep: what identifies it, and its resolved configuration. */
export interface SweepPoint {
  mechanism: string;
  seed: number;
  users?: number;
  /** the varied key's value (absent when nothing but seeds, mechanisms or users vary) */
  value?: SweepValue;
  cfg: JsonObject;
}

/** `key=v1,v2,…`: a dotted config key and its values. A unit written on the last value only (`0,5,20ms`) applies to all. */
export function parseVary(s: string, flag = '--vary'): { key: string; values: SweepValue[] } {
  const m = /^([A-Za-z_][\w-]*(?:\.[\w-]+)*)=(.+)$/.exec(s.trim());
  const raw = m ? m[2].split(',').map((v) => v.trim()) : [];
  if (!m || !raw.length || raw.some((v) => v === '')) throw new Error(`${flag} must look like key=v1,v2,… (a dotted config key, e.g. users.r=1e7,2e7 or server.f=1e9,4e9), not "${s}"`);
  const unit = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?([A-Za-z%µ/]+)$/i.exec(raw[raw.length - 1])?.[1];
  const values = raw.map((v): SweepValue => {
    const withUnit = unit && /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i.test(v) ? `${v}${unit}` : v;
    if (withUnit !== v) return withUnit;
    if (v === 'true' || v === 'false') return v === 'true';
    const n = Number(v);
    return /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i.test(v) && Number.isFinite(n) ? n : v;
  });
  return { key: m[1], values };
}

/** `--seeds 1-20` or `1,2,5` (or both: `1-3,7`) */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',').map((x) => x.trim())) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!r) throw new Error(`--seeds must be a list of seeds or ranges like 1-20 or 1,2,5, not "${s}"`);
    const [a, b] = [Number(r[1]), Number(r[2] ?? r[1])];
    if (b < a || b - a >= 10_000) throw new Error(`--seeds: "${part}" is not a range from low to high of at most 10,000 seeds`);
    for (let x = a; x <= b; x++) out.push(x);
  }
  return [...new Set(out)];
}

/** Every dotted path of a resolved config with a scalar at its end, arrays stepped through as `[]` (`users.r`). */
export function configKeys(cfg: Json, prefix = ''): string[] {
  if (Array.isArray(cfg)) return [...new Set(cfg.flatMap((v) => configKeys(v, prefix)))];
  if (cfg !== null && typeof cfg === 'object') return Object.entries(cfg).flatMap(([k, v]) => configKeys(v, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

/**
 * The config with `key` set to `value`: a dotted path into the resolved config; where the path meets
 * a list and the next part is not an index, every item gets the value (`users.r` sets every user's
 * r; `users.3.r` only the fourth's). Throws when the path does not exist.
 */
export function setDotted(cfg: JsonObject, key: string, value: SweepValue): JsonObject {
  const parts = key.split('.');
  const copy = structuredClone(cfg) as JsonObject;
  // the link model's section is optional in every configuration: a varied link key (link.rtt, link.loss, …) starts it
  if (parts[0] === 'link' && parts.length === 2 && parts[1] in LINK_SCHEMA.properties && (copy.link === undefined || copy.link === null)) copy.link = {};
  let hits = 0;
  const walk = (node: Json, i: number): void => {
    if (node === null || typeof node !== 'object') return;
    const part = parts[i];
    const last = i === parts.length - 1;
    if (Array.isArray(node)) {
      if (/^\d+$/.test(part)) {
        const k = Number(part);
        if (k >= node.length) return;
        if (last) (node[k] = value as Json), hits++;
        else walk(node[k], i + 1);
      } else for (const item of node) walk(item, i);
      return;
    }
    const linkKey = i === 1 && parts[0] === 'link' && part in LINK_SCHEMA.properties;
    if (!(part in node) && !linkKey) return;
    if (last) {
      const old = node[part];
      if (old !== null && typeof old === 'object') return; // a list or object is not one parameter
      node[part] = value as Json;
      hits++;
    } else walk(node[part], i + 1);
  };
  walk(copy as Json, 0);
  if (!hits) {
    const keys = configKeys(cfg).filter((k) => !['scenario', 'mechanism', 'seed'].includes(k));
    const near = keys.filter((k) => k.endsWith(`.${parts[parts.length - 1]}`) || k === parts[parts.length - 1]);
    throw new Error(`--vary: "${key}" is not a parameter of this configuration${near.length ? `; did you mean ${near.join(' or ')}?` : ''} (mecsim params <scenario> prints every key; e.g. ${keys.slice(0, 8).join(', ')})`);
  }
  return copy as JsonObject;
}

/** The distribution-free interval for a median: order statistics x_(j) ≤ median ≤ x_(n+1−j) with coverage ≥ 95 %. */
export function medianInterval(xs: number[]): { median: number; lo: number; hi: number; coverage: number } {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return { median: NaN, lo: NaN, hi: NaN, coverage: 0 };
  const median = quantile(s, 0.5);
  // P(x_(j) ≤ m ≤ x_(n+1−j)) = 1 − 2·P(Binomial(n, ½) ≤ j − 1)
  const pmf = Array.from({ length: n + 1 }, (_, k) => Math.exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) - n * Math.LN2));
  let j = 1;
  let coverage = 1 - 2 * pmf[0];
  for (let c = 2; c <= Math.floor(n / 2); c++) {
    const cov = 1 - 2 * pmf.slice(0, c).reduce((a, b) => a + b, 0);
    if (cov < 0.95) break;
    j = c;
    coverage = cov;
  }
  // fewer than 6 values: no interval reaches 95 %; the full range is given with its coverage
  return { median, lo: s[j - 1], hi: s[n - j], coverage: n === 1 ? 0 : coverage };
}
function lgamma(x: number): number {
  let r = 0;
  for (let k = 2; k < x; k++) r += Math.log(k);
  return r;
}

/** The scalar, non-list parameters of a config as `param.<key>` columns (lists such as users stay in each run's config.json). */
function paramColumns(cfg: JsonObject): Record<string, SweepValue | null> {
  const out: Record<string, SweepValue | null> = {};
  const walk = (x: Json, p: string) => {
    if (Array.isArray(x)) return;
    if (x !== null && typeof x === 'object') for (const [k, v] of Object.entries(x)) walk(v, p ? `${p}.${k}` : k);
    else if (!['scenario', 'mechanism', 'seed'].includes(p)) out[`param.${p}`] = x;
  };
  walk(cfg, '');
  return out;
}

export interface SweepOptions {
  scenario: Scenario;
  /** the varied key ('users' for a users sweep; undefined when only seeds or mechanisms vary) */
  key?: string;
  points: SweepPoint[];
  repeat?: number;
  placement: Placement;
  outDir: string;
  natsUrl?: string;
  natsAuth?: NatsAuth;
  roundTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Measure the raw NATS floor after each run (default: when users vary over 2 or more counts).
   * Without --nats the sweep then starts a private server per run, which the run and its floor
   * share (the run's own would be gone before the floor could use it).
   */
  floor?: boolean;
  /** the command line that made the sweep, kept beside its files (command.txt, sweep.html) */
  command?: string;
  /** before each run (no row) and after it, with its per-run row and the run's verdict */
  onRun?: (i: number, total: number, p: SweepPoint, row?: Row, verdict?: string) => void;
  /** what a long run is doing (agents joined, slots done, the floor), a line at a time */
  onProgress?: (line: string) => void;
}

export interface SweepResult {
  dir: string;
  csv: string;
  /** one row per run and slot */
  rows: Row[];
  /** one row per run (outcomes averaged over its slots) */
  runs: Row[];
  summary: Row[];
  files: string[];
}

/** `20261202-093512`: a timestamp a person reads (UTC), not epoch milliseconds. */
export const humanStamp = (d = new Date()) => d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

/** The columns that identify a point of the sweep (summaries group by them, seeds aside). */
const idCols = (key: string | undefined) => ['mechanism', ...(key && key !== 'users' ? [key] : []), 'users'];

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const keyName = o.key ?? (new Set(o.points.map((p) => p.mechanism)).size > 1 ? 'mechanism' : 'seed');
  const stamp = humanStamp();
  // two sweeps started in the same second get their own folders (-2, -3 …), never one shared file:
  // a folder is claimed by creating it, which fails if another process created it first
  const stem = `sweep-${o.scenario.id}-${keyName.replace(/[^\w.-]/g, '_')}-${stamp}`;
  mkdirSync(o.outDir, { recursive: true });
  let base = stem;
  for (let n = 2; !claimDir(join(o.outDir, base)); n++) base = `${stem}-${n}`;
  const dir = join(o.outDir, base);
  const csv = join(dir, `${base}.csv`);
  const rows: Row[] = [];
  const runs: Row[] = [];
  const repeat = o.repeat ?? 1;
  const total = o.points.length * repeat;
  const floor = o.floor ?? (o.key === 'users' && new Set(o.points.map((p) => p.users)).size >= 2);
  if (o.command) writeAtomic(join(dir, 'command.txt'), `${o.command}\n`);
  let i = 0;
  for (const p of o.points) {
    for (let r = 0; r < repeat; r++) {
      // a signal that came between two runs (or as one finished) stops the sweep before the next starts
      if (o.signal?.aborted) throw new RunError('interrupted', 130);
      o.onRun?.(i, total, p);
      const t0 = performance.now();
      const server = floor ? await acquireNats(o.natsUrl, { jetstream: true }) : undefined;
      let s: Record<string, any>;
      let scale: ReturnType<typeof scaleMeasures>;
      let wallMs: number;
      try {
        const progress = new RunProgress(o.onProgress);
        s = (await runScenario({ scenario: o.scenario, cfg: p.cfg, placement: o.placement, outDir: dir, natsUrl: server?.url ?? o.natsUrl, natsAuth: o.natsAuth, roundTimeoutMs: o.roundTimeoutMs, signal: o.signal, onProgress: (x) => progress.update(x) })) as Record<string, any>;
        wallMs = Math.round(performance.now() - t0);
        // the server's peak now, before the floor adds to it
        const serverPeak = server?.owned ? processPeakBytes(server.pid) : undefined;
        const latencies = roundLatencies(join(dir, s.runId));
        scale = scaleMeasures(s, latencies, serverPeak);
        if (server && latencies.length) {
          const floorMs = await measureFloor(o, p, server, latencies.length);
          if (floorMs !== undefined && scale.roundMs !== null) Object.assign(scale, { floorRoundMs: floorMs, roundToFloor: Math.round((scale.roundMs / floorMs) * 1000) / 1000 });
          // mecsim's hosts take a role's broadcasts on one subscription: the floor that does so too
          const sharedMs = await measureFloor(o, p, server, latencies.length, true);
          if (sharedMs !== undefined) Object.assign(scale, { floorSharedRoundMs: sharedMs });
        }
      } finally {
        await server?.stop();
      }
      const m = s.runMetrics ?? {};
      const ident: Row = {
        scenario: o.scenario.id,
        mechanism: p.mechanism,
        ...(o.key && o.key !== 'users' ? { [o.key]: p.value as SweepValue } : {}),
        users: s.agents?.followers ?? p.users ?? null,
        seed: p.seed,
        repeat: r,
        runId: s.runId,
        ok: Boolean(s.ok),
      };
      const { peakBytesTotal, ...scaleCols } = scale;
      const runLevel: Row = {
        peakMemoryMiB: Math.round(((peakBytesTotal ?? 0) / 2 ** 20) * 10) / 10,
        wallMs,
        processes: m.workers ?? null,
        ...scaleCols,
      };
      const mine: Row[] = (s.perSlot ?? []).map((x: any) => ({
        ...ident,
        slot: x.slot,
        'compare.ok': x.compare?.ok ?? null,
        'compare.gap': x.compare?.gap ?? null,
        rounds: x.metrics?.rounds ?? null,
        messages: x.metrics?.messages ?? null,
        timeToEquilibriumMs: x.metrics?.timeToEquilibriumMs ?? null,
        ...(scalars('eq.', x.equilibrium) as Row),
        ...(scalars('ref.', x.reference) as Row),
        ...runLevel,
        ...paramColumns(p.cfg),
      }));
      rows.push(...mine);
      const run: Row = { ...ident };
      for (const c of numericOutcomes(mine)) run[c] = mean(mine.map((x) => x[c]).filter((v): v is number => typeof v === 'number'));
      Object.assign(run, runLevel);
      runs.push(run);
      i++;
      o.onRun?.(i, total, p, run, runVerdict(s.perSlot ?? [], Boolean(s.ok)));
      // partial results are on disk after every run: an interrupted sweep keeps what it measured
      writeAtomic(csv, toCsv(rows as never));
    }
  }
  const summary = summarise(runs, o.key);
  const units = { ...GENERIC_UNITS, ...SCALE_UNITS, ...(o.scenario.units ?? {}) };
  const spec = sweepSpec(o.scenario.id, o.key, summary, units);
  const svg = spec ? await renderSvg(spec) : '';
  const files = [csv, join(dir, 'summary.csv'), join(dir, 'sweep.html')];
  writeAtomic(join(dir, 'summary.csv'), toCsv(summary as never));
  if (svg) (writeAtomic(join(dir, 'sweep.svg'), svg), files.push(join(dir, 'sweep.svg')));
  // scale curves: for a sweep over two or more user counts
  const points = o.key === 'users' && isScaleSweep(summary) ? scalePoints(summary) : [];
  const scaleSvgSpec = points.length ? scaleSpec(o.scenario.id, points) : undefined;
  const scaleSvg = scaleSvgSpec ? await renderSvg(scaleSvgSpec) : '';
  if (scaleSvg) {
    writeAtomic(join(dir, 'scale.svg'), scaleSvg);
    writeAtomic(join(dir, 'scale.csv'), toCsv(scaleCsvRows(points) as never));
    files.push(join(dir, 'scale.svg'), join(dir, 'scale.csv'));
  }
  writeAtomic(join(dir, 'sweep.html'), sweepHtml(o.scenario.id, o.key, summary, runs, svg, units, { svg: scaleSvg, command: o.command }));
  if (o.command) files.push(join(dir, 'command.txt'));
  return { dir, csv, rows, runs, summary, files };
}

/**
 * The raw NATS floor for one run: its follower processes' layout, as many rounds as the run's
 * leader ran, on the server the run used; mean ms per round. An interruption stops the sweep; any
 * other failure is said and leaves the column empty (the run's own figures stand).
 */
async function measureFloor(o: SweepOptions, p: SweepPoint, server: NatsHandle, rounds: number, sharedBroadcast = false): Promise<number | undefined> {
  const { groups, single } = floorLayout(o.scenario, p.cfg, o.placement);
  o.onProgress?.(`raw NATS floor${sharedBroadcast ? ' with one broadcast subscription per process' : ''}: ${groups.length} process${groups.length === 1 ? '' : 'es'}, ${rounds} round${rounds === 1 ? '' : 's'} …`);
  const { rawFloor } = await import('./bench.ts');
  try {
    const { times } = await rawFloor(server.url, groups, rounds, { single, sharedBroadcast }, o.signal);
    return times.length ? Math.round((times.reduce((a, b) => a + b, 0) / times.length) * 1000) / 1000 : undefined;
  } catch (e) {
    if (o.signal?.aborted || (e instanceof RunError && e.exitCode === 130)) throw e;
    o.onProgress?.(`raw NATS floor failed (${(e as Error).message}); floorRoundMs left empty`);
    return undefined;
  }
}

/** A run's progress as a few lines: agents joined by quarters (1,000 agents or more) and each slot done. */
class RunProgress {
  private quarter = 0;
  private big = false;
  private readonly t0 = performance.now();

  constructor(private readonly say?: (line: string) => void) {}

  update(x: Progress): void {
    if (!this.say) return;
    if (x.phase === 'join' && x.total >= 1000) {
      this.big = true;
      const q = Math.floor((4 * x.joined) / x.total);
      if (q > this.quarter) {
        this.quarter = q;
        this.say(`joined ${x.joined.toLocaleString('en')} of ${x.total.toLocaleString('en')} agents (${((performance.now() - this.t0) / 1000).toFixed(1)} s)`);
      }
    } else if (x.phase === 'slot' && 'line' in x && this.big) this.say(`slot ${x.slot} of ${x.slots} done (${((performance.now() - this.t0) / 1000).toFixed(1)} s)`);
  }
}

/** Creates `dir`; false if it already exists (someone else's). */
function claimDir(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const OUTCOME = /^(eq\.|ref\.|compare\.gap$|rounds$|messages$|timeToEquilibriumMs$)/;
function numericOutcomes(rows: Row[]): string[] {
  const cols = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (OUTCOME.test(k) && typeof v === 'number') cols.add(k);
  return [...cols];
}

/** Per sweep point (mechanism, value, users): across seeds and repeats, the median of every outcome and its 95 % interval. */
export function summarise(runs: Row[], key: string | undefined): Row[] {
  const ids = idCols(key);
  const groups = new Map<string, Row[]>();
  for (const r of runs) {
    const k = JSON.stringify(ids.map((c) => r[c]));
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const runLevel = new Set<string>(['wallMs', 'peakMemoryMiB', ...SCALE_COLUMNS]);
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r).filter((c) => (OUTCOME.test(c) || runLevel.has(c)) && typeof r[c] === 'number')))];
  return [...groups.values()].map((rs) => {
    const out: Row = Object.fromEntries(ids.map((c) => [c, rs[0][c]]));
    out.runs = rs.length;
    out.seeds = new Set(rs.map((r) => r.seed)).size;
    out.ok = rs.filter((r) => r.ok === true).length;
    for (const m of metrics) {
      const xs = rs.map((r) => r[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (!xs.length) continue;
      const ci = medianInterval(xs);
      Object.assign(out, { [`${m}.median`]: ci.median, [`${m}.lo`]: ci.lo, [`${m}.hi`]: ci.hi, [`${m}.coverage`]: Number(ci.coverage.toFixed(4)) });
    }
    return out;
  });
}

/** The outcomes a comparison figure shows: the equilibrium's numbers (up to 6) and the protocol's cost. */
function figureMetrics(summary: Row[]): string[] {
  const has = (m: string) => summary.some((r) => typeof r[`${m}.median`] === 'number');
  const eq = [...new Set(summary.flatMap((r) => Object.keys(r)))].filter((c) => c.startsWith('eq.') && c.endsWith('.median')).map((c) => c.slice(0, -'.median'.length));
  const varying = eq.filter((m) => new Set(summary.map((r) => r[`${m}.median`])).size > 1 || summary.length === 1);
  return [...varying.slice(0, 6), 'rounds', 'messages', 'timeToEquilibriumMs'].filter(has);
}

export function sweepSpec(scenario: string, key: string | undefined, summary: Row[], units: Record<string, string>): VlSpec | undefined {
  if (!summary.length) return undefined;
  const xKey = key ?? 'mechanism';
  const numericX = summary.every((r) => typeof r[xKey] === 'number');
  const logX = numericX && xKey === 'users' && summary.every((r) => Number(r[xKey]) > 0) && new Set(summary.map((r) => r[xKey])).size > 2;
  const series = [...new Set(summary.map((r) => String(r.mechanism)))];
  const xUnit = unitOf(xKey, units);
  const data = summary.map((r) => ({ ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/\./g, '·'), v])), x: r[xKey] }));
  const panel = (m: string) => {
    const f = m.replace(/\./g, '·');
    const title = axisTitle(m, unitOf(m, units));
    const yAxis = axisFor(unitOf(m, units));
    const x = { field: 'x', type: numericX ? 'quantitative' : 'ordinal', title: numericX ? axisTitle(xKey, xUnit) : xKey, ...(logX ? { scale: { type: 'log' } } : {}), ...(numericX ? { axis: axisFor(xUnit) } : {}) };
    const color = { field: 'mechanism', type: 'nominal', title: 'mechanism', scale: paletteScale(series) };
    return {
      width: 560,
      height: 140,
      layer: [
        { mark: { type: 'rule' }, encoding: { x, y: { field: `${f}·lo`, type: 'quantitative', title, scale: { zero: false }, axis: yAxis }, y2: { field: `${f}·hi` }, color } },
        { mark: { type: 'line', point: true }, encoding: { x, y: { field: `${f}·median`, type: 'quantitative', title, axis: yAxis }, color } },
      ],
    };
  };
  const ms = figureMetrics(summary);
  if (!ms.length) return undefined;
  return { title: `mecsim ${scenario}: median across seeds against ${xKey}, bars: 95 % interval of the median`, data: { values: data }, vconcat: ms.map(panel) };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The scale section of sweep.html: the figure and, per N, the medians it draws. */
function scaleHtml(summary: Row[], svg: string): string {
  if (!svg) return '';
  const cols: [string, string][] = [
    ['roundMs', 'round (ms)'],
    ['floorRoundMs', 'raw floor (ms)'],
    ['floorSharedRoundMs', 'floor, one broadcast subscription per process (ms)'],
    ['roundToFloor', 'round / floor'],
    ['timeToEquilibriumMs', 'time to equilibrium (ms)'],
    ['joinMaxMs', 'slowest join (ms)'],
    ['joinPerSec', 'joined (agents/s)'],
    ['bytesPerAgent', 'memory per agent, all processes (bytes)'],
    ['leaderBytesPerAgent', "leader's (bytes/agent)"],
    ['orchestratorBytesPerAgent', "orchestrator's (bytes/agent)"],
  ];
  const rows = summary.map((r) => `<tr>${[esc(r.mechanism), esc(r.users), ...cols.map(([c]) => (typeof r[`${c}.median`] === 'number' ? sig4(r[`${c}.median`]) : ''))].map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<h2>Scale</h2>
<p>Medians across seeds and repeats against the number of users N, on log–log axes. Round: the leader's mean time per round (broadcast → last reply) over every round of the run; raw floor: one publish fanned out to N plain subscribers in the same processes as the run's followers and N tiny replies gathered, on the same NATS server, for as many rounds, measured right after the run; slowest join: spawn → joined of the last agent (joined per second: agents / that time); memory per agent: the peak RSS of every process (agents, orchestrator, nats-server) over all agents, and the leader's and the orchestrator's own peak over all agents (the orchestrator is the sweep's process: its peak so far).</p>
<table><tr>${['mechanism', 'users', ...cols.map(([, h]) => h)].map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows}</table>
<figure data-figure="scale">${svg}</figure>
<p class="muted">Figure: scale.svg; its data: scale.csv (one row per panel, series and N).</p>`;
}

function sweepHtml(scenario: string, key: string | undefined, summary: Row[], runs: Row[], svg: string, units: Record<string, string>, extra: { svg?: string; command?: string } = {}): string {
  const ids = idCols(key);
  const ms = figureMetrics(summary);
  const head = [...ids, 'runs', 'ok', ...ms.map((m) => `${m}${unitOf(m, units) ? ` (${unitOf(m, units)})` : ''}: median [95 % interval]`)];
  const body = summary
    .map((r) => `<tr>${[...ids.map((c) => esc(r[c] ?? '')), esc(r.runs), `${esc(r.ok)}/${esc(r.runs)}`, ...ms.map((m) => (typeof r[`${m}.median`] === 'number' ? `${sig4(r[`${m}.median`])} [${sig4(r[`${m}.lo`])}, ${sig4(r[`${m}.hi`])}]${Number(r[`${m}.coverage`]) < 0.95 ? `<sup>*</sup>` : ''}` : ''))].map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('');
  const thin = summary.some((r) => ms.some((m) => Number(r[`${m}.coverage`]) < 0.95));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mecsim sweep ${esc(scenario)}</title><style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}th{background:#f4f4f4}figure{margin:1.5rem 0;max-width:100%;overflow:hidden}.muted{color:#777}</style></head><body>
<h1>mecsim sweep · ${esc(scenario)}${key ? ` · ${esc(key)}` : ''}</h1>
<p>${runs.length} runs. Each cell: the median across seeds (and repeats) and a distribution-free 95 % interval for the median (order statistics x<sub>(j)</sub>, x<sub>(n+1−j)</sub>).${thin ? ' <sup>*</sup> fewer than 6 seeds: no interval reaches 95 %; the range of the values is shown (its coverage is in summary.csv).' : ''}</p>
<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${body}</table>
${svg ? `<figure data-figure="sweep">${svg}</figure>` : ''}
${scaleHtml(summary, extra.svg ?? '')}
${extra.command ? `<p class="muted">Made by: <code>${esc(extra.command)}</code></p>` : ''}
<p class="muted">Runs: ${runs.map((r) => esc(r.runId)).join(', ')} (each folder has its own report.html). Data: the tidy CSV (one row per run and slot) and summary.csv beside this page.</p>
</body></html>
`;
}
