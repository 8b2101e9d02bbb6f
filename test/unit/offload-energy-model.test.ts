import { describe, expect, it } from 'vitest';
import { chooseServer, KalmanCA, positionAt, ringDistance, serverPosition, travelled, wrap, type MobilityWorld } from '../../scenarios/offload-energy/mobility.ts';
import {
  bestPower,
  bestResponse,
  CycleDetector,
  gainOf,
  localCost,
  maxDeviationGain,
  NASH_DEFAULTS,
  offloadCost,
  profileKey,
  rate,
  simulateNash,
  type NashServer,
  type NashUser,
} from '../../scenarios/offload-energy/nash.ts';
import {
  bestFraction,
  decentralizedRounds,
  drawPricingUser,
  exactOptimum,
  fractionCurves,
  goldenIterations,
  priceBounds,
  profitAt,
  runDecentralizedDirect,
  sweepOptimum,
  userUtility,
  type PricingUser,
} from '../../scenarios/offload-energy/pricing.ts';
import { stream } from '../../scenarios/common/rng.ts';

const SRV: NashServer = { C: 3, W: 1e6, omega: 1e-13, kappa: 1e-27, F: 20e9, fmax: 4e9, pmin: 0.01, pmax: 0.2, betaT: 0.5, betaE: 0.5 };

describe('nash: rates and costs', () => {
  it('match hand-computed values', () => {
    // d = 100 m → g = 1e-8; p g = 9e-13 against ω + I = 3e-13 → SINR 3 → log2(4) = 2 → r = 2 W = 2e6 bit/s
    const u: NashUser = { d: 100, s: 1e6, c: 1000, fl: 0.5e9 };
    expect(gainOf(100)).toBeCloseTo(1e-8, 20);
    const p = 9e-5;
    expect(rate(SRV, p, gainOf(100), 2e-13)).toBeCloseTo(2e6, 3);
    // 4 users offloading: F/4 = 5 GHz > f_max → 4 GHz → c s / 4e9 = 0.25 s; tx = 1e6 / 2e6 = 0.5 s
    const c4 = offloadCost(u, SRV, p, 2e-13, 4);
    expect(c4.T).toBeCloseTo(0.75, 9);
    expect(c4.E).toBeCloseTo(4.5e-5, 12);
    expect(c4.Z).toBeCloseTo(0.5 * 0.75 + 0.5 * 4.5e-5, 9);
    // 10 users: F/10 = 2 GHz < f_max → 0.5 s of execution (the queueing share)
    expect(offloadCost(u, SRV, p, 2e-13, 10).T).toBeCloseTo(1.0, 9);
    // local: T = c s / f = 1e9 / 0.5e9 = 2 s; E = κ f² c s = 1e-27 · 0.25e18 · 1e9 = 0.25 J
    const l = localCost(u, SRV);
    expect(l.T).toBeCloseTo(2, 12);
    expect(l.E).toBeCloseTo(0.25, 12);
    expect(l.Z).toBeCloseTo(1.125, 12);
  });
});

describe('nash: best response', () => {
  const g = stream(7, 'test', 'nash-br');
  const cases = Array.from({ length: 40 }, () => ({
    u: { d: g.uniform(20, 100), s: g.uniform(0.5e6, 2e6), c: 1000, fl: g.uniform(0.5e9, 1e9) },
    I: g.next() < 0.3 ? 0 : Math.pow(10, g.uniform(-13, -6)),
    n: 1 + Math.floor(g.next() * 20),
  }));
  const srv: NashServer = { ...SRV, W: 5e6 };

  it('the power minimizes the offloading cost: no point of a dense grid is cheaper', () => {
    let interior = 0;
    for (const { u, I, n } of cases) {
      const p = bestPower(u, srv, I);
      expect(p).toBeGreaterThanOrEqual(srv.pmin);
      expect(p).toBeLessThanOrEqual(srv.pmax);
      const z = offloadCost(u, srv, p, I, n).Z;
      let gridMin = Infinity;
      let arg = 0;
      const K = 20000;
      for (let j = 0; j <= K; j++) {
        const q = srv.pmin + ((srv.pmax - srv.pmin) * j) / K;
        const zq = offloadCost(u, srv, q, I, n).Z;
        if (zq < gridMin) {
          gridMin = zq;
          arg = q;
        }
      }
      expect(z).toBeLessThanOrEqual(gridMin * (1 + 1e-12));
      expect(Math.abs(p - arg)).toBeLessThanOrEqual((2 * (srv.pmax - srv.pmin)) / K);
      if (p > srv.pmin && p < srv.pmax) interior++;
    }
    // the sample covers interior optima (lone users) and p_max corners (interference)
    expect(interior).toBeGreaterThan(0);
    expect(cases.some(({ u, I }) => bestPower(u, srv, I) === srv.pmax)).toBe(true);
  });

  it('the best response is the cheapest of local and every channel; fixed power uses p_max', () => {
    for (const { u, n } of cases.slice(0, 15)) {
      const I = [g.uniform(0, 1e-7), g.uniform(0, 1e-9), 0];
      const br = bestResponse(u, srv, I, n, 'joint');
      const options = [localCost(u, srv).Z, ...I.map((x) => offloadCost(u, srv, bestPower(u, srv, x), x, n + 1).Z)];
      expect(br.Z).toBe(Math.min(...options));
      expect(options.indexOf(br.Z)).toBe(br.o);
      const fixed = bestResponse(u, srv, I, n, 'fixed');
      if (fixed.o > 0) expect(fixed.p).toBe(srv.pmax);
      expect(fixed.Z).toBeGreaterThanOrEqual(br.Z);
    }
  });
});

describe('nash: cycle detection', () => {
  it('the detector returns the period of a repeated key', () => {
    const d = new CycleDetector();
    const seq = ['a', 'b', 'c', 'd', 'b'];
    const res = seq.map((k, t) => d.visit(t, k));
    expect(res).toEqual([undefined, undefined, undefined, undefined, 3]);
    expect(profileKey([0, 1], [0, 1e-9])).not.toBe(profileKey([0, 1], [0, 1.0000000001e-9]));
    expect(profileKey([0, 1], [0.5, 1e-9])).toBe(profileKey([0, 1], [0.7, 1e-9])); // a local user's power is irrelevant
  });

  it('a hand-built cycle: two twins on one narrow channel under grant-all oscillate with period 2; grant-one settles', () => {
    // alone on the channel offloading beats local (Z ≈ 0.5 vs 1.125); together the mutual interference makes it
    // far worse than local, so under grant-all both move in, then both move out, forever.
    const srv: NashServer = { ...SRV, C: 1, W: 1e5 };
    const twin: NashUser = { d: 50, s: 1e6, c: 1000, fl: 0.5e9 };
    const users = [twin, { ...twin }];
    const alone = offloadCost(twin, srv, bestPower(twin, srv, 0), 0, 1).Z;
    const together = offloadCost(twin, srv, bestPower(twin, srv, gainOf(50) * 0.2), gainOf(50) * 0.2, 2).Z;
    expect(alone).toBeLessThan(localCost(twin, srv).Z);
    expect(together).toBeGreaterThan(localCost(twin, srv).Z);
    const all = simulateNash(users, srv, { epsilon: 1e-2, grant: 'all', power: 'joint', maxSlots: 500 });
    expect(all.status).toBe('no-equilibrium');
    expect(all.period).toBe(2);
    expect(all.keys[all.decisionSlots]).toBe(all.keys[all.decisionSlots - 2]);
    const one = simulateNash(users, srv, { epsilon: 1e-2, grant: 'one', power: 'joint', maxSlots: 500 });
    expect(one.status).toBe('equilibrium');
    expect(one.profile.o).toEqual([1, 0]); // ties of gain → the lower id is granted
    expect(maxDeviationGain(users, srv, one.profile, 'joint').gain).toBeLessThanOrEqual(1e-2);
  });

  it('the deviation check sees a profitable deviation in a non-equilibrium profile', () => {
    const users: NashUser[] = [{ d: 30, s: 1e6, c: 1000, fl: 0.5e9 }];
    const srv: NashServer = { ...SRV, W: 5e6 };
    const dev = maxDeviationGain(users, srv, { o: [0], p: [0] }, 'joint');
    expect(dev.gain).toBeGreaterThan(0.5);
    expect(dev.user).toBe(0);
  });
});

describe('pricing: best response, P* and bounds', () => {
  it('x*(P) maximizes the user utility on a grid', () => {
    const g = stream(3, 'test', 'pricing-br');
    for (let k = 0; k < 30; k++) {
      const u: PricingUser = { C: g.uniform(1, 5), e: g.uniform(0.5, 2), gamma: g.uniform(0.5, 1.5) };
      const P = g.uniform(0, 2.5);
      const x = bestFraction(u, 20, P);
      const best = userUtility(u, 20, P, x);
      let gridBest = -Infinity;
      for (let j = 0; j <= 1000; j++) gridBest = Math.max(gridBest, userUtility(u, 20, P, j / 1000));
      expect(gridBest).toBeLessThanOrEqual(best + 1e-12);
      expect(best - gridBest).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(best)));
    }
  });

  it('a hand-computed single-user optimum', () => {
    // e = 1, C = 2, γ = 1, F = 20: full below 0.9, none above 1; the piece's vertex 0.6 lies below it → P* = 0.9, Π* = 0.7 · 2
    const users = [{ C: 2, e: 1, gamma: 1 }];
    const ref = exactOptimum(users, 20, 0.2);
    expect(ref.price).toBeCloseTo(0.9, 12);
    expect(ref.profit).toBeCloseTo(1.4, 12);
    expect(ref.lower).toBeCloseTo(0.9, 12);
    expect(ref.upper).toBe(1);
    const semi = sweepOptimum(users, 20, 0.2);
    expect(semi.price).toBeCloseTo(0.9, 12);
  });

  it('the exact P* beats a dense price grid, equals the O(N log N) sweep, and lies within its bounds', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const N = [1, 2, 5, 5, 12, 40][seed % 6];
      const users = Array.from({ length: N }, (_, i) => drawPricingUser(seed, i));
      const ref = exactOptimum(users, 20, 0.2);
      const b = priceBounds(users, 20, 0.2);
      let gridBest = 0;
      let gridArg = 0;
      const K = 100000;
      for (let j = 0; j <= K; j++) {
        const P = 0.2 + ((b.upper + 0.1 - 0.2) * j) / K;
        const v = profitAt(users, 20, 0.2, P);
        if (v > gridBest) {
          gridBest = v;
          gridArg = P;
        }
      }
      expect(ref.profit).toBeGreaterThanOrEqual(gridBest * (1 - 1e-12));
      expect(ref.profit - gridBest).toBeLessThanOrEqual(1e-4 * ref.profit);
      expect(profitAt(users, 20, 0.2, ref.price)).toBeCloseTo(ref.profit, 12);
      expect(ref.price).toBeGreaterThanOrEqual(b.lower - 1e-12);
      expect(ref.price).toBeLessThanOrEqual(b.upper + 1e-12);
      if (ref.localMaxima === 1) expect(Math.abs(gridArg - ref.price)).toBeLessThan(1e-3);
      const semi = sweepOptimum(users, 20, 0.2);
      expect(Math.abs(semi.price - ref.price)).toBeLessThanOrEqual(1e-9 * ref.price);
      expect(Math.abs(semi.profit - ref.profit)).toBeLessThanOrEqual(1e-9 * ref.profit);
    }
  });

  it('bounds: below the lower bound everyone migrates fully, above the upper nobody migrates', () => {
    const users = Array.from({ length: 8 }, (_, i) => drawPricingUser(11, i));
    const b = priceBounds(users, 20, 0.2);
    expect(b.lower).toBeLessThan(b.upper);
    for (const u of users) {
      expect(bestFraction(u, 20, b.lower - 1e-9)).toBe(1);
      expect(bestFraction(u, 20, b.upper)).toBe(0);
    }
    expect(profitAt(users, 20, 0.2, b.upper + 0.5)).toBe(0);
  });

  it('x*(P) curves for U1..U5: sorted by e descending, 1 at low prices, 0 beyond max e, non-increasing', () => {
    const users = Array.from({ length: 5 }, (_, i) => drawPricingUser(2, i));
    const c = fractionCurves(users, 20, 3) as { prices: number[]; series: Record<string, { e: number; x: number[] }> };
    const names = Object.keys(c.series);
    expect(names).toEqual(['U1', 'U2', 'U3', 'U4', 'U5']);
    for (let r = 1; r < 5; r++) expect(c.series[names[r - 1]].e).toBeGreaterThanOrEqual(c.series[names[r]].e);
    for (const n of names) {
      const xs = c.series[n].x;
      expect(xs[0]).toBe(1);
      expect(xs[xs.length - 1]).toBe(0);
      for (let j = 1; j < xs.length; j++) expect(xs[j]).toBeLessThanOrEqual(xs[j - 1]);
    }
  });

  it('the decentralized search: a fixed round count, and the best sample near the optimum when Π is unimodal', () => {
    expect(goldenIterations(32, 1e-6)).toBe(24);
    expect(decentralizedRounds(32, 1e-6)).toBe(59);
    const srv = { F: 20, kappa: 0.2, Pmax: 3, grid: 32, tol: 1e-6 };
    let unimodal = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const users = Array.from({ length: [1, 2, 5][seed % 3] }, (_, i) => drawPricingUser(seed, i));
      const r = runDecentralizedDirect((P) => profitAt(users, 20, 0.2, P), srv);
      expect(r.evaluations + 1).toBe(59);
      const ref = exactOptimum(users, 20, 0.2);
      expect(r.best.profit).toBeLessThanOrEqual(ref.profit * (1 + 1e-12));
      if (ref.localMaxima === 1) {
        unimodal++;
        expect(r.best.profit).toBeGreaterThanOrEqual(ref.profit * (1 - 1e-4));
      }
    }
    expect(unimodal).toBeGreaterThan(0); // single users always give a unimodal Π; at N = 5 it is a sawtooth
  });
});

describe('mobility: motion, ring, predictors', () => {
  it('motion accelerates to the cap then cruises (hand-computed)', () => {
    const u = { x0: 100, dir: -1, v0: 10, a: 2 };
    expect(travelled(u, 20, 3)).toBeCloseTo(39, 12); // 30 + 9
    expect(travelled(u, 20, 8)).toBeCloseTo(135, 12); // cap at t = 5: 50 + 25, then 3 s at 20
    expect(positionAt(u, 20, 3)).toBeCloseTo(61, 12);
    expect(wrap(-50, 2000)).toBe(1950);
    expect(wrap(wrap(-1e-13, 2000), 2000)).toBe(wrap(-1e-13, 2000));
    expect(ringDistance(1990, 10, 2000)).toBeCloseTo(20, 12);
  });

  it('the Kalman filter on a noiseless constant-acceleration track predicts the future position', () => {
    const x = (t: number) => 3 + 12 * t + 0.75 * t * t;
    const kf = new KalmanCA(1e-6, 1e-4);
    for (let t = 0; t <= 30; t++) kf.step(x(t));
    expect(kf.x[0]).toBeCloseTo(x(30), 3);
    expect(kf.x[1]).toBeCloseTo(12 + 1.5 * 30, 2);
    expect(kf.x[2]).toBeCloseTo(1.5, 2);
    expect(Math.abs(kf.predict(10) - x(40))).toBeLessThan(0.05);
    // and much better than holding the last position, as PA does
    expect(Math.abs(kf.predict(10) - x(40))).toBeLessThan(0.001 * Math.abs(x(30) - x(40)));
  });

  it('pa picks the server nearest the fix; kalman the covering server nearest the predicted position', () => {
    const w = { L: 2000, M: 20, R: 150 } as MobilityWorld; // servers every 100 m
    expect(serverPosition(3, w)).toBe(300);
    expect(chooseServer('pa', w, 340, 0, 0)).toBe(3);
    expect(chooseServer('pa', w, 1990, 0, 0)).toBe(0); // across the wrap
    // at 340 the covering servers are 200..400 (indices 2..4); predicted 700 → the nearest covering is 400
    expect(chooseServer('kalman', w, 0, 340, 700)).toBe(4);
    // predicted behind: 250 → index 2 or 3 equidistant? 250 is 50 from both 200 and 300: ties → lower index
    expect(chooseServer('kalman', w, 0, 340, 250)).toBe(2);
    const sparse = { L: 2000, M: 4, R: 150 } as MobilityWorld; // servers at 0, 500, 1000, 1500
    expect(chooseServer('kalman', sparse, 0, 250, 900)).toBe(0); // none covers 250 → the nearest to it (0 and 500 tie → 0)
  });
});

describe('nash defaults', () => {
  it('the spec defaults', () => {
    expect(NASH_DEFAULTS).toMatchObject({ C: 3, W: 5e6, omega: 1e-13, kappa: 1e-27, F: 20e9, fmax: 4e9, pmin: 0.01, pmax: 0.2, betaT: 0.5, betaE: 0.5, epsilon: 1e-2, users: 20 });
  });
});
