/** `stackelberg` over a real NATS server with real agent processes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { workerNice } from '../../orchestrator/run.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const trajectoryCsv = (runId: string) => readFileSync(join(outDir, runId, 'trajectory.csv'), 'utf8');

describe('stackelberg over NATS', () => {
  it.each([1, 2, 3])('gsrp-search equals the reference within 1e-6 (seed %i) and reproduces the in-process protocol exactly', async (seed) => {
    const cfg = resolveCfg('stackelberg', { seed, users: 6 });
    const s = await runDistributed('stackelberg', cfg, 'process');
    expect(s.status).toBe('complete');
    expect(typeof s.reference.unimodal).toBe('boolean'); // reported either way (Π saw-tooths where users drop out)
    expect(s.compare.ok).toBe(true);
    expect(Math.abs(s.equilibrium.price - s.reference.price) / s.reference.price).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(s.equilibrium.profit - s.reference.profit) / s.reference.profit).toBeLessThanOrEqual(1e-6);
    const ip = await new InProcessRun(stackelberg, cfg).runSlot(0);
    expect(s.equilibrium).toEqual(ip.outcome.equilibrium);
    expect(trajectoryCsv(s.runId)).toBe(toCsv(ip.trajectory, ['slot', 'round']));
    expect(s.metrics.rounds).toBe(ip.rounds);
    expect(s.metrics.messages).toBe(ip.messages);
    expect(s.metrics.timeToEquilibriumMs).toBeGreaterThan(0);
  });

  it('gsrp-step equals the in-process run of the same step rule', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 5, users: 8, mechanism: 'gsrp-step', options: { step: 0.5 } });
    const s = await runDistributed('stackelberg', cfg, 'packed:4');
    expect(s.workerNice).toBe(workerNice()); // the followers' processes ran at a lower priority than the leader's (5 unless MECSIM_WORKER_NICE says otherwise)
    const ip = await new InProcessRun(stackelberg, cfg).runSlot(0);
    expect(s.equilibrium).toEqual(ip.outcome.equilibrium);
    expect(trajectoryCsv(s.runId)).toBe(toCsv(ip.trajectory, ['slot', 'round']));
    expect(s.compare.ok).toBe(true);
  });

  it('the same seed gives identical trajectories, in process and packed placements, over several slots', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 11, users: 10, slots: 3 });
    const a = await runDistributed('stackelberg', cfg, 'process');
    const b = await runDistributed('stackelberg', cfg, 'packed:3');
    const c = await runDistributed('stackelberg', cfg, 'packed:10');
    expect(a.perSlot.length).toBe(3);
    for (const s of [b, c]) {
      expect(trajectoryCsv(s.runId)).toBe(trajectoryCsv(a.runId));
      expect(s.perSlot.map((r: any) => r.equilibrium)).toEqual(a.perSlot.map((r: any) => r.equilibrium));
      expect(s.perSlot.map((r: any) => r.metrics.rounds)).toEqual(a.perSlot.map((r: any) => r.metrics.rounds));
    }
    expect(a.ok).toBe(true);
    // new requests each slot: different equilibria
    expect(new Set(a.perSlot.map((r: any) => r.equilibrium.price)).size).toBe(3);
  });
});
