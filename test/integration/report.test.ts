/**
 * Reports, sweeps and scale: real runs over NATS, the report opened in a real headless Chromium
 * (Debian's `chromium`, driven by playwright-core; .ci/run installs it), a sweep through the CLI, and a
 * 2,000-agent packed run against the reference.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runMecsim } from '../helpers/mecsimProcess.ts';
import { writeReport, parseCsv } from '../../orchestrator/report.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const pexec = promisify(execFile);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', process.env.CHROMIUM_PATH].find((p) => p && existsSync(p));

/** Opens a page in headless Chromium; returns the console errors, page errors and the figures it shows. */
async function openInBrowser(file: string): Promise<{ errors: string[]; figures: { id: string; svgs: number; width: number; height: number }[]; axes: string[]; pageWidth: number; overflow: (string | null)[] }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const figures = await page.$$eval('figure[data-figure]', (fs) =>
      fs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return { id: f.getAttribute('data-figure') ?? '', svgs: f.querySelectorAll(':scope > svg').length, width: box?.width ?? 0, height: box?.height ?? 0 };
      }),
    );
    // every axis of every figure (Vega writes its title into the axis's aria-label), and the page's width
    const axes = await page.$$eval('figure[data-figure] g[aria-label]', (gs) => gs.map((g) => g.getAttribute('aria-label') ?? '').filter((l) => /^[XY]-axis/.test(l)));
    const pageWidth = await page.$eval('body', (b) => b.clientWidth);
    const overflow = await page.$$eval('figure[data-figure] > svg', (svgs) => svgs.filter((s) => Number(s.getAttribute('width')) > document.body.clientWidth).map((s) => s.closest('figure')!.getAttribute('data-figure')));
    return { errors, figures, axes, pageWidth, overflow };
  } finally {
    await browser.close();
  }
}

const CASES: { name: string; scenario: string; input: Record<string, unknown>; placement: string; figures: string[] }[] = [
  { name: 'stackelberg', scenario: 'stackelberg', input: { seed: 2, users: 5 }, placement: 'packed:5', figures: ['convergence', 'utilities', 'round-latency', 'pricing-baselines', 'purchasing-baselines', 'purchases-vs-reference'] },
  { name: 'budget-nash', scenario: 'budget-nash', input: { seed: 1, slots: 6 }, placement: 'packed:20', figures: ['convergence', 'per-slot', 'per-slot-cost', 'round-latency', 'policies', 'budget', 'queue'] },
  { name: 'futures-spot', scenario: 'futures-spot', input: { seed: 2, mechanism: 'incomplete' }, placement: 'packed:16', figures: ['convergence', 'round-latency', 'fee-iteration', 'auctions'] },
  { name: 'wholesale-buyback', scenario: 'wholesale-buyback', input: { seed: 1 }, placement: 'packed:20', figures: ['convergence', 'round-latency', 'schemes', 'buyback', 'per-mec', 'pricing-rounds'] },
  { name: 'offload-energy pricing', scenario: 'offload-energy', input: { seed: 1, mechanism: 'pricing' }, placement: 'packed:5', figures: ['convergence', 'round-latency', 'fraction-curves', 'rounds-vs-N'] },
  { name: 'offload-energy nash', scenario: 'offload-energy', input: { seed: 1, mechanism: 'nash' }, placement: 'packed:10', figures: ['convergence', 'round-latency', 'mqo-vs-odpc'] },
  { name: 'offload-energy mobility', scenario: 'offload-energy', input: { seed: 1, mechanism: 'mobility' }, placement: 'packed:10', figures: ['convergence', 'round-latency', 'success-vs-M', 'success-vs-order'] },
];

describe('report.html', () => {
  it.each(CASES)('a $name run’s report has every expected figure as SVG and opens in headless Chromium without console errors', async ({ scenario, input, placement, figures }) => {
    const cfg = resolveCfg(scenario, input as never);
    const s = await runDistributed(scenario, cfg, placement, { report: true });
    expect(s.status).toBe('complete');
    const dir = join(outDir, s.runId);
    const file = join(dir, 'report.html');
    expect(existsSync(file)).toBe(true); // written by the run itself
    // the orchestrator's peak memory covers drawing the report (taken after it, summary.json then
    // written again with it): only the run's own last steps come after it
    const peakAtEnd = process.resourceUsage().maxRSS * 1024;
    const processes = s.runMetrics.processes;
    expect(processes.orchestratorPeakRssOf).toBe('run');
    expect(peakAtEnd - processes.orchestratorPeakRssBytes).toBeLessThan(24 * 2 ** 20);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).runMetrics.processes).toEqual(processes);
    const drawnByRun = readFileSync(file, 'utf8');
    const again = await writeReport(dir); // and by `mecsim report`, from the files: the same report
    expect(readFileSync(file, 'utf8')).toBe(drawnByRun);
    for (const f of figures) expect(again.figures).toContain(f);
    if (scenario === 'offload-energy' && input.mechanism !== 'pricing') expect(again.figures).not.toContain('rounds-vs-N');
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script/i); // self-contained and static: nothing to fetch or execute
    expect(html).not.toMatch(/figure could not be rendered/);
    expect((html.match(/<figure /g) ?? []).length).toBe(again.figures.length);
    // the slot table says what each slot was compared with: a column, or once above it when every slot shown was compared with the same
    expect(html).toMatch(/<th>comparedWith<\/th>|<p class="muted">comparedWith, every slot shown: [^<]{10,}<\/p>/);
    // and gsrp-search (the default) is compared with the optimum
    if (scenario === 'stackelberg') expect(again.statusLine).toBe('complete — the distributed run equals the reference optimum');
    // every quantitative axis is titled with a unit, a declared one (never "unit not declared"); a
    // categorical axis (policies, schemes) names its categories and needs none
    const axes = [...html.matchAll(/aria-label="([XY]-axis[^"]*)"/g)].map((m) => m[1].replace(/&#39;/g, "'"));
    expect(axes.length).toBeGreaterThan(0);
    for (const a of axes.filter((l) => !/for a discrete scale/.test(l))) expect(a, 'axis title with a unit').toMatch(/^[XY]-axis titled '.*\([^()]+\)'/);
    expect(axes.filter((a) => /unit not declared/.test(a))).toEqual([]);
    // no figure wider than the page's column (1100 px less its padding)
    for (const w of [...html.matchAll(/<figure [^>]*><figcaption>.*?<\/figcaption><svg[^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]))) expect(w).toBeLessThanOrEqual(1068);
    // each figure also on its own, as SVG and CSV, beside the report
    for (const f of again.figures) {
      expect(readFileSync(join(dir, 'figures', `${f}.svg`), 'utf8').startsWith('<svg')).toBe(true);
      expect(parseCsv(readFileSync(join(dir, 'figures', `${f}.csv`), 'utf8')).length).toBeGreaterThan(0);
    }
    // the tables a paper quotes: parameters, the outcome beside the reference, with units
    expect(html).toContain('<h2>Parameters</h2>');
    expect(html).toContain('<th>unit</th>');
    expect(html).toMatch(/<h2>Outcome<\/h2>.*<th>reference<\/th>/s);
    expect(html).not.toMatch(/seed['’]s claims/);
    if (!CHROMIUM) {
      console.warn('report test: no chromium on this machine (apt-get install chromium); checked the HTML only');
      return;
    }
    const b = await openInBrowser(file);
    expect(b.errors).toEqual([]);
    expect(b.figures.map((f) => f.id)).toEqual(again.figures);
    expect(b.overflow, 'figures wider than the page').toEqual([]);
    for (const a of b.axes.filter((l) => !/for a discrete scale/.test(l))) expect(a).toMatch(/^[XY]-axis titled '.*\([^()]+\)'/);
    for (const f of b.figures) {
      expect(f.width, `figure ${f.id} fits the page`).toBeLessThanOrEqual(b.pageWidth);
      expect(f.svgs, `figure ${f.id} has one SVG`).toBe(1);
      expect(f.width * f.height, `figure ${f.id} is drawn`).toBeGreaterThan(100 * 100);
    }
  });
});

// sweeps of several runs: five minutes at most
const mecsim = (args: string[]) => runMecsim(args, {}, 300_000);

/** Reads a CSV with Python's csv module (a CSV library independent of ours), if python3 is here. */
async function pythonCsv(file: string): Promise<{ header: string[]; rows: Record<string, string>[] } | undefined> {
  try {
    const r = await pexec('python3', ['-c', 'import csv,json,sys\nwith open(sys.argv[1], newline="") as f:\n  d = csv.DictReader(f)\n  rows = list(d)\nprint(json.dumps({"header": d.fieldnames, "rows": rows}))', file]);
    return JSON.parse(r.stdout);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

describe('mecsim sweep', () => {
  it('a 3-seed sweep of a config key writes a tidy CSV (one row per run and slot) with every parameter and outcome as a column, and a summary with medians and intervals', async () => {
    const r = await mecsim(['sweep', 'stackelberg', '--vary', 'server.f=2e9,4e9', '--seeds', '1-3', '--users', '3', '--placement', 'packed:5', '--out', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    // named by scenario, key and a time a person reads (not epoch ms)
    expect(out.csv).toMatch(/sweep-stackelberg-server\.f-\d{8}-\d{6}\.csv$/);
    const text = readFileSync(out.csv, 'utf8');
    const rows = parseCsv(text);
    expect(rows.map((x) => [x['server.f'], x.seed, x.slot])).toEqual([
      [2e9, 1, 0],
      [2e9, 2, 0],
      [2e9, 3, 0],
      [4e9, 1, 0],
      [4e9, 2, 0],
      [4e9, 3, 0],
    ]);
    const cols = Object.keys(rows[0]);
    for (const c of ['scenario', 'mechanism', 'server.f', 'users', 'seed', 'runId', 'ok', 'slot', 'compare.ok', 'compare.gap', 'rounds', 'messages', 'timeToEquilibriumMs', 'eq.price', 'eq.profit', 'ref.price', 'ref.profit', 'param.server.m', 'param.server.f', 'param.slots']) expect(cols).toContain(c);
    for (const x of rows) {
      expect(x.ok).toBe(true);
      expect(x['param.server.f']).toBe(x['server.f']); // the varied value is what the run used
      expect(Math.abs(Number(x['eq.price']) - Number(x['ref.price'])) / Number(x['ref.price'])).toBeLessThan(1e-6);
    }
    // a faster unit (larger f) raises the server's profit on the same users (the spec's claim), seed by seed
    for (const seed of [1, 2, 3]) expect(Number(rows.find((x) => x.seed === seed && x['server.f'] === 4e9)!['eq.profit'])).toBeGreaterThan(Number(rows.find((x) => x.seed === seed && x['server.f'] === 2e9)!['eq.profit']));
    // the same file through a CSV library of its own
    const py = await pythonCsv(out.csv);
    if (py) {
      expect(py.header).toEqual(cols);
      expect(py.rows).toHaveLength(6);
      expect(py.rows.map((x) => Number(x['eq.profit']))).toEqual(rows.map((x) => x['eq.profit']));
    } else console.warn('sweep test: no python3; the CSV was read back with parseCsv only');
    const summary = parseCsv(readFileSync(join(out.dir, 'summary.csv'), 'utf8'));
    expect(summary.map((x) => [x['server.f'], x.runs, x.seeds])).toEqual([
      [2e9, 3, 3],
      [4e9, 3, 3],
    ]);
    for (const x of summary) {
      const seedsProfit = rows.filter((y) => y['server.f'] === x['server.f']).map((y) => Number(y['eq.profit'])).sort((a, b) => a - b);
      expect(x['eq.profit.median']).toBe(seedsProfit[1]);
      expect([x['eq.profit.lo'], x['eq.profit.hi'], x['eq.profit.coverage']]).toEqual([seedsProfit[0], seedsProfit[2], 0.75]);
    }
    const svg = readFileSync(join(out.dir, 'sweep.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain("X-axis titled 'server.f (Hz)'");
    expect(readFileSync(join(out.dir, 'sweep.html'), 'utf8')).toMatch(/95 % interval/);
    // finished runs side by side
    const dirs = rows.filter((x) => x.seed === 1).map((x) => join(out.dir, String(x.runId)));
    const c = await mecsim(['compare', ...dirs, '--out', outDir]);
    expect(c.code, c.stderr).toBe(0);
    const file = /(\S+compare-\d{8}-\d{6}\.html)/.exec(c.stdout)![1];
    const table = parseCsv(readFileSync(file.replace(/\.html$/, '.csv'), 'utf8'));
    expect(table.find((x) => x.quantity === 'param: server.f')).toMatchObject({ unit: 'Hz' });
    expect(table.find((x) => x.quantity === 'outcome: profit')).toBeDefined();
    expect(table.find((x) => x.quantity === 'param: server.m')).toBeUndefined(); // the same in both: not listed
  });

  it('--users 2,5 --repeat 2 is a sweep of users (one row per size and repeat)', async () => {
    const r = await mecsim(['sweep', 'stackelberg', '--users', '2,5', '--repeat', '2', '--placement', 'packed:5', '--out', outDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.csv).toMatch(/sweep-stackelberg-users-\d{8}-\d{6}\.csv$/);
    const rows = parseCsv(readFileSync(out.csv, 'utf8'));
    expect(rows.map((x) => [x.users, x.repeat])).toEqual([
      [2, 0],
      [2, 1],
      [5, 0],
      [5, 1],
    ]);
    // the same config and seed: the same rounds and messages on every repeat; more users, more messages
    expect(rows[0].rounds).toBe(rows[1].rounds);
    expect(rows[0].messages).toBe(rows[1].messages);
    expect(Number(rows[2].messages)).toBeGreaterThan(Number(rows[0].messages));
    const agg = parseCsv(readFileSync(join(out.dir, 'summary.csv'), 'utf8'));
    expect(agg.map((a) => [a.users, a.runs])).toEqual([
      [2, 2],
      [5, 2],
    ]);
  });

  it('rejects a bad size list, an unknown key and a bad value with exit code 2 naming them, before any run', async () => {
    const r = await mecsim(['sweep', 'stackelberg', '--users', '10,abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--users/);
    const k = await mecsim(['sweep', 'stackelberg', '--vary', 'server.g=1,2']);
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/server\.g.*not a parameter/);
    const v = await mecsim(['sweep', 'stackelberg', '--vary', 'server.f=abc']);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/server\.f/);
  });
});

describe('scale', () => {
  it('2,000 user agents packed into 4 workers reach the reference equilibrium', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 3, users: 2000 });
    const t0 = performance.now();
    const s = await runDistributed('stackelberg', cfg, 'packed:500');
    expect(s.status).toBe('complete');
    expect(s.workers).toBe(5);
    expect(s.agents.total).toBe(2001);
    expect(s.compare.ok).toBe(true);
    expect(Math.abs(s.equilibrium.price - s.reference.price) / s.reference.price).toBeLessThanOrEqual(1e-6);
    expect(s.runMetrics.drops).toEqual({});
    expect(s.runMetrics.processes.hosts.map((h: any) => h.agents)).toEqual([1, 500, 500, 500, 500]);
    console.log(`2,000 agents: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, joined max ${s.runMetrics.agentStartToJoinedMs.max} ms, round p50 ${s.runMetrics.roundLatencyMs.p50} ms`);
  });
});
