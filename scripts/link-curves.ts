/**
 * Time-to-equilibrium against the link model's round trip and loss, for every scenario's default
 * mechanism (small N, one slot), run through the public runScenario API over one private NATS
 * server. Writes docs/figures/link/link-curves.csv (tidy: one row per run) and one SVG per
 * quantity. Every run is checked against its centralized reference; a run that does not equal it
 * is named on stderr and the script exits 1 (the CSV still records it). N is the number of
 * followers: users, or wholesale-buyback's MEC servers.
 *
 *   npx tsx scripts/link-curves.ts [--out docs/figures/link] [--seeds 1] [--users 4] [--figures-only]
 *
 * (`--figures-only` redraws the SVGs from the CSV already in --out, running nothing.)
 *
 * The grid: rtt ∈ {0, 5, 20, 50, 100} ms at loss 0, and loss ∈ {0.01, 0.05} at rtt 20 ms (loss is
 * measured at one round trip only, to keep the grid to a quarter of an hour on a loaded 2-core box).
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { catalog } from '../catalog/catalog.ts';
import { benchPlacement } from '../orchestrator/bench.ts';
import { acquireNats } from '../orchestrator/natsServer.ts';
import { renderSvg } from '../orchestrator/report.ts';
import { runScenario } from '../orchestrator/run.ts';
import { mechanismOf, partsOf } from '../scenarios/contract.ts';

const SCENARIOS = ['stackelberg', 'futures-spot', 'budget-nash', 'wholesale-buyback', 'offload-energy'];
const RTTS_MS = [0, 5, 20, 50, 100];
const LOSSES = [0.01, 0.05];
const LOSS_AT_RTT_MS = 20;

const COLUMNS = ['scenario', 'mechanism', 'rtt_ms', 'loss', 'seed', 'rounds', 'time_to_equilibrium_ms', 'round_p50_ms', 'link_retransmissions', 'equals_reference'] as const;
type CurveRow = Record<(typeof COLUMNS)[number], string | number | boolean>;

/** The grid's points: the round-trip curve at loss 0, then the loss curve at one round trip. */
export function grid(): { rttMs: number; loss: number }[] {
  return [...RTTS_MS.map((rttMs) => ({ rttMs, loss: 0 })), ...LOSSES.map((loss) => ({ rttMs: LOSS_AT_RTT_MS, loss }))];
}

/** Writes through a temporary file and a rename: never a half-written file. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function readCsv(path: string): CurveRow[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split(',');
  if (cols.join(',') !== COLUMNS.join(',')) throw new Error(`${path}: its columns are not ${COLUMNS.join(',')}`);
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], cols[i] === 'scenario' || cols[i] === 'mechanism' ? v : cols[i] === 'equals_reference' ? v === 'true' : Number(v)])) as CurveRow);
}

const r1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/figures/link' }, seeds: { type: 'string', default: '1' }, users: { type: 'string', default: '4' }, 'figures-only': { type: 'boolean', default: false } } });
  const out = resolve(values.out!);
  if (values['figures-only']) {
    // redraw the figures from the CSV a previous run wrote, running nothing
    await writeFigures(out, readCsv(join(out, 'link-curves.csv')));
    return 0;
  }
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const users = Number(values.users);
  if (!seeds.length || !Number.isInteger(users) || users < 1) throw new Error('--seeds and --users must be positive integers');
  mkdirSync(out, { recursive: true });
  const runsDir = mkdtempSync(join(tmpdir(), 'mecsim-link-curves-'));
  // Ctrl-C ends the run under way cleanly (its agents and the server stop, the scratch folder goes); a second exits at once
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: stopping the run under way\n');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const nats = await acquireNats(undefined);
  const rows: CurveRow[] = [];
  const differ: string[] = [];
  try {
    for (const id of SCENARIOS) {
      const scenario = catalog.get(id);
      if (!scenario) throw new Error(`no scenario ${id}`);
      for (const seed of seeds) {
        // wholesale-buyback's followers are MEC servers (no users): its size is --mecs
        const base = scenario.resolve(id === 'wholesale-buyback' ? { seed, slots: 1, options: { mecs: users } } : { seed, slots: 1, users, options: {} });
        const mechanism = mechanismOf(scenario, base);
        const placement = benchPlacement(partsOf(scenario, mechanism).agents(base).length - 1);
        for (const { rttMs, loss } of grid()) {
          if (interrupt.signal.aborted) throw new Error('interrupted; nothing written');
          const cfg = { ...base, link: { rtt: rttMs, ...(loss ? { loss } : {}) } };
          const t0 = performance.now();
          const s = (await runScenario({ scenario, cfg, placement, outDir: runsDir, natsUrl: nats.url, roundTimeoutMs: 60_000, report: false, signal: interrupt.signal })) as Record<string, any>;
          const slots: any[] = s.perSlot;
          const equals = s.status === 'complete' && slots.every((p) => p.compare?.ok === true);
          const row: CurveRow = {
            scenario: id,
            mechanism,
            rtt_ms: rttMs,
            loss,
            seed,
            rounds: slots.reduce((a, p) => a + p.metrics.rounds, 0),
            time_to_equilibrium_ms: r1(slots.reduce((a, p) => a + p.metrics.timeToEquilibriumMs, 0)),
            round_p50_ms: r1(s.runMetrics.roundLatencyMs.p50),
            link_retransmissions: s.faults?.linkRetransmissions ?? 0,
            equals_reference: equals,
          };
          rows.push(row);
          if (!equals) differ.push(`${id} ${mechanism} rtt ${rttMs} ms loss ${loss} seed ${seed} (${s.status}; ${slots.map((p) => p.compare?.note).filter(Boolean).join('; ')})`);
          process.stderr.write(`${id} ${mechanism} rtt ${rttMs} ms loss ${loss}: ${row.rounds} rounds, ${row.time_to_equilibrium_ms} ms to equilibrium, round p50 ${row.round_p50_ms} ms, ${row.link_retransmissions} retransmissions, ${equals ? 'equals' : 'DIFFERS from'} its reference (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
        }
      }
    }
  } finally {
    await nats.stop();
    rmSync(runsDir, { recursive: true, force: true });
  }
  writeAtomic(join(out, 'link-curves.csv'), [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => String(r[c])).join(','))].join('\n') + '\n');
  await writeFigures(out, rows);
  if (differ.length) {
    process.stderr.write(`${differ.length} run(s) did not equal the reference:\n  ${differ.join('\n  ')}\n`);
    return 1;
  }
  process.stderr.write(`all ${rows.length} runs equal their references; wrote ${out}\n`);
  return 0;
}

/**
 * One figure per quantity and axis: a panel per scenario with its own y scale (futures-spot's 640
 * rounds would flatten every other curve on a shared one), the seeds' mean at each point.
 */
async function writeFigures(out: string, rows: CurveRow[]): Promise<void> {
  const quantities = [
    { col: 'time_to_equilibrium_ms', label: 'time to equilibrium (ms)' },
    { col: 'round_p50_ms', label: 'round latency p50 (ms)' },
    { col: 'link_retransmissions', label: 'link retransmissions' },
  ] as const;
  const axes = [
    { id: 'rtt', x: 'rtt_ms', title: 'modelled round trip (ms), loss 0', pick: (r: CurveRow) => r.loss === 0 },
    { id: 'loss', x: 'loss', title: `loss probability, round trip ${LOSS_AT_RTT_MS} ms`, pick: (r: CurveRow) => r.rtt_ms === LOSS_AT_RTT_MS },
  ] as const;
  for (const axis of axes)
    for (const q of quantities) {
      if (axis.id === 'rtt' && q.col === 'link_retransmissions') continue; // no loss, no retransmission
      const values = rows.filter(axis.pick).map((r) => ({ scenario: `${r.scenario} (${r.mechanism})`, x: Number(r[axis.x]), y: Number(r[q.col]) }));
      const spec = {
        title: `${q.label} against ${axis.id === 'rtt' ? 'round trip' : 'loss'} (each scenario's default mechanism, one slot)`,
        data: { values },
        transform: [{ aggregate: [{ op: 'mean', field: 'y', as: 'y' }], groupby: ['scenario', 'x'] }],
        facet: { field: 'scenario', type: 'nominal', title: null, sort: SCENARIOS.map((id) => values.find((v) => v.scenario.startsWith(`${id} `))?.scenario).filter(Boolean) },
        columns: 3,
        resolve: { scale: { y: 'independent' } },
        spec: {
          width: 200,
          height: 140,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: axis.title },
            y: { field: 'y', type: 'quantitative', title: q.label },
          },
        },
      };
      writeAtomic(join(out, `${q.col}-vs-${axis.id}.svg`), await renderSvg(spec));
    }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`link-curves: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
