/**
 * `mecsim compare <run-dir…>`: finished runs side by side. One column per run; rows: what identifies
 * it (scenario, mechanism, seed, users), the parameters that differ between the runs, the outcome of
 * slot 0 (distributed and reference), the protocol's cost and each of the paper's claims' verdicts.
 * Written as compare-<time>.html (self-contained, no script), .csv (the same table) and .svg (the
 * equilibrium's numbers per run, one panel per quantity, one colour per mechanism).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { claimsRows, flattenForTable, loadRun, renderSvg, sig4 } from './report.ts';
import { barsFigure, GENERIC_UNITS, unitOf } from '../scenarios/common/figures.ts';
import { toCsv, writeAtomic } from './results.ts';
import { scenarioOf } from './figures.ts';
import { humanStamp } from './sweep.ts';

interface Compared {
  label: string;
  values: Map<string, unknown>;
}

function claimFile(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx'));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The run's resolved config (config.json), or undefined if it is missing or damaged. */
function configOf(dir: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export async function writeComparison(dirs: string[], outDir: string): Promise<{ html: string; csv: string; svg?: string }> {
  if (dirs.length < 1) throw new Error('name at least one run folder');
  const runs = dirs.map((d) => loadRun(d));
  const units: Record<string, string> = { ...GENERIC_UNITS };
  for (const r of runs) Object.assign(units, (await scenarioOf(r))?.units ?? {});
  const cols: Compared[] = runs.map((r) => {
    const s = r.summary;
    const v = new Map<string, unknown>();
    v.set('run', s.runId);
    v.set('scenario', s.scenario);
    v.set('mechanism', s.mechanism);
    v.set('seed', s.seed);
    v.set('users', s.agents?.followers);
    v.set('status', s.status === 'complete' ? `complete, ${s.ok ? 'equals' : 'DIFFERS from'} its reference` : s.status);
    for (const f of flattenForTable(configOf(r.dir) ?? s.config ?? {})) v.set(`param: ${f.key}`, f.value);
    const p = s.perSlot?.[0];
    for (const f of flattenForTable(p?.equilibrium ?? {})) v.set(`outcome: ${f.key}`, f.value);
    for (const f of flattenForTable(p?.reference ?? {})) v.set(`reference: ${f.key}`, f.value);
    const m = s.runMetrics ?? {};
    v.set('cost: message rounds', m.rounds);
    v.set('cost: messages', m.messages);
    v.set('cost: time to equilibrium p50 (ms)', m.timeToEquilibriumMs?.p50);
    for (const c of claimsRows(s)) v.set(`claim: ${c.claim}`, c.verdict);
    return { label: `${s.mechanism} · seed ${s.seed} · ${String(s.runId).slice(-4)}`, values: v };
  });
  // the rows: identity and outcome always; a parameter only where the runs differ
  const keys = [...new Set(cols.flatMap((c) => [...c.values.keys()]))].filter((k) => {
    if (!k.startsWith('param: ')) return true;
    const vs = cols.map((c) => JSON.stringify(c.values.get(k) ?? null));
    return new Set(vs).size > 1 || cols.length === 1;
  });
  const cell = (x: unknown) => (typeof x === 'number' ? sig4(x) : x === undefined || x === null ? '' : String(x));
  const unitFor = (k: string) => {
    const bare = k.replace(/^(param|outcome|reference|cost): /, '').replace(/\[\d+\]/g, '');
    return k.startsWith('claim: ') || ['run', 'scenario', 'mechanism', 'status'].includes(k) ? '' : (unitOf(bare, units) ?? '');
  };
  const table = keys.map((k) => ({ quantity: k, unit: unitFor(k), ...Object.fromEntries(cols.map((c, i) => [`${i + 1}: ${c.label}`, cell(c.values.get(k))])) }));
  const stamp = humanStamp();
  // the page's name is claimed by creating it (fails if another comparison in the same second has it)
  mkdirSync(outDir, { recursive: true });
  let base = join(outDir, `compare-${stamp}`);
  for (let n = 2; !claimFile(`${base}.html`); n++) base = join(outDir, `compare-${stamp}-${n}`);
  // an empty claimed page never stays behind: on any failure it is removed
  try {
    writeAtomic(`${base}.csv`, toCsv(table));
    const bars = cols.flatMap((c, i) =>
      [...c.values]
        .filter(([k, v]) => k.startsWith('outcome: ') && typeof v === 'number' && Number.isFinite(v))
        .map(([k, v]) => ({ group: `${c.values.get('mechanism')} #${i + 1}`, series: `${k.slice('outcome: '.length)} (${unitFor(k) || 'unit not declared'})`, value: v as number })),
    );
    // only the quantities every run has (the same scenario's), at most 9 panels
    const common = [...new Set(bars.map((b) => b.series))].filter((s) => bars.filter((b) => b.series === s).length === cols.length).slice(0, 9);
    const fig = barsFigure('compare', 'Slot 0 outcome per run', bars.filter((b) => common.includes(b.series)), { groupTitle: 'run' });
    let svg: string | undefined;
    if (fig) {
      svg = await renderSvg(fig.spec);
      writeAtomic(`${base}.svg`, svg);
    }
    const head = ['quantity', 'unit', ...cols.map((c, i) => `${i + 1}: ${c.label}`)];
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mecsim compare</title><style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4}figure{margin:1.5rem 0;max-width:100%;overflow:hidden}.muted{color:#777}</style></head><body>
  <h1>mecsim compare · ${cols.length} runs</h1>
  <p class="muted">Parameters are listed only where the runs differ; outcomes are slot 0's (each run's report.html has every slot). Runs: ${dirs.map(esc).join(', ')}.</p>
  <table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${table.map((r) => `<tr>${head.map((h) => `<td>${esc((r as Record<string, string>)[h] ?? '')}</td>`).join('')}</tr>`).join('')}</table>
  ${svg ? `<figure data-figure="compare">${svg}</figure>` : ''}
  </body></html>
  `;
    writeAtomic(`${base}.html`, html);
    return { html: `${base}.html`, csv: `${base}.csv`, svg: svg ? `${base}.svg` : undefined };
  } catch (e) {
    rmSync(`${base}.html`, { force: true });
    throw e;
  }
}
