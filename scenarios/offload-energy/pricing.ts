/**
 * Mechanism `pricing` — load migration priced by the server (spec: offload-energy.md, "Mechanism pricing").
 * Units: Gcycles, GHz, money per Gcycle.
 *
 * - user i offloads x_i ∈ [0, 1] of its task C_i: u_i = (e_i − P) x_i C_i − (γ_i / 2)(x_i C_i)² / F,
 *   best response x_i*(P) = clip((e_i − P) F / (γ_i C_i), 0, 1); its demand d_i = x_i* C_i.
 * - server profit Π(P) = (P − κ_s) Σ d_i(P): piecewise quadratic between the breakpoints e_i − γ_i C_i / F
 *   (below it user i migrates fully) and e_i (above it nothing).
 *
 * `semi-distributed`: a `report` round (users send e, C, γ), the exact piecewise maximum by one sweep over the
 * sorted breakpoints (O(N log N)), a `final` round at P*. `decentralized`: `price` rounds on a fixed schedule
 * (32 evenly spaced prices on [κ_s, P_max], then golden-section search on observed profit in the two grid cells
 * around the best one, for a number of iterations fixed by the bracket width alone), then `final` at the best
 * observed price: the round count depends only on (grid, tolerance), never on N.
 */
import { sumFinite } from '../common/columns.ts';
import { stream } from '../common/rng.ts';
import type { JsonObject, LeaderContext, SlotOutcome } from '../types.ts';

export interface PricingUser {
  /** task, Gcycles */
  C: number;
  /** benefit of offloading one Gcycle */
  e: number;
  /** congestion coefficient */
  gamma: number;
}

export interface PricingServer {
  /** capacity, GHz */
  F: number;
  /** server cost per Gcycle */
  kappa: number;
  /** the top of the price range the decentralized server searches */
  Pmax: number;
  /** decentralized: number of evenly spaced prices scanned first */
  grid: number;
  /** decentralized: golden-section stops below this bracket width relative to (P_max − κ_s) */
  tol: number;
}

export type PricingVariant = 'semi-distributed' | 'decentralized';

export const PRICING_DEFAULTS = { F: 20, kappa: 0.2, Pmax: 3, grid: 32, tol: 1e-6, users: 5 } as const;

export function drawPricingUser(seed: number, i: number): PricingUser {
  const g = stream(seed, 'ue', i, 'pricing');
  const C = g.uniform(1, 5);
  const e = g.uniform(0.5, 2);
  const gamma = g.uniform(0.5, 1.5);
  return { C, e, gamma };
}

/**
 * slot 0 as configured; later slots draw a new task C_i from the seed. Every slot's is a new object of
 * one literal's shape: a copy of the configured one (a decoded map) or a spread of it has another hidden
 * class, and the handler's optimized code, specialized to slot 0's, was thrown away and compiled again
 * at each new slot.
 */
export function pricingUserAt(seed: number, i: number, u: PricingUser, slot: number): PricingUser {
  const C = slot === 0 ? u.C : stream(seed, 'ue', i, 'pricing-task', slot).uniform(1, 5);
  return { C, e: u.e, gamma: u.gamma };
}

export function bestFraction(u: PricingUser, F: number, P: number): number {
  const x = ((u.e - P) * F) / (u.gamma * u.C);
  return x <= 0 ? 0 : x >= 1 ? 1 : x;
}

export function userUtility(u: PricingUser, F: number, P: number, x: number): number {
  const w = x * u.C;
  return (u.e - P) * w - ((u.gamma / 2) * w * w) / F;
}

/** Π(P) by direct summation */
export function profitAt(users: PricingUser[], F: number, kappa: number, P: number): number {
  let d = 0;
  for (const u of users) d += bestFraction(u, F, P) * u.C;
  return (P - kappa) * d;
}

/** lower and upper bounds of the optimal price (spec) */
export function priceBounds(users: PricingUser[], F: number, kappa: number): { lower: number; upper: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const u of users) {
    lo = Math.min(lo, u.e - (u.gamma * u.C) / F);
    hi = Math.max(hi, u.e);
  }
  return { lower: Math.max(kappa, lo), upper: hi };
}

export interface Optimum {
  price: number;
  profit: number;
}

/**
 * The server's semi-distributed solver: one sweep over the 2N sorted breakpoints keeping Σd = A − B P on each
 * piece, maximizing (P − κ)(A − B P) piece by piece. Ties → the lower price. O(N log N).
 */
export function sweepOptimum(users: PricingUser[], F: number, kappa: number): Optimum {
  // events: at P = e − γC/F user i enters the partial regime (A += eF/γ − C, B += F/γ); at P = e it leaves it
  const ev: { P: number; dA: number; dB: number }[] = [];
  let A = 0;
  for (const u of users) {
    const lo = u.e - (u.gamma * u.C) / F;
    ev.push({ P: lo, dA: (u.e * F) / u.gamma - u.C, dB: F / u.gamma });
    ev.push({ P: u.e, dA: -(u.e * F) / u.gamma, dB: -F / u.gamma });
    A += u.C; // below every breakpoint each user migrates fully
  }
  ev.sort((a, b) => a.P - b.P);
  let B = 0;
  let best: Optimum = { price: kappa, profit: 0 };
  const consider = (P: number) => {
    const d = Math.max(0, A - B * P);
    const pr = (P - kappa) * d;
    if (pr > best.profit || (pr === best.profit && P < best.price)) best = { price: P, profit: pr };
  };
  let left = -Infinity;
  for (let j = 0; j <= ev.length; j++) {
    const right = j < ev.length ? ev[j].P : Infinity;
    // piece [left, right] ∩ [κ, ∞) with Σd = A − B P
    const a = Math.max(left, kappa);
    if (right >= a) {
      if (Number.isFinite(a)) consider(a);
      if (B > 0) {
        const v = (A + B * kappa) / (2 * B);
        if (v > a && v < right) consider(v);
      }
      if (Number.isFinite(right)) consider(right);
    }
    if (j < ev.length) {
      A += ev[j].dA;
      B += ev[j].dB;
      left = right;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// The decentralized search as a generator: yields prices, receives observed profits, returns the best sample.

export interface Sample {
  price: number;
  profit: number;
}

const PHI = (1 + Math.sqrt(5)) / 2;

/** the number of golden-section iterations after the two interior points (a function of grid and tol only) */
export function goldenIterations(grid: number, tol: number): number {
  const w0 = 2 / (grid - 1); // bracket width relative to the range
  return Math.max(0, Math.ceil(Math.log(w0 / tol) / Math.log(PHI)));
}

/** rounds of the decentralized mechanism: grid + 2 interior golden points + iterations + the final round */
export function decentralizedRounds(grid: number, tol: number): number {
  return grid + 2 + goldenIterations(grid, tol) + 1;
}

export function* decentralizedSearch(kappa: number, Pmax: number, grid: number, tol: number): Generator<number, Sample, number> {
  const samples: Sample[] = [];
  const ev = function* (p: number): Generator<number, number, number> {
    const profit: number = yield p;
    samples.push({ price: p, profit });
    return profit;
  };
  const step = (Pmax - kappa) / (grid - 1);
  const prices = Array.from({ length: grid }, (_, j) => (j === grid - 1 ? Pmax : kappa + j * step));
  let kBest = 0;
  let fBest = -Infinity;
  for (let j = 0; j < grid; j++) {
    const f = yield* ev(prices[j]);
    if (f > fBest) {
      fBest = f;
      kBest = j;
    }
  }
  // bracket of two grid cells around the best, shifted (not clipped) to stay inside the range
  const k0 = Math.min(Math.max(kBest - 1, 0), grid - 3 < 0 ? 0 : grid - 3);
  let a = prices[k0];
  let b = prices[Math.min(k0 + 2, grid - 1)];
  let c = b - (b - a) / PHI;
  let d = a + (b - a) / PHI;
  let fc = yield* ev(c);
  let fd = yield* ev(d);
  const n = goldenIterations(grid, tol);
  for (let it = 0; it < n; it++) {
    if (fc >= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - (b - a) / PHI;
      fc = yield* ev(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + (b - a) / PHI;
      fd = yield* ev(d);
    }
  }
  let best = samples[0];
  for (const s of samples) if (s.profit > best.profit || (s.profit === best.profit && s.price < best.price)) best = s;
  return best;
}

/** drive the decentralized search with a direct profit oracle (used by the reference side's claims) */
export function runDecentralizedDirect(profit: (P: number) => number, srv: PricingServer): { best: Sample; evaluations: number } {
  const gen = decentralizedSearch(srv.kappa, srv.Pmax, srv.grid, srv.tol);
  let evaluations = 0;
  let r = gen.next(NaN);
  while (!r.done) {
    evaluations++;
    r = gen.next(profit(r.value));
  }
  return { best: r.value, evaluations };
}

// ---------------------------------------------------------------------------------------------------------
// Protocol

export interface PricingFollowerInit {
  seed: number;
  index: number;
  F: number;
  user: PricingUser;
}

export function createPricingFollower(init: PricingFollowerInit): PricingFollower {
  return new PricingFollower(init);
}

/** A user under pricing: its state in fields of one object (a closure was three per user, read every round; docs/guide.md). */
class PricingFollower {
  private slot = -1;
  private u: PricingUser;

  constructor(private readonly init: PricingFollowerInit) {
    this.u = init.user;
  }

  handle(kind: string, body: JsonObject, meta: { slot: number }): JsonObject | undefined {
    const init = this.init;
    if (meta.slot !== this.slot) {
      this.slot = meta.slot;
      this.u = pricingUserAt(init.seed, init.index, init.user, this.slot);
    }
    const u = this.u;
    if (kind === 'report') return { e: u.e, C: u.C, gamma: u.gamma };
    const P = body.P;
    if (typeof P !== 'number' || !Number.isFinite(P)) return undefined;
    const x = bestFraction(u, init.F, P);
    if (kind === 'price') return { d: x * u.C };
    if (kind === 'final') {
      const util = userUtility(u, init.F, P, x);
      return Number.isFinite(util) ? { x, d: x * u.C, u: util } : undefined; // an absurd P overflows: no answer
    }
    return undefined;
  }
}

export interface PricingLeaderInit {
  variant: PricingVariant;
  server: PricingServer;
}

async function finalRound(ctx: LeaderContext, srv: PricingServer, P: number, rounds: number, extra: JsonObject, notes: string[]): Promise<SlotOutcome> {
  const res = await ctx.round<{ x: number; d: number; u: number }>({ kind: 'final', body: { P } });
  const x = res.replies.map((r) => (r && Number.isFinite(r.x) ? r.x : 0));
  let demand = 0;
  for (const r of res.replies) if (r && Number.isFinite(r.d)) demand += r.d;
  const profit = (P - srv.kappa) * demand;
  ctx.record({ round: rounds + 1, kind: 'final', price: P, profit, demand });
  return {
    equilibrium: { price: P, profit, demand, x, utilities: res.replies.map((r) => (r && Number.isFinite(r.u) ? r.u : 0)), rounds: rounds + 1 },
    converged: true,
    notes: notes.length ? notes : undefined,
    extra: { ...extra, rounds: rounds + 1 },
  };
}

export async function runPricingSlot(ctx: LeaderContext, init: PricingLeaderInit): Promise<SlotOutcome> {
  const srv = init.server;
  if (init.variant === 'semi-distributed') {
    const rep = await ctx.round<PricingUser>({ kind: 'report', body: {} });
    const users: PricingUser[] = [];
    for (const r of rep.replies) if (r && [r.C, r.e, r.gamma].every((v) => Number.isFinite(v)) && r.C > 0 && r.gamma > 0) users.push({ C: r.C, e: r.e, gamma: r.gamma });
    const opt = sweepOptimum(users, srv.F, srv.kappa);
    ctx.record({ round: 1, kind: 'report', price: null, profit: opt.profit, demand: null });
    const notes = rep.missing.length ? [`${rep.missing.length} users did not report`] : [];
    return finalRound(ctx, srv, opt.price, 1, { variant: 'semi-distributed' }, notes);
  }
  const gen = decentralizedSearch(srv.kappa, srv.Pmax, srv.grid, srv.tol);
  let rounds = 0;
  let r = gen.next(NaN);
  while (!r.done) {
    const P = r.value;
    const res = await ctx.round<{ d: number }>({ kind: 'price', body: { P } });
    // the replies' finite d, summed in roster order
    const demand = sumFinite(res.column('d'));
    const profit = (P - srv.kappa) * demand;
    rounds++;
    ctx.record({ round: rounds, kind: rounds <= srv.grid ? 'scan' : 'golden', price: P, profit, demand });
    r = gen.next(profit);
  }
  return finalRound(ctx, srv, r.value.price, rounds, { variant: 'decentralized', priceRounds: rounds }, []);
}

// ---------------------------------------------------------------------------------------------------------
// Reference: exact P* by candidate enumeration (independent of the sweep), bounds, local maxima, curves.

export interface PricingReference extends Optimum {
  lower: number;
  upper: number;
  /** strict local maxima of Π on [κ, ∞) (the sawtooth's teeth with positive profit) */
  localMaxima: number;
}

/**
 * Exact maximum of Π over P ≥ κ by enumeration: the demand D(P) = Σ x_i*(P) C_i is continuous and linear between
 * consecutive breakpoints, so it is summed directly at every breakpoint (O(N) each, O(N²) in all — independent of
 * the sweep's running sums) and interpolated on each piece, where Π = (P − κ) D(P) is a concave quadratic whose
 * vertex is a candidate. The best candidate's profit is then recomputed by direct summation. Ties → the lower price.
 */
export function exactOptimum(users: PricingUser[], F: number, kappa: number): PricingReference {
  const bps = [kappa];
  for (const u of users) bps.push(u.e - (u.gamma * u.C) / F, u.e);
  const pts = [...new Set(bps.filter((p) => p >= kappa))].sort((a, b) => a - b);
  const D = pts.map((p) => demandAt(users, F, p));
  const vals: { P: number; v: number }[] = [];
  for (let j = 0; j < pts.length; j++) {
    vals.push({ P: pts[j], v: (pts[j] - kappa) * D[j] });
    if (j + 1 < pts.length) {
      const a = pts[j];
      const b = pts[j + 1];
      const slope = (D[j + 1] - D[j]) / (b - a);
      if (slope < 0) {
        // maximize (P − κ)(D(a) + slope (P − a)): vertex at P = (κ + a − D(a) / slope) / 2
        const v = (kappa + a - D[j] / slope) / 2;
        if (v > a && v < b) vals.push({ P: v, v: (v - kappa) * (D[j] + slope * (v - a)) });
      }
    }
  }
  let best = { P: kappa, v: 0 };
  for (const c of vals) if (c.v > best.v || (c.v === best.v && c.P < best.P)) best = c;
  // local maxima on the candidate sequence (Π is monotone between consecutive candidates)
  let localMaxima = 0;
  for (let j = 0; j < vals.length; j++) {
    const l = j > 0 ? vals[j - 1].v : -Infinity;
    const r = j + 1 < vals.length ? vals[j + 1].v : -Infinity;
    const tol = 1e-12 * Math.max(1, Math.abs(vals[j].v));
    if (vals[j].v > 0 && vals[j].v > l + tol && vals[j].v > r + tol) localMaxima++;
  }
  return { price: best.P, profit: profitAt(users, F, kappa, best.P), ...priceBounds(users, F, kappa), localMaxima };
}

export function demandAt(users: PricingUser[], F: number, P: number): number {
  let d = 0;
  for (const u of users) d += bestFraction(u, F, P) * u.C;
  return d;
}

/**
 * x_i*(P) curves for U1..U5 (the seed's Fig. 5): the first five users (or all if fewer), named by e
 * descending, on `points` prices from 0 to max(P_max, 1.1 max e).
 */
export function fractionCurves(users: PricingUser[], F: number, Pmax: number, points = 101): JsonObject {
  const five = users.slice(0, 5).map((u, i) => ({ u, i }));
  five.sort((a, b) => b.u.e - a.u.e || a.i - b.i);
  const top = Math.max(Pmax, 1.1 * Math.max(...users.map((u) => u.e)));
  const prices = Array.from({ length: points }, (_, j) => (top * j) / (points - 1));
  const series: JsonObject = {};
  five.forEach(({ u, i }, r) => {
    series[`U${r + 1}`] = { user: `ue-${i}`, e: u.e, x: prices.map((P) => bestFraction(u, F, P)) };
  });
  return { prices, series };
}
