/**
 * `mecsim report runs/<id>` (also written at the end of every run): one self-contained HTML file,
 * `report.html`, with the run's figures rendered to inline SVG by Vega-Lite in Node (no script in
 * the page, nothing fetched), and the tables a paper quotes: the outcome beside the reference, the
 * paper's claims (statement, verdict, numbers with units), the resolved parameters with units, the
 * metrics and the slots. Each figure is also written on its own, `figures/<id>.svg`, with the data
 * behind it, `figures/<id>.csv`. `reportHeaderExtras` lets another part add to the header (e.g.
 * provenance).
 *
 * Figures: the generic ones every run has (convergence per message round, utilities per round,
 * per-slot series, round latencies) and the scenario's own figures (orchestrator/figures.ts). Every
 * quantitative axis is titled with its unit (scenarios/common/figures.ts `unitOf`: the scenario's
 * `units`, else the generic ones).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { writeAtomic } from './results.ts';
import { SUMMARY_SCHEMA } from './summarySchema.ts';
import { runStatus } from './runLock.ts';
import { barsFigure, linesFigure, seriesFigure, numericCols, thin, SUMMARISE_ABOVE, GENERIC_UNITS, unitOf, type Figure, type Row, type RunData, type VlSpec } from '../scenarios/common/figures.ts';
import { scenarioFigures, scenarioOf } from './figures.ts';
import { toCsv } from './results.ts';
import { jsonForm } from './jsonText.ts';
export { barsFigure, linesFigure, seriesFigure, thin, type Figure, type Row, type RunData, type VlSpec } from '../scenarios/common/figures.ts';
import { againstOf, optimumClause, runVerdict } from './verdict.ts';
import { provenanceHtml } from './provenance.ts';
import { linkLine } from './run/linkPlan.ts';


/** Parses the CSV files mecsim writes (RFC 4180 quoting; numbers, booleans and empty cells typed). */
export function parseCsv(text: string): Row[] {
  const records: string[][] = [];
  let field = '';
  let rec: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"', i++);
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (rec.push(field), (field = ''));
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      rec.push(field);
      field = '';
      records.push(rec);
      rec = [];
    } else field += c;
  }
  if (field !== '' || rec.length) (rec.push(field), records.push(rec));
  const [head, ...body] = records.filter((r) => !(r.length === 1 && r[0] === ''));
  if (!head) return [];
  const typed = (s: string): number | string | boolean | null => {
    if (s === '') return null;
    if (s === 'true') return true;
    if (s === 'false') return false;
    const n = Number(s);
    return Number.isFinite(n) && /^[-+]?(\d|\.\d)/.test(s) ? n : s;
  };
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, typed(r[i] ?? '')])));
}

/**
 * A run folder's data. `parsed.summary`: summary.json as already parsed (the run that just wrote it
 * passes the same value, see jsonText.ts's jsonCopy), instead of read back.
 */
export function loadRun(dir: string, parsed?: { summary: unknown }): RunData {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  const json = (file: string, text: string) => {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${join(dir, file)} is not valid JSON: ${(e as Error).message}`);
    }
  };
  let summary = parsed?.summary as Record<string, any> | undefined;
  if (summary === undefined) {
    const s = read('summary.json');
    if (s === undefined) throw new Error(`${dir} is not a run folder: it has no summary.json`);
    summary = json('summary.json', s) as Record<string, any>;
  }
  // what the report reads of it, checked first: a file of another shape is named as such, not a JS error
  if (!Value.Check(SUMMARY_SCHEMA, summary)) {
    const errors = [...Value.Errors(SUMMARY_SCHEMA, summary)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new Error(`${join(dir, 'summary.json')} is not a mecsim run summary (schemas/summary.schema.json): ${errors.join('; ')}`);
  }
  const m = read('metrics.json');
  const metrics = m ? json('metrics.json', m) : null;
  return { dir, summary, trajectory: parseCsv(read('trajectory.csv') ?? ''), slots: parseCsv(read('slots.csv') ?? ''), metrics };
}


const BOOKKEEPING = new Set(['slot', 'round', 'ok', 'gap', 'converged', 'missing', 'bytes', 'roundP50Ms', 'roundP95Ms', 'roundMaxMs']);

/**
 * Whether a recorded column says something about convergence: not constant, not a bookkeeping
 * counter (a whole-number column that only ever steps up by one or stays, like an interval index or a
 * miss count), and not empty.
 */
export function meaningfulSeries(rows: Row[], c: string): boolean {
  const v = rows.map((r) => r[c]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length < 2) return v.length === 1 && rows.length === 1;
  if (v.every((x) => x === v[0])) return false;
  const counter = v.every((x, i) => Number.isInteger(x) && (i === 0 || x === v[i - 1] || x === v[i - 1] + 1));
  return !counter;
}

/** The figures every run has, from its trajectory, slots and metrics. */
export function genericFigures(run: RunData): Figure[] {
  const figs: (Figure | undefined)[] = [];
  const traj = run.trajectory;
  const units = run.units ?? {};
  const slots = new Set(traj.map((r) => r.slot));
  const utilCols = numericCols(traj, (c) => !c.startsWith('u_'));
  const allCols = numericCols(traj, (c) => BOOKKEEPING.has(c) || c.startsWith('u_'));
  const trajCols = allCols.filter((c) => meaningfulSeries(traj, c));
  const dropped = allCols.filter((c) => !trajCols.includes(c));
  if (traj.length) {
    const rows = traj.map((r, i) => ({ ...r, step: i + 1 }));
    const single = slots.size <= 1;
    figs.push(
      seriesFigure('convergence', single ? 'Convergence per message round' : `Convergence per message round (${slots.size} slots, rounds numbered through the run)`, rows, 'step', trajCols, {
        xTitle: single ? 'message round' : 'message round, cumulative over slots',
        xUnit: 'count',
        units,
        caption: `The values the leader recorded at each message round that change from round to round (trajectory.csv)${dropped.length ? `; left out as constant or counters: ${dropped.join(', ')}` : ''}.`,
      }),
    );
    if (utilCols.length)
      figs.push(linesFigure('utilities', 'Each user’s utility per round', rows, 'step', utilCols, { xTitle: 'message round', xUnit: 'count', yTitle: 'utility', yUnit: units.utility ?? 'utils', units, legend: utilCols.length <= 10, caption: `${utilCols.length} users (trajectory.csv keeps up to 50).` }));
  }
  if (run.slots.length > 1) {
    const cols = numericCols(run.slots, (c) => BOOKKEEPING.has(c) || c.startsWith('ref.') || c === 'messages' || c === 'timeToEquilibriumMs' || c === 'rounds')
      .filter((c) => meaningfulSeries(run.slots, c))
      .slice(0, 12);
    figs.push(seriesFigure('per-slot', 'Per-slot outcomes', run.slots, 'slot', cols, { xUnit: 'index', units, caption: 'One point per slot (slots.csv).' }));
    figs.push(seriesFigure('per-slot-cost', 'Per-slot protocol cost', run.slots, 'slot', ['rounds', 'messages', 'timeToEquilibriumMs'], { xUnit: 'index', units }));
  }
  const lat: Row[] = [];
  for (const s of run.metrics?.perSlot ?? []) (s.roundLatencyMs ?? []).forEach((ms: number, i: number) => lat.push({ step: lat.length + 1, slot: s.slot, kind: s.roundKinds?.[i] ?? 'round', latencyMs: ms }));
  if (lat.length > SUMMARISE_ABOVE)
    figs.push({
      id: 'round-latency',
      title: `Message round latency: distribution over the run's ${lat.length} rounds, per kind of round`,
      caption: 'Wall time of every round, from the leader’s request to the last reply (metrics.json): box = quartiles, whiskers = 1.5 IQR, dots beyond.',
      spec: {
        width: 620,
        height: 200,
        data: { values: lat },
        mark: { type: 'boxplot', extent: 1.5 },
        encoding: {
          x: { field: 'kind', type: 'nominal', title: 'kind of round' },
          y: { field: 'latencyMs', type: 'quantitative', title: 'round latency (ms)', scale: { type: 'symlog' } },
          color: { field: 'kind', type: 'nominal', legend: null },
        },
      },
    });
  else if (lat.length)
    figs.push({
      id: 'round-latency',
      title: 'Message round latency',
      caption: 'Wall time of every round, from the leader’s request to the last reply (metrics.json), coloured by the round’s kind.',
      spec: {
        width: 620,
        height: 200,
        data: { values: thin(lat, 4000) },
        mark: { type: 'point', filled: true, size: 18 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'message round, cumulative (count)', axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'latencyMs', type: 'quantitative', title: 'round latency (ms)', scale: { type: 'symlog' } },
          color: { field: 'kind', type: 'nominal', title: 'kind' },
        },
      },
    });
  return figs.filter((f): f is Figure => f !== undefined);
}

let vegaMods: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;

/** Renders a Vega-Lite spec to an SVG string in Node (no browser, no canvas). */
export async function renderSvg(spec: VlSpec): Promise<string> {
  vegaMods ??= Promise.all([import('vega'), import('vega-lite')]);
  const [vega, vl] = await vegaMods;
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', config: { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelLimit: 180 } }, ...spec };
  const view = new vega.View(vega.parse(vl.compile(full as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (x: unknown) => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e7 ? String(Number(x.toPrecision(6))) : x.toExponential(4)) : x === null || x === undefined ? '' : String(x));

function table(rows: Record<string, unknown>[], cols?: string[]): string {
  if (!rows.length) return '<p class="muted">none</p>';
  const cs = cols ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return `<table><thead><tr>${cs.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${cs.map((c) => `<td>${esc(typeof r[c] === 'object' && r[c] !== null ? JSON.stringify(r[c]) : num(r[c]))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/**
 * The slots table: a text column with the same value in every row shown (what each slot was compared
 * with, typically) is said once above the table instead of in every row, so the numbers keep their width.
 */
function slotsTable(rows: Record<string, unknown>[]): string {
  if (rows.length < 2) return table(rows);
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const same = cols.filter((c) => typeof rows[0][c] === 'string' && String(rows[0][c]).length > 24 && rows.every((r) => r[c] === rows[0][c]));
  const said = same.map((c) => `<p class="muted">${esc(c)}, every slot shown: ${esc(rows[0][c])}</p>`).join('');
  return said + table(rows, cols.filter((c) => !same.includes(c)));
}

function metricsRows(s: Record<string, any>): Record<string, unknown>[] {
  const m = s.runMetrics;
  if (!m) return [];
  const rows: Record<string, unknown>[] = [
    { metric: 'slots', value: m.slots },
    { metric: 'message rounds', value: m.rounds },
    { metric: 'messages (mechanism)', value: m.messages },
    { metric: 'bytes (mechanism)', value: m.bytes },
    { metric: 'time to equilibrium p50 / max (ms)', value: `${num(m.timeToEquilibriumMs?.p50)} / ${num(m.timeToEquilibriumMs?.max)}` },
    { metric: 'round latency p50 / p95 / max (ms)', value: `${num(m.roundLatencyMs?.p50)} / ${num(m.roundLatencyMs?.p95)} / ${num(m.roundLatencyMs?.max)}` },
    { metric: 'agents joined p50 / max (ms from spawn)', value: `${num(m.agentStartToJoinedMs?.p50)} / ${num(m.agentStartToJoinedMs?.max)}` },
    { metric: 'agent processes', value: m.workers },
    { metric: 'messages published by mecsim / received by the server', value: `${m.counters?.ours?.published} / ${m.counters?.server?.inMsgs ?? 'n/a (external server)'}` },
    { metric: 'dropped messages', value: Object.entries(m.drops ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '0' },
    { metric: 'agent CPU since ready (ms)', value: m.processes?.cpuSinceReadyMs },
    ...(typeof m.processes?.cpuSinceSlot1Ms === 'number' ? [{ metric: 'agent CPU since slot 1 began (ms; the first slot is where V8 compiles the hot path)', value: m.processes.cpuSinceSlot1Ms }] : []),
    { metric: 'peak RSS of agent processes, summed (MiB)', value: m.processes?.peakRssBytesSum !== undefined ? num(m.processes.peakRssBytesSum / 2 ** 20) : '' },
  ];
  // not the orchestrator's peak, nor the total with it: that is taken after this report is drawn (summary.json has both)
  if (typeof m.processes?.natsServerRssBytes === 'number') rows.push({ metric: 'nats-server’s memory at the end (MiB)', value: num(m.processes.natsServerRssBytes / 2 ** 20) });
  // the link model (bus/link.ts): its parameters and what it cost
  const link = linkLine(s);
  if (link) rows.push({ metric: 'link model', value: link.replace(/^\s*link model: /, '') });
  return rows;
}

/** A number rounded to about 4 significant digits for a table (integers as they are; tiny or huge ones in exponent form). */
export function sig4(x: unknown): string {
  if (typeof x !== 'number') return x === null || x === undefined ? '—' : String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e9)) return x.toExponential(3).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(x.toPrecision(4)));
}

/** One claim's numbers as text: "label value unit; …" (unitless ratios and counts say so). */
export function claimNumbersText(numbers: { label: string; value: unknown; unit?: string }[]): string {
  return numbers.map((x) => `${x.label} ${sig4(x.value)}${x.unit ? ` ${x.unit}` : ''}`).join('; ');
}

/**
 * The paper's claims of a run as table rows {claim, verdict, numbers, note}. The summary holds them in
 * the typed shape (scenarios/types.ts `Claim`); a summary written before that shape (an object keyed by
 * claim, or rows with `holds`) is still shown, its numbers as JSON.
 */
export function claimsRows(s: Record<string, any>): { id: string; claim: string; verdict: string; numbers: string; note: string }[] {
  const c = s.results?.claims;
  if (!c) return [];
  const list: any[] = Array.isArray(c) ? c : Object.entries(c).map(([id, v]) => ({ id, ...(typeof v === 'object' && v !== null ? v : { holds: v }) }));
  return list.map((x) => {
    const verdict = typeof x.verdict === 'string' ? x.verdict : x.holds === true ? 'holds' : x.holds === false ? 'fails' : x.holds === null ? 'not-evaluable' : '';
    const numbers = Array.isArray(x.numbers) && x.numbers.every((y: any) => y && typeof y.label === 'string') ? claimNumbersText(x.numbers) : (() => {
      const { id, claim, name, statement, holds, verdict: _v, note, ...rest } = x;
      const raw = rest.numbers ?? rest.detail ?? rest;
      return typeof raw === 'string' ? raw : JSON.stringify(raw);
    })();
    return { id: String(x.id ?? ''), claim: String(x.statement ?? x.claim ?? x.name ?? x.id), verdict, numbers, note: typeof x.note === 'string' ? x.note : '' };
  });
}

/** The status line of a report: a `running` run whose orchestrator is gone is shown as abandoned (see runLock.ts). */
export function statusLine(dir: string, s: Record<string, any>): { status: string; line: string } {
  if (s.status === 'complete') return { status: s.status, line: `complete — the distributed run ${runVerdict(s.perSlot ?? [], Boolean(s.ok))}` };
  const st = s.status === 'running' ? runStatus(dir) : { status: String(s.status) };
  if (st.status === 'abandoned') return { status: st.status, line: `abandoned: ${st.note}` };
  const note = 'note' in st && st.note ? ` (${st.note})` : '';
  return { status: st.status, line: `${s.status}${s.error ? `: ${s.error}` : ''}${note}` };
}

type Flat = { key: string; value: unknown };

/**
 * A nested config or outcome flattened to dotted keys for a table. A long list (more than 6 items,
 * e.g. the users) is summarised per field as min / median / max over its items, so the table stays
 * readable at 10,000 users; the full values are in config.json and summary.json.
 *
 * What is below `x` is read as JSON.parse would read it back from its file (jsonText.ts's jsonForm):
 * a run's report takes its configuration as it is, not a copy made to look read back.
 */
export function flattenForTable(x: unknown, prefix = ''): Flat[] {
  const out: Flat[] = [];
  new TableLeaves((key, value) => out.push({ key, value })).walk(x, prefix);
  return out;
}

/**
 * The walk behind flattenForTable. Each leaf goes straight to `emit`: an item of a long list makes
 * no list of its own leaves, so flattening 100,000 users allocates little beyond the values kept.
 */
class TableLeaves {
  constructor(private readonly emit: (key: string, value: unknown) => void) {}

  walk(x: unknown, prefix: string): void {
    if (x === null || typeof x !== 'object') return this.emit(prefix, x);
    if (!Array.isArray(x)) {
      // for…in, not Object.keys: no array of keys made per item (the same own keys, in the same order)
      for (const k in x) {
        if (!Object.hasOwn(x, k)) continue;
        const v = jsonForm((x as Record<string, unknown>)[k], k);
        if (v !== undefined) this.walk(v, prefix ? `${prefix}.${k}` : k);
      }
      return;
    }
    if (x.length <= 6) {
      for (let i = 0; i < x.length; i++) this.walk(jsonForm(x[i], i) ?? null, `${prefix}[${i}]`);
      return;
    }
    const leaves = new Map<string, unknown[]>();
    const collect = new TableLeaves((key, value) => {
      const vs = leaves.get(key);
      if (vs) vs.push(value);
      else leaves.set(key, [value]);
    });
    for (let i = 0; i < x.length; i++) collect.walk(jsonForm(x[i], i) ?? null, '');
    for (const [k, vs] of leaves) this.emit(`${prefix}[${x.length}]${k && !k.startsWith('[') ? '.' : ''}${k}`, spread(vs));
  }
}

/** min / median / max of numbers (or the distinct values of anything else) */
function spread(vs: unknown[]): string {
  if (vs.length && vs.every((v) => typeof v === 'number')) {
    // a typed array sorts unboxed numbers in place: 100,000 of them as a plain array were a boxed copy each
    const nums = Float64Array.from(vs as number[]).sort();
    if (nums[0] === nums[nums.length - 1]) return `all ${sig4(nums[0])}`;
    return `min ${sig4(nums[0])} · median ${sig4(nums[Math.floor(nums.length / 2)])} · max ${sig4(nums[nums.length - 1])}`;
  }
  const distinct = [...new Set(vs.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))))];
  return distinct.length <= 4 ? distinct.join(' / ') : `${distinct.length} distinct values`;
}

const cell = (v: unknown) => (typeof v === 'number' ? sig4(v) : v === null || v === undefined ? '—' : String(v));

/** The resolved config as rows {parameter, value, unit}. */
export function parameterRows(cfg: Record<string, unknown> | undefined, units: Record<string, string>): Record<string, string>[] {
  if (!cfg) return [];
  return flattenForTable(cfg).map((f) => ({ parameter: f.key, value: cell(f.value), unit: unitOf(f.key.replace(/\[\d+\]/g, ''), units) ?? '' }));
}

/** A slot's outcome beside its reference, as rows {quantity, distributed, reference, unit}. */
export function outcomeRows(slot: Record<string, any> | undefined, units: Record<string, string>, allSlots: Record<string, any>[] = []): Record<string, string>[] {
  if (!slot?.equilibrium) return [];
  const eq = new Map(flattenForTable(slot.equilibrium).map((f) => [f.key, f.value]));
  const ref = new Map(flattenForTable(slot.reference ?? {}).map((f) => [f.key, f.value]));
  const keys = [...eq.keys(), ...[...ref.keys()].filter((k) => !eq.has(k))].filter((k) => k !== '');
  // with several slots, the mean over them of each number of the equilibrium
  const meanOf = (k: string) => {
    const xs = allSlots.map((r) => r.equilibrium?.[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return xs.length === allSlots.length && xs.length > 1 ? sig4(xs.reduce((a, b) => a + b, 0) / xs.length) : '';
  };
  return keys.map((k) => ({ quantity: k, distributed: eq.has(k) ? cell(eq.get(k)) : '', reference: ref.has(k) ? cell(ref.get(k)) : '', ...(allSlots.length > 1 ? { 'distributed, mean over slots': meanOf(k) } : {}), unit: unitOf(k.replace(/\[\d+\]/g, ''), units) ?? '' }));
}

/**
 * Extra HTML for the report's header, one function per contributor (e.g. the provenance block:
 * versions, commit, host, command line). Each gets the summary and returns HTML, or '' for nothing.
 */
export const reportHeaderExtras: ((summary: Record<string, any>) => string)[] = [];

/** config.json, or the summary's copy where it is missing or damaged */
function configOf(dir: string, s: Record<string, any>): Record<string, unknown> | undefined {
  const cfgText = existsSync(join(dir, 'config.json')) ? readFileSync(join(dir, 'config.json'), 'utf8') : undefined;
  try {
    if (cfgText !== undefined) return JSON.parse(cfgText);
  } catch {
    // a damaged config.json: the summary's copy, if any, stands
  }
  return s.config;
}

/**
 * Builds report.html for a run folder; returns its path, the figures it holds and the run's status.
 * `parsed`: from the run that just wrote them (see `loadRun`), summary.json as JSON.parse would give
 * it and config.json's object as written (its table reads it as read back, see flattenForTable).
 */
export async function writeReport(dir: string, parsed?: { summary: unknown; config: unknown }): Promise<{ path: string; figures: string[]; status: string; statusLine: string }> {
  const run = loadRun(dir, parsed);
  const s = run.summary;
  const scenario = await scenarioOf(run);
  run.units = { ...GENERIC_UNITS, ...(scenario?.units ?? {}) };
  const figs = [...genericFigures(run), ...(await scenarioFigures(run))];
  const rendered: string[] = [];
  for (const f of figs) {
    let svg: string;
    try {
      svg = await renderSvg(f.spec);
      // each figure on its own, as SVG with the data behind it as CSV, to go into a paper as is
      writeAtomic(join(dir, 'figures', `${f.id}.svg`), svg);
      const values = (f.spec.data as { values?: Row[] } | undefined)?.values;
      if (Array.isArray(values)) writeAtomic(join(dir, 'figures', `${f.id}.csv`), toCsv(values));
    } catch (e) {
      svg = `<p class="error">figure could not be rendered: ${esc((e as Error).message)}</p>`;
    }
    rendered.push(`<figure id="fig-${esc(f.id)}" data-figure="${esc(f.id)}"><figcaption><b>${esc(f.title)}</b>${f.caption ? ` — ${esc(f.caption)}` : ''} <span class="muted">(figures/${esc(f.id)}.svg, data figures/${esc(f.id)}.csv)</span></figcaption>${svg}</figure>`);
  }
  const cfg = parsed ? (parsed.config as Record<string, unknown>) : configOf(dir, s);
  const params = parameterRows(cfg, run.units);
  const outcome = outcomeRows(s.perSlot?.[0], run.units, s.perSlot ?? []);
  const extras = reportHeaderExtras.map((f) => {
    try {
      return f(s);
    } catch {
      return '';
    }
  });
  const per: any[] = s.perSlot ?? [];
  // the outcome in the slot table: the equilibrium's numbers that change from slot to slot (up to 4), with units
  const eqCols = per.length > 1 ? Object.keys(per[0]?.equilibrium ?? {}).filter((k) => per.some((r) => typeof r.equilibrium?.[k] === 'number') && new Set(per.map((r) => r.equilibrium?.[k])).size > 1).slice(0, 4) : [];
  const eqHead = (k: string) => `${k}${unitOf(k, run.units) ? ` (${unitOf(k, run.units)})` : ''}`;
  const slotRows = per.slice(0, 30).map((r) => ({
    slot: r.slot,
    ...Object.fromEntries(eqCols.map((k) => [eqHead(k), typeof r.equilibrium?.[k] === 'number' ? sig4(r.equilibrium[k]) : ''])),
    comparedWith: againstOf(r.compare ?? {}),
    equals: r.compare?.ok,
    gap: typeof r.compare?.gap === 'number' ? sig4(r.compare.gap) : '',
    optimum: r.compare ? optimumClause(r.compare) : '',
    rounds: r.metrics?.rounds,
    messages: r.metrics?.messages,
    'time to equilibrium (ms)': typeof r.metrics?.timeToEquilibriumMs === 'number' ? sig4(r.metrics.timeToEquilibriumMs) : '',
    note: r.compare?.note ?? '',
  }));
  const { status: state, line: status } = statusLine(dir, s);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mecsim ${esc(s.scenario)} · ${esc(s.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}figure{margin:1.5rem 0;max-width:100%;overflow:hidden}figure svg{max-width:100%;height:auto}figcaption{margin-bottom:.4rem}.muted{color:#777}.error{color:#b00}
.status{padding:.4rem .6rem;background:${s.status === 'complete' && s.ok ? '#e8f5e9' : '#fff3e0'};display:inline-block}
td{max-width:640px;overflow-wrap:anywhere}
</style></head><body>
<h1>mecsim · ${esc(s.scenario)} · ${esc(s.mechanism)} · seed ${esc(s.seed)}</h1>
<p class="status">${esc(status)}</p>
<p>run <code>${esc(s.runId)}</code> · ${esc(s.agents?.followers)} followers + leader ${esc(s.agents?.leader)} · placement ${esc(s.placement)} (${esc(s.workers)} processes) · started ${esc(s.startedAt)}, finished ${esc(s.finishedAt ?? '—')}</p>
${provenanceHtml(s.provenance)}
<!-- header extras -->${extras.join('\n')}
<h2>Outcome</h2>${outcome.length ? `<p class="muted">Slot 0: the distributed run's equilibrium beside the centralized reference${(s.perSlot?.length ?? 0) > 1 ? `; the other ${s.perSlot.length - 1} slots are in slots.csv and the figures` : ''}. Lists of more than 6 items are summarised (min · median · max).</p>${table(outcome, ['quantity', 'distributed', 'reference', ...((s.perSlot?.length ?? 0) > 1 ? ['distributed, mean over slots'] : []), 'unit'])}` : '<p class="muted">no slot finished</p>'}
${claimsRows(s).length ? `<h2>The paper's claims</h2>${table(claimsRows(s), ['claim', 'verdict', 'numbers', 'note'])}` : ''}
<h2>Figures</h2>
${rendered.join('\n')}
<h2>Parameters</h2><p class="muted">The resolved configuration (config.json; feed it back with <code>--config</code>). Lists of more than 6 items are summarised.</p>${table(params, ['parameter', 'value', 'unit'])}
<h2>Slots</h2>${slotsTable(slotRows)}${per.length > 30 ? `<p class="muted">… ${per.length - 30} more slots in slots.csv</p>` : ''}
<h2>Metrics</h2>${table(metricsRows(s), ['metric', 'value'])}
<p class="muted">Generated by <code>mecsim report ${esc(dir)}</code> from summary.json, trajectory.csv, slots.csv and metrics.json in the same folder.</p>
</body></html>
`;
  const path = join(dir, 'report.html');
  writeAtomic(path, html);
  return { path, figures: figs.map((f) => f.id), status: state, statusLine: status };
}
