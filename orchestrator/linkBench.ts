/**
 * `mecsim bench --link-cost [scenario…]`: what the link model costs by itself. Each scenario runs
 * without the model and with a model of zero latency and zero loss (`link: {rtt: 0}`: every message
 * still goes through its draw and its receiver's link, but is held for nothing), interleaved
 * (A, B, A, B, …) against one NATS server, so the shared machine's drift falls on both alike. The
 * figure is the median over the pairs of (mean time per round with the model) / (without), over the
 * slots after the first (the warm-up). The target: within 5 %.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkModel } from '../bus/link.ts';
import { catalog } from '../catalog/catalog.ts';
import { partsFor } from '../scenarios/contract.ts';
import type { JsonObject } from '../scenarios/types.ts';
import { benchPlacement } from './bench.ts';
import { acquireNats } from './natsServer.ts';
import { placementLabel, RunError, runScenario } from './run.ts';

export interface LinkCostRow {
  scenario: string;
  mechanism: string;
  users: number;
  placement: string;
  slots: number;
  repeats: number;
  rounds: number;
  /** mean ms per round over the warm slots, median over the repeats */
  withoutMs: number;
  withMs: number;
  /** median, min and max over the repeats of with/without */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /**
   * CPU time per round of every agent process (since ready: mostly the rounds), median over the
   * repeats, and the median of the pairs' ratios: the model's work, less at the mercy of a loaded
   * machine than wall time
   */
  cpuWithoutMs: number;
  cpuWithMs: number;
  cpuRatio: number;
  /** every run with the model had the equilibria and rounds of the runs without */
  sameOutcome: boolean;
  /** the model's own work per message, timed in a loop apart from any run: a draw of a lossy, jittered log-normal class, ns */
  drawNsPerMessage: number;
}

/** ns per draw of a class that takes the whole path (hash, log-normal, jitter, loss), over 200,000 draws. */
export function drawCostNs(): number {
  const link = LinkModel.parse({ jitter: '1ms', loss: 0.01, classes: { '*>*': { delay: 'lognormal(10ms,0.5)' } } }).link(1, { id: 'mec', role: 'mec' }, { id: 'ue-1', role: 'ue' });
  let sink = 0;
  const n = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += link.draw({ slot: 0, round: i, kind: 'price', attempt: 1 }).delayMs;
  const ns = ((performance.now() - t0) * 1e6) / n;
  return sink > 0 ? Math.round(ns) : Math.round(ns);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** mean ms per round over the slots after the first (all of them for a one-slot run) */
function roundMs(summary: Record<string, any>): number {
  const slots: any[] = summary.perSlot.length > 1 ? summary.perSlot.slice(1) : summary.perSlot;
  const ms = slots.reduce((a, s) => a + s.metrics.timeToEquilibriumMs, 0);
  const rounds = slots.reduce((a, s) => a + s.metrics.rounds, 0);
  return ms / Math.max(1, rounds);
}

export async function linkCost(scenarioId: string, users: number, opts: { slots: number; repeats: number; natsUrl: string; outDir: string; signal?: AbortSignal; log: (s: string) => void }): Promise<LinkCostRow> {
  const scenario = catalog.get(scenarioId);
  if (!scenario) throw new RunError(`unknown scenario ${scenarioId}`, 2);
  const cfg = scenario.resolve({ seed: 1, slots: opts.slots, users, options: {} });
  const withModel: JsonObject = { ...cfg, link: { rtt: 0 } };
  const placement = benchPlacement(partsFor(scenario, cfg).agents(cfg).length - 1);
  const run = async (c: JsonObject) => (await runScenario({ scenario, cfg: c, placement, outDir: opts.outDir, natsUrl: opts.natsUrl, roundTimeoutMs: 60_000, report: false, signal: opts.signal })) as Record<string, any>;
  const without: number[] = [];
  const withM: number[] = [];
  const ratios: number[] = [];
  const cpuA: number[] = [];
  const cpuB: number[] = [];
  const cpuRatios: number[] = [];
  const cpu = (s: Record<string, any>) => s.runMetrics.processes.cpuSinceReadyMs / Math.max(1, s.runMetrics.rounds);
  let same = true;
  let rounds = 0;
  for (let i = 0; i < opts.repeats; i++) {
    const a = await run(cfg);
    const b = await run(withModel);
    const ta = roundMs(a);
    const tb = roundMs(b);
    without.push(ta);
    withM.push(tb);
    ratios.push(tb / ta);
    cpuA.push(cpu(a));
    cpuB.push(cpu(b));
    cpuRatios.push(cpu(b) / cpu(a));
    rounds = a.runMetrics.rounds;
    same &&= JSON.stringify(a.perSlot.map((s: any) => [s.equilibrium, s.metrics.rounds])) === JSON.stringify(b.perSlot.map((s: any) => [s.equilibrium, s.metrics.rounds]));
    opts.log(`  ${scenarioId} N=${users} repeat ${i + 1}/${opts.repeats}: ${r3(ta)} ms/round without the model, ${r3(tb)} ms with it at zero latency (×${r3(tb / ta)}); CPU ${r3(cpu(a))} vs ${r3(cpu(b))} ms/round (×${r3(cpu(b) / cpu(a))})`);
  }
  return {
    scenario: scenarioId,
    mechanism: String(cfg.mechanism ?? scenario.defaultMechanism),
    users,
    placement: placementLabel(placement),
    slots: opts.slots,
    repeats: opts.repeats,
    rounds,
    withoutMs: r3(median(without)),
    withMs: r3(median(withM)),
    ratio: r3(median(ratios)),
    ratioMin: r3(Math.min(...ratios)),
    ratioMax: r3(Math.max(...ratios)),
    cpuWithoutMs: r3(median(cpuA)),
    cpuWithMs: r3(median(cpuB)),
    cpuRatio: r3(median(cpuRatios)),
    sameOutcome: same,
    drawNsPerMessage: drawCostNs(),
  };
}

export async function linkCostMain(ids: string[], o: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  const json = Boolean(o.json);
  const log = (s: string) => process.stderr.write(s + '\n');
  const sizes = typeof o.sizes === 'string' ? o.sizes.split(',').map(Number) : [100];
  const slots = typeof o.slots === 'number' ? o.slots : 3;
  const repeats = typeof o.repeat === 'number' ? o.repeat : 5;
  const nats = await acquireNats((o.nats as string | undefined) ?? process.env.NATS_URL, { maxPayloadBytes: 8 * 1024 * 1024 });
  const outDir = mkdtempSync(join(tmpdir(), 'mecsim-linkcost-'));
  const rows: LinkCostRow[] = [];
  try {
    for (const id of ids.length ? ids : [catalog.ids()[0]]) for (const n of sizes) rows.push(await linkCost(id, n, { slots, repeats, natsUrl: nats.url, outDir, signal, log }));
  } finally {
    await nats.stop();
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write('scenario\tmechanism\tN\tplacement\trounds\tms/round without\tms/round with model (0 ms)\tratio (min–max)\tCPU ms/round without\twith\tCPU ratio\tsame outcome\tns per draw (full path)\n');
    for (const r of rows) process.stdout.write(`${r.scenario}\t${r.mechanism}\t${r.users}\t${r.placement}\t${r.rounds}\t${r.withoutMs}\t${r.withMs}\t${r.ratio} (${r.ratioMin}–${r.ratioMax})\t${r.cpuWithoutMs}\t${r.cpuWithMs}\t${r.cpuRatio}\t${r.sameOutcome}\t${r.drawNsPerMessage}\n`);
  }
  return rows.every((r) => r.sameOutcome) ? 0 : 1;
}
