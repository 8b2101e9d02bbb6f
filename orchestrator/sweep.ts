/**
 * `mecsim sweep <scenario> --users 10,100,1000,10000 [--repeat R]`: one distributed run per size and
 * repeat, then a CSV (one row per run), a per-size CSV (median, min and max over repeats) and a
 * figure of rounds, messages, time-to-equilibrium and peak memory against N (sweep.svg and
 * sweep.html, rendered by Vega-Lite).
 */
import { join } from 'node:path';
import type { JsonObject, Scenario } from '../scenarios/types.ts';
import { renderSvg, type VlSpec } from './report.ts';
import { quantile, toCsv, writeAtomic } from './results.ts';
import { RunError, runScenario, type Placement } from './run.ts';
import { runVerdict } from './verdict.ts';

export interface SweepRow {
  users: number;
  repeat: number;
  runId: string;
  ok: boolean;
  agents: number;
  processes: number;
  slots: number;
  rounds: number;
  messages: number;
  bytes: number;
  /** median over the run's slots */
  timeToEquilibriumMs: number;
  roundP50Ms: number;
  agentsJoinedMaxMs: number;
  peakMemoryMiB: number;
  wallMs: number;
}

export const SWEEP_METRICS: { key: keyof SweepRow; title: string }[] = [
  { key: 'rounds', title: 'message rounds' },
  { key: 'messages', title: 'messages' },
  { key: 'timeToEquilibriumMs', title: 'time to equilibrium (ms)' },
  { key: 'peakMemoryMiB', title: 'peak memory, all processes (MiB)' },
];

export function sweepRow(users: number, repeat: number, s: Record<string, any>, wallMs: number): SweepRow {
  const m = s.runMetrics;
  const p = m.processes ?? {};
  return {
    users,
    repeat,
    runId: s.runId,
    ok: Boolean(s.ok),
    agents: s.agents?.total ?? 0,
    processes: m.workers,
    slots: m.slots,
    rounds: m.rounds,
    messages: m.messages,
    bytes: m.bytes,
    timeToEquilibriumMs: m.timeToEquilibriumMs.p50,
    roundP50Ms: m.roundLatencyMs.p50,
    agentsJoinedMaxMs: m.agentStartToJoinedMs.max,
    peakMemoryMiB: Math.round(((p.peakRssBytesTotal ?? p.peakRssBytesSum ?? 0) / 2 ** 20) * 10) / 10,
    wallMs: Math.round(wallMs),
  };
}

/** Per size: median, min and max of every metric over the repeats. */
export function aggregate(rows: SweepRow[]): Record<string, number>[] {
  const sizes = [...new Set(rows.map((r) => r.users))].sort((a, b) => a - b);
  return sizes.map((n) => {
    const rs = rows.filter((r) => r.users === n);
    const out: Record<string, number> = { users: n, repeats: rs.length, ok: rs.filter((r) => r.ok).length };
    for (const { key } of [...SWEEP_METRICS, { key: 'wallMs' as const }, { key: 'roundP50Ms' as const }]) {
      const xs = rs.map((r) => Number(r[key]));
      out[`${key}.median`] = quantile(xs, 0.5);
      out[`${key}.min`] = Math.min(...xs);
      out[`${key}.max`] = Math.max(...xs);
    }
    return out;
  });
}

export function sweepSpec(scenario: string, mechanism: string, rows: SweepRow[]): VlSpec {
  const data = rows.flatMap((r) => SWEEP_METRICS.map((m) => ({ users: r.users, repeat: r.repeat, metric: m.title, value: Number(r[m.key]) })));
  return {
    title: `mecsim ${scenario} · ${mechanism}: cost against the number of users (median over repeats, bars: min–max)`,
    data: { values: data },
    facet: { row: { field: 'metric', type: 'nominal', title: null, sort: SWEEP_METRICS.map((m) => m.title) } },
    spec: {
      width: 560,
      height: 150,
      layer: [
        { mark: { type: 'errorbar', extent: 'min-max', ticks: true }, encoding: { x: { field: 'users', type: 'quantitative', scale: { type: 'log' }, title: 'users N' }, y: { field: 'value', type: 'quantitative', title: null, scale: { type: 'log' } } } },
        { mark: { type: 'line', point: true }, encoding: { x: { field: 'users', type: 'quantitative', scale: { type: 'log' }, title: 'users N' }, y: { field: 'value', type: 'quantitative', aggregate: 'median', title: null, scale: { type: 'log' } } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export interface SweepOptions {
  scenario: Scenario;
  /** one resolved configuration per size */
  configs: { users: number; cfg: JsonObject }[];
  repeat: number;
  placement: Placement;
  outDir: string;
  natsUrl?: string;
  roundTimeoutMs?: number;
  signal?: AbortSignal;
  /** before each run (no row) and after it, with its row and the run's verdict (verdict.ts: what its slots equal) */
  onRun?: (i: number, total: number, users: number, repeat: number, row?: SweepRow, verdict?: string) => void;
}

export async function runUserSweep(o: SweepOptions): Promise<{ dir: string; rows: SweepRow[]; aggregate: Record<string, number>[]; files: string[] }> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const dir = join(o.outDir, `sweep-${o.scenario.id}-users-${stamp}`);
  const rows: SweepRow[] = [];
  const total = o.configs.length * o.repeat;
  let i = 0;
  for (const { users, cfg } of o.configs) {
    for (let r = 0; r < o.repeat; r++) {
      // a signal that came between two runs (or as one finished) stops the sweep before the next starts
      if (o.signal?.aborted) throw new RunError('interrupted', 130);
      o.onRun?.(i, total, users, r);
      const t0 = performance.now();
      const s = (await runScenario({ scenario: o.scenario, cfg, placement: o.placement, outDir: dir, natsUrl: o.natsUrl, roundTimeoutMs: o.roundTimeoutMs, signal: o.signal })) as Record<string, any>;
      const row = sweepRow(users, r, s, performance.now() - t0);
      rows.push(row);
      i++;
      o.onRun?.(i, total, users, r, row, runVerdict(s.perSlot ?? [], row.ok));
      // partial results are on disk after every run: an interrupted sweep keeps what it measured
      writeAtomic(join(dir, 'sweep.csv'), toCsv(rows as never));
    }
  }
  const agg = aggregate(rows);
  const mechanism = String(o.configs[0]?.cfg.mechanism ?? o.scenario.defaultMechanism);
  const svg = await renderSvg(sweepSpec(o.scenario.id, mechanism, rows));
  const files = ['sweep.csv', 'sweep-summary.csv', 'sweep.svg', 'sweep.html'].map((f) => join(dir, f));
  writeAtomic(files[1], toCsv(agg));
  writeAtomic(files[2], svg);
  writeAtomic(
    files[3],
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mecsim sweep ${o.scenario.id}</title><style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .5rem}</style></head><body><h1>mecsim sweep · ${o.scenario.id} · ${mechanism}</h1><figure data-figure="sweep">${svg}</figure><h2>Per size (median over ${o.repeat} repeat${o.repeat > 1 ? 's' : ''})</h2><table><tr><th>users</th><th>ok</th>${SWEEP_METRICS.map((m) => `<th>${m.title}</th>`).join('')}</tr>${agg.map((a) => `<tr><td>${a.users}</td><td>${a.ok}/${a.repeats}</td>${SWEEP_METRICS.map((m) => `<td>${Number(a[`${m.key}.median`].toPrecision(6))}</td>`).join('')}</tr>`).join('')}</table><p>Runs: ${rows.map((r) => r.runId).join(', ')} (each folder has its own report.html).</p></body></html>\n`,
  );
  return { dir, rows, aggregate: agg, files };
}
