import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { stackelberg, usersAt, type StackelbergConfig } from '../../scenarios/stackelberg/index.ts';
import { bestResponse, interiorOptimum, outcomeAt, unitsForDeadline, utility, allocate } from '../../scenarios/stackelberg/model.ts';
import { profitAt, referenceOptimum } from '../../scenarios/stackelberg/reference.ts';
import { ConfigError } from '../../scenarios/types.ts';

const resolve = (o: Partial<Parameters<typeof stackelberg.resolve>[0]> = {}) => stackelberg.resolve({ seed: 1, slots: 1, options: {}, ...o }) as StackelbergConfig;
const kOf = (cfg: StackelbergConfig, slot = 0) => usersAt(cfg, slot).map((u) => unitsForDeadline(u, cfg.server.f));
const thetaOf = (cfg: StackelbergConfig, slot = 0) => usersAt(cfg, slot).map((u) => u.theta);

describe('stackelberg closed forms', () => {
  it('p* = sqrt(m Σθ/Σk) and Π* = (sqrt Σθ − sqrt(m Σk))² when every user buys x̂ ≥ k', () => {
    // users with k small relative to θ: at p* every user is interior (p* ≤ θ/(2k))
    const thetas = [60, 80, 95, 70];
    const ks = [0.5, 0.8, 1.1, 0.6];
    const m = 1;
    const cf = interiorOptimum(thetas, ks, m);
    for (let i = 0; i < thetas.length; i++) expect(cf.price).toBeLessThanOrEqual(thetas[i] / (2 * ks[i]));
    const ref = referenceOptimum(thetas, ks, { m, X: null });
    expect(ref.price).toBeCloseTo(cf.price, 10);
    expect(ref.profit).toBeCloseTo(cf.profit, 8);
    expect(profitAt(cf.price, thetas, ks, { m, X: null })).toBeCloseTo(cf.profit, 8);
    // and Π is lower on either side
    expect(profitAt(cf.price * 1.01, thetas, ks, { m, X: null })).toBeLessThan(cf.profit);
    expect(profitAt(cf.price * 0.99, thetas, ks, { m, X: null })).toBeLessThan(cf.profit);
  });

  it('a faster unit (larger f) or faster links (larger r) lower k and raise Π*', () => {
    const base = resolve({ seed: 4, users: 8 });
    const profit = (cfg: StackelbergConfig) => referenceOptimum(thetaOf(cfg), kOf(cfg), cfg.server).profit;
    const fast = { ...base, server: { ...base.server, f: base.server.f * 2 } };
    const fastLinks = { ...base, users: base.users.map((u) => ({ ...u, r: u.r * 2 })) };
    expect(kOf(fast).every((k, i) => k < kOf(base)[i])).toBe(true);
    expect(profit(fast)).toBeGreaterThan(profit(base));
    expect(profit(fastLinks)).toBeGreaterThan(profit(base));
  });
});

describe('GURP best response', () => {
  const cfg = resolve({ seed: 2, users: 30 });
  const ks = kOf(cfg);
  const thetas = thetaOf(cfg);
  it('buyers get positive utility and at least k units; the best response beats a dense grid of purchases', () => {
    for (const p of [1.5, 5, 12, 30, 80]) {
      thetas.forEach((t, i) => {
        const x = bestResponse(t, ks[i], p);
        const u = utility(t, ks[i], x, p);
        if (x > 0) {
          expect(x).toBeGreaterThanOrEqual(ks[i] * (1 - 1e-12));
          expect(u).toBeGreaterThan(0);
        } else expect(u).toBe(0);
        for (let j = 0; j <= 400; j++) {
          const y = (j / 400) * 4 * Math.max(ks[i], t / p);
          expect(utility(t, ks[i], y, p)).toBeLessThanOrEqual(u + 1e-9);
        }
      });
    }
  });
  it('buys nothing when the deadline is infeasible or the price too high', () => {
    const infeasible = unitsForDeadline({ theta: 80, s: 4e6, c: 1000, r: 1e6, tmax: 2 }, 4e9); // upload alone takes 4 s
    expect(infeasible).toBe(Infinity);
    expect(bestResponse(80, infeasible, 2)).toBe(0);
    const k = 2;
    expect(bestResponse(80, k, (80 * Math.LN2) / k)).toBe(0); // U(k) = 0 exactly: not > 0
    expect(bestResponse(80, k, (80 * Math.LN2) / k - 1e-6)).toBe(k);
    expect(bestResponse(80, k, 80 / (2 * k))).toBeCloseTo(k, 12);
  });
  it('capacity grants in descending θ with a partial last grant', () => {
    expect(allocate([5, 5, 5], [10, 30, 20], 8)).toEqual([0, 5, 3]);
    expect(allocate([1, 2], [1, 2], null)).toEqual([1, 2]);
  });
});

describe('reference solver', () => {
  it.each([1, 2, 3, 5, 8, 13])('equals the maximum of a brute-force price grid (seed %i)', (seed) => {
    const cfg = resolve({ seed, users: 6 });
    const thetas = thetaOf(cfg);
    const ks = kOf(cfg);
    const ref = referenceOptimum(thetas, ks, cfg.server);
    const [lo, hi] = ref.priceRange;
    let best = 0;
    for (let i = 0; i <= 200_000; i++) best = Math.max(best, profitAt(lo + ((hi - lo) * i) / 200_000, thetas, ks, cfg.server));
    expect(ref.profit).toBeGreaterThanOrEqual(best - 1e-9 * best);
    expect(ref.profit - best).toBeLessThan(1e-4 * best); // the grid gets close to it
  });
  it('handles a binding capacity', () => {
    const cfg = resolve({ seed: 3, users: 6, options: { capacity: 10 } });
    const thetas = thetaOf(cfg);
    const ks = kOf(cfg);
    const ref = referenceOptimum(thetas, ks, cfg.server);
    expect(ref.purchases.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10 + 1e-9);
    let best = 0;
    for (let i = 0; i <= 100_000; i++) best = Math.max(best, profitAt(1 + (ref.priceRange[1] - 1) * (i / 100_000), thetas, ks, cfg.server));
    expect(ref.profit).toBeGreaterThanOrEqual(best * (1 - 1e-9));
  });
});

describe('pricing mechanisms (in-process protocol)', () => {
  it('gsrp-search reaches the reference within 1e-6 on several seeds, in O(log 1/ε) rounds', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const cfg = resolve({ seed, users: 6 });
      const run = await new InProcessRun(stackelberg, cfg).runSlot(0);
      const ref = stackelberg.createReference(cfg).slot(0, run.outcome);
      if ((ref.reference as { unimodal: boolean }).unimodal) expect(ref.compare.ok, `seed ${seed}: ${ref.compare.note}`).toBe(true);
      expect(run.rounds).toBeLessThan(80);
    }
  });
  it('gsrp-step misses the optimum with a large step and not with a small one', async () => {
    const gap = async (step: number) => {
      const cfg = resolve({ seed: 3, users: 6, mechanism: 'gsrp-step', options: { step } });
      const run = await new InProcessRun(stackelberg, cfg).runSlot(0);
      const ref = stackelberg.createReference(cfg).slot(0, run.outcome);
      expect(ref.compare.ok).toBe(true); // it equals the step rule computed centrally
      const r = ref.reference as { profit: number };
      return { gap: (r.profit - (run.outcome.equilibrium.profit as number)) / r.profit, rounds: run.rounds };
    };
    const big = await gap(5);
    const small = await gap(0.001);
    expect(big.gap).toBeGreaterThan(100 * 1e-6); // far outside the 1e-6 equality tolerance
    // a step of Δ leaves the price within Δ of p*, so the profit gap is second order: ≤ (Δ/p*)² · O(1)
    expect(small.gap).toBeLessThan(1e-6);
    expect(small.rounds).toBeGreaterThan(10 * big.rounds);
  });
  it('GSRP beats the pricing baselines and GURP the purchasing baselines', async () => {
    for (const seed of [1, 2, 3]) {
      const cfg = resolve({ seed, users: 10 });
      const run = await new InProcessRun(stackelberg, cfg).runSlot(0);
      const b = stackelberg.createReference(cfg).slot(0, run.outcome).baselines as any;
      expect(b.pricing.gsrpBeatsBoth).toBe(true);
      expect(b.purchasing.gurpBeatsBothForEveryUser).toBe(true);
    }
  });
  it('several slots draw new requests', async () => {
    const cfg = resolve({ seed: 1, users: 4, slots: 3 });
    expect(usersAt(cfg, 1)).not.toEqual(usersAt(cfg, 0));
    const r = new InProcessRun(stackelberg, cfg);
    const a = await r.runSlot(0);
    const b = await r.runSlot(1);
    expect(b.outcome.equilibrium.price).not.toBe(a.outcome.equilibrium.price);
    expect(stackelberg.createReference(cfg).slot(1, b.outcome).compare.ok).toBe(true);
  });
  it('higher satisfaction buys more and gets more utility', () => {
    const cfg = resolve({ seed: 1, users: 6 });
    const u = { ...cfg.users[0] };
    const k = unitsForDeadline(u, cfg.server.f);
    const p = 10;
    const lo = outcomeAt(p, [60], [k], cfg.server);
    const hi = outcomeAt(p, [90], [k], cfg.server);
    expect(hi.purchases[0]).toBeGreaterThan(lo.purchases[0]);
    expect(hi.utilities[0]).toBeGreaterThan(lo.utilities[0]);
  });
});

describe('configuration', () => {
  it('what `params` prints reads back as the same config', () => {
    const cfg = resolve({ seed: 9, users: 5, options: { step: 0.2 } });
    const again = stackelberg.resolve({ seed: 0, slots: 1, options: {}, config: JSON.parse(JSON.stringify(cfg)) });
    expect(again).toEqual({ ...cfg, seed: 0 });
  });
  it.each([
    [{ config: { server: { f: -1 } } }, /server.f/],
    [{ config: { users: [{ theta: 0, s: 1, c: 1, r: 1, tmax: 1 }] } }, /users\[0\].theta/],
    [{ config: { users: [] } }, /users/],
    [{ mechanism: 'nope' }, /mechanism/],
    [{ options: { patience: 0 } }, /patience/],
    [{ options: { p0: 0.5 } }, /p0/],
    [{ users: 0 }, /--users/],
  ])('rejects impossible input %#', (input, msg) => {
    expect(() => resolve(input as never)).toThrow(ConfigError);
    expect(() => resolve(input as never)).toThrow(msg);
  });
});
