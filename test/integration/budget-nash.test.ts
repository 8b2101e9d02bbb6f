/** `budget-nash` over a real NATS server with real agent processes: broker + 50 MEC servers + 10 UEs, 50 slots. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usableCores } from '../../bus/cores.ts';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { budgetNash } from '../../scenarios/budget-nash/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('budget-nash over NATS', () => {
  // packed:5 → leader + 10 MEC workers + 2 UE workers; packed:10 → leader + 5 + 1; auto (60 followers
  // > 32) → groups of K = ⌈60 / cores⌉ per role (on 2 cores: leader + 2 MEC workers (30, 20) + 1 UE worker)
  const K = Math.ceil(60 / usableCores());
  const auto = 1 + Math.ceil(50 / K) + Math.ceil(10 / K);
  it.each([
    ['sequential', 1, 'packed:5', 13],
    ['sequential', 2, 'auto', auto],
    ['simultaneous', 1, 'auto', auto],
    ['simultaneous', 2, 'packed:10', 7],
  ])('%s updates, seed %i, %s: 50 slots equal the in-process reference slot by slot; no UE gains by deviating alone', async (order, seed, placement, workers) => {
    const cfg = resolveCfg('budget-nash', { seed, slots: 50, users: 10, mechanism: order });
    const s = await runDistributed('budget-nash', cfg, placement);
    expect(s.status).toBe('complete');
    expect(s.workers).toBe(workers);
    expect(s.agents.total).toBe(1 + 50 + 10);
    expect(s.perSlot).toHaveLength(50);
    for (const r of s.perSlot) {
      expect(r.compare.ok, `slot ${r.slot}: ${r.compare.note}`).toBe(true);
      expect(r.compare.against).toMatch(/Nash rounds computed centrally \(an equilibrium, not an optimum\)/);
    }
    // slot 2: a UE with η = 5 is 10 m along the diagonal from (0, 0), exactly 10 m from server 25 —
    // eligible at α = 0.5, with servers 26..32 (2√2·k ≤ 20 for k ≤ 7)
    const fives = (cfg.eta as number[]).flatMap((e, i) => (e === 5 ? [i] : []));
    for (const i of fives) expect(s.perSlot[2].equilibrium.servers[i]).toEqual([25, 26, 27, 28, 29, 30, 31, 32]);
    // the run reports the fraction of slots decided with Z > 1, and the C̄ sweep of Fig. 7/8
    const bound = s.perSlot.filter((r: { equilibrium: { Z: number } }) => r.equilibrium.Z > 1).length;
    expect(s.results.policies.NE.bindingFraction).toBe(bound / 50);
    expect(s.results.budgetSweep.map((r: { cbar: number }) => r.cbar)).toEqual([12000, 15000, 20000, 25000]);
    // and the same protocol in-process: identical per-slot outcomes and trajectory
    const ip = new InProcessRun(budgetNash, cfg);
    const traj: Record<string, number | string | boolean | null>[] = [];
    for (let t = 0; t < 50; t++) {
      const r = await ip.runSlot(t);
      traj.push(...r.trajectory);
      expect(s.perSlot[t].equilibrium).toEqual(JSON.parse(JSON.stringify(r.outcome.equilibrium)));
      expect(s.perSlot[t].metrics.rounds).toBe(r.rounds);
      expect(s.perSlot[t].metrics.messages).toBe(r.messages);
      // one serve round per slot: 50 direct requests to the servers and 50 replies
      expect(s.perSlot[t].metrics.messagesByKind.serve).toBe(50);
      expect(s.perSlot[t].metrics.messagesByKind['re:serve']).toBe(50);
    }
    expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(toCsv(traj, ['slot', 'round']));
    expect(s.runMetrics.drops).toEqual({});
    // slots.csv: one row per slot with the per-slot records; its `gap` is distributed vs reference (0 here)
    const [head, ...lines] = readFileSync(join(outDir, s.runId, 'slots.csv'), 'utf8').trim().split('\n');
    const cols = head.split(',');
    expect(lines).toHaveLength(50);
    for (const k of ['Z', 'C', 'latency', 'gameRounds', 'loops', 'migrations', 'stop', 'neGap', 'gap', 'ok']) expect(cols).toContain(k);
    for (const line of lines) {
      const row = Object.fromEntries(line.split(',').map((v, k) => [cols[k], v]));
      expect(row.ok).toBe('true');
      expect(Number(row.gap)).toBeLessThanOrEqual(1e-9);
    }
  });

  // a budget that binds (C̄ = 12,000 on seed 4: Z > 1 in about half the slots): the queue the broker keeps
  // over NATS equals the reference's slot by slot
  it.each([
    ['sequential', 4, 'auto'],
    ['simultaneous', 5, 'packed:10'],
  ])('%s, seed %i, %s, C̄ = 12,000: Z > 1 in many slots and every slot equals the reference', async (order, seed, placement) => {
    const cfg = resolveCfg('budget-nash', { seed, slots: 50, users: 10, mechanism: order, options: { cbar: 12000 } });
    const s = await runDistributed('budget-nash', cfg, placement);
    expect(s.status).toBe('complete');
    for (const r of s.perSlot) {
      expect(r.compare.ok, `slot ${r.slot}: ${r.compare.note}`).toBe(true);
      expect(r.equilibrium.Z).toBe(r.reference.Z);
    }
    const bound = s.perSlot.filter((r: { equilibrium: { Z: number } }) => r.equilibrium.Z > 1).length;
    expect(bound).toBeGreaterThan(10);
    expect(s.results.policies.NE.bindingFraction).toBe(bound / 50);
    // the sweep's row at the run's own budget is this run's NE
    const own = s.results.budgetSweep.find((r: { cbar: number }) => r.cbar === 12000);
    expect(own.bindingFraction).toBe(bound / 50);
    expect(own.energy).toBe(s.results.policies.NE.energy);
  });
});
