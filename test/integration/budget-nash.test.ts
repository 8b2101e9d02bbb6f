/** `budget-nash` over a real NATS server with real agent processes: broker + 10 UEs, M = 50, 50 slots. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { budgetNash } from '../../scenarios/budget-nash/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('budget-nash over NATS', () => {
  it.each([
    ['sequential', 1],
    ['sequential', 2],
    ['simultaneous', 1],
    ['simultaneous', 2],
  ])('%s updates, seed %i: 50 slots equal the in-process reference slot by slot; no UE gains by deviating alone', async (order, seed) => {
    const cfg = resolveCfg('budget-nash', { seed, slots: 50, users: 10, mechanism: order });
    const s = await runDistributed('budget-nash', cfg, 'packed:5');
    expect(s.status).toBe('complete');
    expect(s.perSlot).toHaveLength(50);
    for (const r of s.perSlot) expect(r.compare.ok, `slot ${r.slot}: ${r.compare.note}`).toBe(true);
    // and the same protocol in-process: identical per-slot outcomes and trajectory
    const ip = new InProcessRun(budgetNash, cfg);
    const traj: Record<string, number | string | boolean | null>[] = [];
    for (let t = 0; t < 50; t++) {
      const r = await ip.runSlot(t);
      traj.push(...r.trajectory);
      expect(s.perSlot[t].equilibrium).toEqual(JSON.parse(JSON.stringify(r.outcome.equilibrium)));
      expect(s.perSlot[t].metrics.rounds).toBe(r.rounds);
    }
    expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(toCsv(traj, ['slot', 'round']));
    expect(s.runMetrics.drops).toEqual({});
  });
});
