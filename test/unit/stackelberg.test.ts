/** `stackelberg`: model, best response, reference solver and configuration (pure functions). */
import { describe, expect, it } from 'vitest';
import { stream } from '../../scenarios/common/rng.ts';
import { stackelberg, usersAt, type StackelbergConfig } from '../../scenarios/stackelberg/index.ts';
import { allocate, bestResponse, completionTime, interiorOptimum, outcomeAt, unitsForDeadline, utility, type UserParams } from '../../scenarios/stackelberg/model.ts';
import { countLocalMaxima, OPEN, profitAt, referenceOptimum } from '../../scenarios/stackelberg/reference.ts';
import { ConfigError, type JsonObject, type RunInput } from '../../scenarios/types.ts';
import { scaledMs } from '../../bus/timeouts.ts';

const resolve = (o: Partial<RunInput> = {}) => stackelberg.resolve({ seed: 1, slots: 1, options: {}, ...o });
const ksOf = (cfg: StackelbergConfig, slot = 0) => usersAt(cfg, slot).map((u) => unitsForDeadline(u, cfg.server.f));
const thetasOf = (cfg: StackelbergConfig, slot = 0) => usersAt(cfg, slot).map((u) => u.theta);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A population with light tasks (c = 500 cycles/bit, generous deadlines): k is small, so every user is interior at p*. */
function lightPopulation(seed: number, n: number): UserParams[] {
  const g = stream(seed, 'test', 'light');
  return Array.from({ length: n }, () => ({ theta: g.uniform(50, 100), s: g.uniform(1e6, 5e6), c: 500, r: g.uniform(2e7, 5e7), tmax: g.uniform(2.5, 3) }));
}

/** Some users with 30× heavier tasks: large k, exits at low prices, Π with teeth where the search can get stuck. */
function heavyPopulation(seed: number, n: number): UserParams[] {
  const g = stream(seed, 'test', 'heavy');
  return Array.from({ length: n }, () => ({ theta: g.uniform(50, 100), s: g.uniform(1e6, 5e6), c: g.uniform(500, 1500) * (g.next() < 0.4 ? 30 : 1), r: g.uniform(1e7, 5e7), tmax: g.uniform(1, 3) }));
}

const withUsers = (users: UserParams[], server: JsonObject = {}, extra: Partial<RunInput> = {}) => resolve({ config: { server, users: users as unknown as JsonObject[] }, ...extra });

describe('model', () => {
  it('k is the number of units that just meets the deadline: T(k) = tmax', () => {
    const cfg = resolve({ seed: 7, users: 20 });
    for (const u of cfg.users) {
      const k = unitsForDeadline(u, cfg.server.f);
      expect(completionTime(u, cfg.server.f, k)).toBeCloseTo(u.tmax, 9);
      expect(completionTime(u, cfg.server.f, 2 * k)).toBeLessThan(u.tmax);
    }
  });

  it('closed forms p* = sqrt(m Σθ/Σk) and Π* = (sqrt Σθ − sqrt(m Σk))² where every user buys x̂ ≥ k', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const m of [1, 2.5]) {
        const cfg = withUsers(lightPopulation(seed, 8), { m });
        const thetas = thetasOf(cfg);
        const ks = ksOf(cfg);
        const cf = interiorOptimum(thetas, ks, m);
        // the premise: at p* every user is on the interior branch (p* ≤ θ/(2k), i.e. x̂ ≥ k)
        thetas.forEach((t, i) => expect(cf.price).toBeLessThanOrEqual(t / (2 * ks[i])));
        const at = outcomeAt(cf.price, thetas, ks, cfg.server);
        at.purchases.forEach((x, i) => {
          expect(x).toBeCloseTo(thetas[i] / cf.price - ks[i], 12);
          expect(x).toBeGreaterThanOrEqual(ks[i]);
        });
        expect(at.profit / cf.profit - 1).toBeLessThan(1e-12);
        const ref = referenceOptimum(thetas, ks, cfg.server);
        expect(ref.kind).toBe('stationary');
        expect(Math.abs(ref.price / cf.price - 1)).toBeLessThan(1e-12);
        expect(Math.abs(ref.profit / cf.profit - 1)).toBeLessThan(1e-12);
        expect(profitAt(cf.price * 1.001, thetas, ks, cfg.server)).toBeLessThan(cf.profit);
        expect(profitAt(cf.price * 0.999, thetas, ks, cfg.server)).toBeLessThan(cf.profit);
      }
    }
  });

  it('a faster unit (larger f) or faster links (larger r, every user) raise Π* — the spec sweeps', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const base = resolve({ seed });
      const best = (cfg: StackelbergConfig) => referenceOptimum(thetasOf(cfg), ksOf(cfg), cfg.server).profit;
      const overF = [1e9, 2e9, 4e9, 8e9].map((f) => best(stackelberg.sweep!(base, 'f', f)));
      const overR = [1e6, 2e6, 5e6, 1e7, 2e7, 5e7].map((r) => best(stackelberg.sweep!(base, 'r', r)));
      for (let i = 1; i < overF.length; i++) expect(overF[i], `seed ${seed} f: ${overF}`).toBeGreaterThan(overF[i - 1]);
      for (let i = 1; i < overR.length; i++) expect(overR[i], `seed ${seed} r: ${overR}`).toBeGreaterThanOrEqual(overR[i - 1]);
      expect(overR[overR.length - 1]).toBeGreaterThan(overR[0]);
      // a larger f lowers every k
      const fast = stackelberg.sweep!(base, 'f', 8e9);
      ksOf(fast).forEach((k, i) => expect(k).toBeLessThan(ksOf(base)[i]));
    }
  });
});

describe('GURP best response', () => {
  const cfg = resolve({ seed: 2, users: 30 });
  const ks = ksOf(cfg);
  const thetas = thetasOf(cfg);

  it('buyers get U > 0 and at least k units; no purchase on a dense grid does better', () => {
    for (const p of [1.5, 5, 12, 30, 80, 150]) {
      thetas.forEach((t, i) => {
        const x = bestResponse(t, ks[i], p);
        const u = utility(t, ks[i], x, p);
        if (x > 0) {
          expect(x).toBeGreaterThanOrEqual(ks[i]);
          expect(u).toBeGreaterThan(0);
        } else expect(u).toBe(0);
        for (let j = 0; j <= 300; j++) {
          const y = (j / 300) * 4 * Math.max(ks[i], t / p);
          expect(utility(t, ks[i], y, p)).toBeLessThanOrEqual(u + 1e-9);
        }
      });
    }
  });

  it('follows the three regimes: θ/p − k, then k, then 0 from θ ln2 / k on', () => {
    const t = 80;
    const k = 2;
    expect(bestResponse(t, k, 10)).toBeCloseTo(t / 10 - k, 12);
    expect(bestResponse(t, k, t / (2 * k))).toBeCloseTo(k, 12);
    expect(bestResponse(t, k, 25)).toBe(k);
    expect(bestResponse(t, k, ((t * Math.LN2) / k) * OPEN)).toBe(k);
    expect(bestResponse(t, k, (t * Math.LN2) / k)).toBe(0); // U(k) = 0 exactly: not > 0
    expect(bestResponse(t, k, 1000)).toBe(0);
    // below k the deadline is missed: the user pays for nothing
    expect(utility(t, k, k / 2, 10)).toBe(-5 * k);
  });

  it('buys nothing when the upload alone misses the deadline (σ ≤ 0)', () => {
    const late: UserParams = { theta: 80, s: 4e6, c: 1000, r: 1e6, tmax: 2 }; // upload takes 4 s
    const exact: UserParams = { theta: 80, s: 2e6, c: 1000, r: 1e6, tmax: 2 }; // σ = 0
    for (const u of [late, exact]) {
      const k = unitsForDeadline(u, 4e9);
      expect(k).toBe(Infinity);
      for (const p of [1.0001, 2, 50]) expect(bestResponse(u.theta, k, p)).toBe(0);
    }
  });

  it('higher satisfaction buys more and gets more utility (same k, same price)', () => {
    for (const p of [3, 10, 20]) {
      const k = ks[0];
      const lo = outcomeAt(p, [60], [k], cfg.server);
      const hi = outcomeAt(p, [90], [k], cfg.server);
      expect(hi.purchases[0]).toBeGreaterThanOrEqual(lo.purchases[0]);
      expect(hi.utilities[0]).toBeGreaterThan(lo.utilities[0]);
    }
  });

  it('a capacity is granted in descending θ (ties by index) with a partial last grant', () => {
    expect(allocate([5, 5, 5], [10, 30, 20], 8)).toEqual([0, 5, 3]);
    expect(allocate([5, 5, 5], [20, 20, 10], 7)).toEqual([5, 2, 0]);
    expect(allocate([1, 2], [1, 2], null)).toEqual([1, 2]);
    expect(allocate([1, 2], [1, 2], 3)).toEqual([1, 2]);
  });
});

describe('reference solver', () => {
  /** max of Π on a uniform grid, and the bound on how far below the supremum it can be */
  function grid(thetas: number[], ks: number[], server: StackelbergConfig['server'], hi: number, n: number) {
    let best = 0;
    for (let i = 0; i <= n; i++) best = Math.max(best, profitAt(server.m + ((hi - server.m) * i) / n, thetas, ks, server));
    // |Π′| = |mA/p² − B| ≤ Σθ/m + Σk on every piece (p ≥ m), and X bounds it too with a capacity
    const fin = ks.filter(Number.isFinite);
    const lipschitz = sum(thetas) / server.m + sum(fin) + (server.X ?? 0);
    return { best, slack: (lipschitz * (hi - server.m)) / n };
  }
  const cases: [string, () => StackelbergConfig][] = [
    ...[1, 2, 3, 5, 8].map((s): [string, () => StackelbergConfig] => [`seed ${s}`, () => resolve({ seed: s, users: 6 })]),
    ...[4, 10, 18].map((s): [string, () => StackelbergConfig] => [`heavy ${s}`, () => withUsers(heavyPopulation(s, 6))]),
    ...[3, 6].map((s): [string, () => StackelbergConfig] => [`capacity seed ${s}`, () => resolve({ seed: s, users: 6, options: { X: 12 } })]),
    ['heavy with capacity', () => withUsers(heavyPopulation(26, 6), { X: 40 })],
  ];
  it.each(cases)('equals the maximum of a brute-force price grid (%s)', (_, make) => {
    const cfg = make();
    const thetas = thetasOf(cfg);
    const ks = ksOf(cfg);
    const ref = referenceOptimum(thetas, ks, cfg.server);
    const [lo, hi] = ref.priceRange;
    expect(lo).toBe(cfg.server.m);
    expect(ref.price).toBeGreaterThanOrEqual(lo);
    expect(ref.price).toBeLessThanOrEqual(hi);
    const g = grid(thetas, ks, cfg.server, hi, 40_000);
    expect(ref.profit).toBeGreaterThanOrEqual(g.best * (1 - 1e-12));
    expect(ref.profit - g.best).toBeLessThanOrEqual(g.slack);
    // the reported purchases and utilities are Π's at the reported price, user by user
    const at = outcomeAt(ref.price, thetas, ks, cfg.server);
    expect(ref.purchases).toEqual(at.purchases);
    expect(ref.utilities).toEqual(at.utilities);
    if (cfg.server.X !== null) expect(sum(ref.purchases)).toBeLessThanOrEqual(cfg.server.X * (1 + 1e-12));
    // the shape (number of local maxima) agrees with a fine scan
    const vals: number[] = [];
    for (let i = 0; i <= 20_000; i++) vals.push(profitAt(lo + ((hi - lo) * i) / 20_000, thetas, ks, cfg.server));
    expect(ref.localMaxima).toBe(countLocalMaxima(vals, 1e-9 * ref.profit));
  });

  it('is unimodal only in special populations: a common θ/k ≤ 4m rises to the users’ common exit', () => {
    // every user shares θ/k = ρ: interior stationary point sqrt(mρ) ≥ ρ/2 iff ρ ≤ 4m, then Π keeps rising in
    // the corner regime until everybody leaves at ρ ln2
    for (const rho of [1.6, 2.5, 3.9]) {
      const thetas = [50, 70, 90, 65];
      const ks = thetas.map((t) => t / rho);
      const ref = referenceOptimum(thetas, ks, { m: 1, X: null });
      expect(ref.unimodal).toBe(true);
      expect(ref.kind).toBe('open-end');
      expect(ref.price).toBeCloseTo(rho * Math.LN2, 9);
    }
    const ref = referenceOptimum([50, 70], [50 / 6, 70 / 6], { m: 1, X: null }); // ρ = 6 > 4m: two peaks
    expect(ref.unimodal).toBe(false);
    expect(ref.localMaxima).toBe(2);
  });

  it('nobody feasible: profit 0 at p = m', () => {
    const ref = referenceOptimum([80, 60], [Infinity, Infinity], { m: 1, X: null });
    expect(ref.profit).toBe(0);
    expect(ref.purchases).toEqual([0, 0]);
  });

  it('is O(N log N): 10,000 users in well under a second', () => {
    const cfg = resolve({ seed: 1, users: 10_000 });
    const t0 = performance.now();
    const ref = referenceOptimum(thetasOf(cfg), ksOf(cfg), cfg.server);
    expect(performance.now() - t0).toBeLessThan(scaledMs(1000)); // a second on an idle machine
    expect(ref.profit).toBeGreaterThan(0);
  });
});

describe('configuration', () => {
  it('what `params` prints reads back as the identical config', () => {
    for (const input of [{ seed: 9, users: 5, options: { step: 0.2 } }, { seed: 3, slots: 4, mechanism: 'gsrp-step', options: { X: 25, patience: 5 } }]) {
      const cfg = resolve(input);
      const printed = JSON.parse(JSON.stringify(cfg));
      const again = stackelberg.resolve({ seed: printed.seed, slots: printed.slots, options: {}, config: printed });
      expect(again).toEqual(cfg);
      expect(JSON.stringify(again)).toBe(JSON.stringify(cfg));
    }
  });

  it('has the spec’s shape and defaults', () => {
    const cfg = resolve({ seed: 4 });
    expect(Object.keys(cfg)).toEqual(['scenario', 'mechanism', 'seed', 'slots', 'server', 'users']);
    expect(cfg.server).toEqual({ f: 4e9, m: 1, X: null, p0: 1.1, step: 0.1, patience: 3, epsilon: 1e-6 });
    expect(cfg.users).toHaveLength(6);
    for (const u of cfg.users) {
      expect(Object.keys(u)).toEqual(['theta', 's', 'c', 'r', 'tmax']);
      expect(u.theta).toBeGreaterThanOrEqual(50);
      expect(u.theta).toBeLessThanOrEqual(100);
      expect(u.s).toBeGreaterThanOrEqual(1e6);
      expect(u.s).toBeLessThanOrEqual(5e6);
      expect(u.r).toBeGreaterThanOrEqual(1e7);
      expect(u.r).toBeLessThanOrEqual(5e7);
    }
    // parameters depend on the seed and the index only
    expect(resolve({ seed: 4, users: 9 }).users.slice(0, 6)).toEqual(cfg.users);
    expect(resolve({ seed: 5 }).users).not.toEqual(cfg.users);
  });

  it('a user’s join blob does not grow with N', () => {
    const small = resolve({ users: 10 });
    const big = resolve({ users: 1000 });
    const size = (c: StackelbergConfig) => JSON.stringify(stackelberg.agentInit(c, { id: 'ue-3', role: 'ue', index: 3 })).length;
    expect(size(big)).toBe(size(small));
  });

  it.each([
    [{ config: { server: { f: -1 } } }, /server\.f/],
    [{ options: { step: 'abc' } }, /--step/],
    [{ options: { X: -5 } }, /--X/],
    [{ config: { server: { X: 0 } } }, /server\.X/],
    [{ config: { server: { epsilon: 0.7 } } }, /server\.epsilon/],
    [{ config: { server: { fq: 1 } } }, /server\.fq: unknown key/],
    [{ config: { users: [{ theta: 0, s: 1, c: 1, r: 1, tmax: 1 }] } }, /users\[0\]\.theta/],
    [{ config: { users: [{ theta: -3, s: 1, c: 1, r: 1, tmax: 1 }] } }, /users\[0\]\.theta/],
    [{ config: { users: [{ theta: 70, s: 1, c: 1, r: 1 }] } }, /users\[0\]\.tmax/],
    [{ config: { users: [{ theta: 70, s: 1, c: 1, r: 1, tmax: 1, extra: 2 }] } }, /users\[0\]\.extra/],
    [{ config: { users: [] } }, /^users/],
    [{ config: { users: 'six' } }, /^users/],
    [{ config: { users: [{ theta: 70, s: 1, c: 1, r: 1, tmax: 1 }] }, users: 3 }, /--users/],
    [{ mechanism: 'nope' }, /--mechanism/],
    [{ config: { mechanism: 'gsrp-magic' } }, /--mechanism/],
    [{ options: { patience: 0 } }, /--patience/],
    [{ options: { p0: 0.5 } }, /--p0/],
    [{ users: 0 }, /--users/],
    [{ slots: 0 }, /--slots/],
  ])('rejects impossible input %#', (input, msg) => {
    expect(() => resolve(input as Partial<RunInput>)).toThrow(ConfigError);
    expect(() => resolve(input as Partial<RunInput>)).toThrow(msg);
  });
});
