/** `futures-spot` over a real NATS server with real agent processes (broker, 5 MEC servers, 30 users). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { checkSpotRecord, futuresSpot, type FuturesSpotConfig } from '../../scenarios/futures-spot/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('futures-spot over NATS', () => {
  it.each([
    ['complete', 2, 0.5],
    ['complete', 4, 0.5],
    ['incomplete', 2, 0.5],
    ['incomplete', 4, 0.5],
    ['incomplete', 14, 0.5],
    ['incomplete', 2, 0],
  ])('%s auction, seed %i, fee %s: the fee iteration equals the in-process reference exactly; every spot round keeps the auction properties', async (auction, seed, fee) => {
    const cfg = resolveCfg('futures-spot', { seed, mechanism: auction, options: { fee } }) as FuturesSpotConfig;
    const s = await runDistributed('futures-spot', cfg, 'packed:8');
    expect(s.status).toBe('complete');
    expect(s.compare.ok).toBe(true);
    const ip = await new InProcessRun(futuresSpot, cfg).runSlot(0);
    expect(s.equilibrium).toEqual(JSON.parse(JSON.stringify(ip.outcome.equilibrium)));
    expect(s.perSlot[0].extra.trajectory).toEqual(JSON.parse(JSON.stringify((ip.outcome.extra as any).trajectory)));
    expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(toCsv(ip.trajectory, ['slot', 'round']));
    expect(s.metrics.messages).toBe(ip.messages);
    expect(s.runMetrics.drops).toEqual({});
    const spot = s.perSlot[0].extra.spot as any[];
    expect(spot.length).toBeGreaterThan(0);
    let exact = 0;
    for (const rec of spot) {
      const c = checkSpotRecord(cfg, auction as 'complete' | 'incomplete', rec);
      expect(c.ok, `iteration ${rec.k}: ${JSON.stringify(c)}`).toBe(true);
      expect(c.ir && c.bb && c.feasible).toBe(true);
      if (c.optimum !== null) {
        // complete information: the greedy's welfare against the exact welfare-optimal assignment
        exact++;
        expect(c.welfare).toBeLessThanOrEqual(c.optimum + 1e-9 * (1 + c.optimum));
      }
    }
    if (auction === 'complete') expect(exact).toBeGreaterThan(0);
    // the summary carries r*, U_max and both auctions' outcomes, with their property checks
    const slot = s.perSlot[0];
    expect(slot.reference).toMatchObject({ rStar: s.equilibrium.rStar, Umax: s.equilibrium.Umax });
    expect(slot.reference.checks.violations).toBe(0);
    for (const a of ['complete', 'incomplete']) {
      expect(slot.baselines.auctions[a]).toMatchObject({ auction: a, rStar: expect.any(Number), Umax: expect.any(Number) });
      expect(slot.baselines.auctions[a].checks.violations).toBe(0);
    }
    if (auction === 'complete') expect(slot.reference.checks.exactRounds).toBe(exact);
    // what the slot was compared with; under complete, also the profit at the best fee over every r ≥ 0
    expect(s.compare.against).toMatch(/^the registration-fee iteration .* computed centrally/);
    if (auction === 'complete') expect(s.compare.optimum).toMatchObject({ value: expect.any(Number), gapPct: expect.any(Number) });
    // revision 2 on the incomplete market: buyers pay the published-rule book price + φ_b, the broker keeps φ_a + φ_b per unit
    if (auction === 'incomplete') {
      const t = s.perSlot[0].extra.trajectory;
      expect(t.published.every((x: unknown) => typeof x === 'number')).toBe(true);
      const rows = ip.trajectory as Record<string, any>[];
      let last: number | null = null;
      for (const row of rows) {
        if (last !== null) expect(row.published).toBe(last);
        if (row.spotUnits > 0) {
          expect(row.fees).toBeCloseTo(row.spotUnits * 2 * fee, 12);
          expect(row.price).toBeCloseTo(row.pb + fee, 12);
          last = row.pb;
        }
      }
      if (fee > 0) expect(s.equilibrium.iterations).toBeGreaterThan(1); // with the fees someone registers at r_0 = 0
      else expect(s.equilibrium.iterations).toBe(60); // --fee 0 is revision 1's market: seed 2 ran 60 iterations before the fees (commit 118735d)
    }
  });
});
