/** `offload-energy` over a real NATS server with real agent processes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { offloadEnergy } from '../../scenarios/offload-energy/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

async function sameAsInProcess(cfg: Record<string, any>, s: Record<string, any>) {
  const ip = new InProcessRun(offloadEnergy, cfg);
  const traj: Record<string, number | string | boolean | null>[] = [];
  for (let t = 0; t < s.perSlot.length; t++) {
    const r = await ip.runSlot(t);
    traj.push(...r.trajectory);
    expect(s.perSlot[t].equilibrium).toEqual(JSON.parse(JSON.stringify(r.outcome.equilibrium)));
    expect(s.perSlot[t].metrics.rounds).toBe(r.rounds);
    expect(s.perSlot[t].metrics.messages).toBe(r.messages);
  }
  expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(toCsv(traj, ['slot', 'round']));
}

describe('offload-energy over NATS', () => {
  it.each([
    ['one', 1],
    ['one', 2],
    ['all', 3],
  ])('nash (grant %s, seed %i) equals the in-process run slot by slot and ends in an ε-equilibrium or the same cycle', async (grant, seed) => {
    const cfg = resolveCfg('offload-energy', { seed, slots: 2, mechanism: 'nash', options: { grant, claims: 'false' } });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    expect(s.status).toBe('complete');
    for (const r of s.perSlot) expect(r.compare.ok, r.compare.note).toBe(true);
    await sameAsInProcess(cfg, s);
  });

  it.each([1, 2, 3])('semi-distributed pricing equals the reference P* (seed %i)', async (seed) => {
    const cfg = resolveCfg('offload-energy', { seed, mechanism: 'pricing', options: { pricing: 'semi-distributed', claims: 'false' } });
    const s = await runDistributed('offload-energy', cfg, 'process');
    expect(s.compare.ok, s.compare.note).toBe(true);
    expect(Math.abs(s.equilibrium.price - s.reference.price) / s.reference.price).toBeLessThan(1e-9);
  });

  it('decentralized pricing takes the same number of rounds for N = 5, 50 and 500, and equals its in-process run', async () => {
    const rounds: number[] = [];
    for (const users of [5, 50, 500]) {
      const cfg = resolveCfg('offload-energy', { seed: 2, users, mechanism: 'pricing', options: { pricing: 'decentralized', claims: 'false' } });
      const s = await runDistributed('offload-energy', cfg, users <= 5 ? 'process' : `packed:${Math.ceil(users / 4)}`);
      expect(s.status).toBe('complete');
      rounds.push(s.metrics.rounds);
      await sameAsInProcess(cfg, s);
    }
    expect(new Set(rounds).size).toBe(1);
  });

  it.each(['kalman', 'pa'])('mobility (%s) equals its in-process run', async (predictor) => {
    const cfg = resolveCfg('offload-energy', { seed: 1, slots: 2, mechanism: 'mobility', options: { predictor, claims: 'false' } });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    for (const r of s.perSlot) expect(r.compare.ok, r.compare.note).toBe(true);
    await sameAsInProcess(cfg, s);
  });

  it('reports the seed’s claims with their numbers', async () => {
    const cfg = resolveCfg('offload-energy', { seed: 1, mechanism: 'nash' });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    const claims = s.results.claims as { claim: string; holds: boolean; numbers: unknown }[];
    expect(claims.length).toBeGreaterThan(0);
    for (const c of claims) {
      expect(typeof c.holds).toBe('boolean');
      expect(c.numbers).toBeTruthy();
    }
  });
});
