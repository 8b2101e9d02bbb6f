/** `offload-energy` over a real NATS server with real agent processes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { offloadEnergy } from '../../scenarios/offload-energy/index.ts';
import { mobilityClaims, nashClaims, roundsIndependentClaim } from '../../scenarios/offload-energy/claims.ts';
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
    ['one', 1, 0.01, 20, 'equilibrium'],
    ['one', 2, 0.01, 20, 'equilibrium'],
    ['all', 3, 0.01, 20, 'no-equilibrium'],
    ['one', 1, 1e-9, 10, 'no-equilibrium'], // a real cycle (period 8) under one grant per slot
  ])('nash (grant %s, seed %i, ε %s, N %i) equals the in-process run slot by slot and ends in an ε-equilibrium or the same cycle', async (grant, seed, epsilon, users, status) => {
    const cfg = resolveCfg('offload-energy', { seed, users, slots: 2, mechanism: 'nash', options: { grant, epsilon, claims: 'false' } });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    expect(s.status).toBe('complete');
    for (const r of s.perSlot) {
      // equilibrium: the reference finds no user gaining more than ε alone; cycle: the reference's dynamics report
      // the same status, period and decision slot
      expect(r.equilibrium.status).toBe(status);
      expect(r.compare.ok, r.compare.note).toBe(true);
      if (status === 'equilibrium') expect(r.reference.maxGain).toBeLessThanOrEqual(epsilon);
      else expect([r.reference.status, r.reference.period, r.reference.decisionSlots]).toEqual([r.equilibrium.status, r.equilibrium.period, r.equilibrium.decisionSlots]);
    }
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
      const cfg = resolveCfg('offload-energy', { seed: 2, users, mechanism: 'pricing', options: { pricing: 'decentralized', claims: users === 5 ? 'true' : 'false' } });
      const s = await runDistributed('offload-energy', cfg, users <= 5 ? 'process' : `packed:${Math.ceil(users / 4)}`);
      expect(s.status).toBe('complete');
      rounds.push(s.metrics.rounds);
      await sameAsInProcess(cfg, s);
      if (users === 5) {
        // the rounds claim is computed from its rows, this run's measured count among them
        const claim = (s.results.claims as any[]).find((c) => c.id === 'decentralized-rounds-independent-of-n');
        const perN = s.results.claimRuns as { N: number; rounds: number; source: string }[];
        expect(perN).toContainEqual({ N: 5, rounds: s.metrics.rounds, source: 'this run (slot 0)' });
        expect(claim).toEqual(JSON.parse(JSON.stringify(roundsIndependentClaim(perN))));
      }
    }
    expect(new Set(rounds).size).toBe(1);
  });

  it.each(['kalman', 'pa'])('mobility (%s) equals its in-process run', async (predictor) => {
    const cfg = resolveCfg('offload-energy', { seed: 1, slots: 2, mechanism: 'mobility', options: { predictor, claims: predictor === 'kalman' ? 'true' : 'false' } });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    for (const r of s.perSlot) expect(r.compare.ok, r.compare.note).toBe(true);
    await sameAsInProcess(cfg, s);
    if (predictor === 'kalman') {
      // success against M (both predictors) and by task order: the claims are computed from those rows
      const rows = s.results.claimRuns as Parameters<typeof mobilityClaims>[0];
      expect(rows.map((r) => `${r.M}/${r.predictor}`)).toEqual(['5/pa', '5/kalman', '10/pa', '10/kalman', '20/pa', '20/kalman', '40/pa', '40/kalman']);
      expect(s.results.claims).toEqual(JSON.parse(JSON.stringify(mobilityClaims(rows))));
      expect(s.perSlot[0].baselines.pa.byOrder.rate.length).toBeGreaterThan(0);
    }
  });

  it('reports the paper’s claims with their numbers', async () => {
    const cfg = resolveCfg('offload-energy', { seed: 1, mechanism: 'nash' });
    const s = await runDistributed('offload-energy', cfg, 'packed:5');
    const claims = s.results.claims as { id: string; statement: string; verdict: string; numbers: { label: string; value: unknown; unit?: string }[] }[];
    expect(claims.map((c) => c.id)).toEqual(['mqo-cost-below-odpc', 'mqo-more-offloading-as-n-grows']);
    for (const c of claims) {
      expect(typeof c.statement).toBe('string');
      expect(['holds', 'fails']).toContain(c.verdict); // a verdict either way (every run converges at ε = 1e-2)
      expect(c.numbers.length).toBeGreaterThan(0);
      for (const x of c.numbers) expect(x.unit, x.label).toBeTruthy();
    }
    // the verdicts are what the rows give, not asserted here
    expect(claims).toEqual(JSON.parse(JSON.stringify(nashClaims(s.results.claimRuns))));
  });
});
