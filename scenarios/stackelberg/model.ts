/**
 * `stackelberg` model (docs/scenarios/stackelberg.md): one edge server prices resource units, N users
 * decide how many to buy (GURP best response). Pure functions only.
 *
 * Units: s in bits, c in cycles/bit, r in bit/s, f in Hz (cycles/s per unit), tmax in seconds;
 * prices and profits in money units per resource unit.
 */
import { stream, type Rng } from '../common/rng.ts';

/** Server parameters (SI: f in Hz, prices in money per unit). */
export interface ServerParams {
  /** CPU frequency of one resource unit, Hz */
  f: number;
  /** maintenance cost per leased unit */
  m: number;
  /** capacity in units; null = unlimited */
  X: number | null;
  /** first price of both pricing protocols */
  p0: number;
  /** gsrp-step price step Δ */
  step: number;
  /** gsrp-step: stop after the profit fell in this many consecutive rounds */
  patience: number;
  /** gsrp-search: relative bracket width to stop at */
  epsilon: number;
}

/** One user's request: theta (satisfaction), s (bits), c (cycles/bit), r (bit/s), tmax (s). */
export interface UserParams {
  theta: number;
  s: number;
  c: number;
  r: number;
  tmax: number;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * A user's parameters as one object shape, however they were come by (drawn, or decoded from a
 * config): a user's handler sees the same hidden class in every slot, so its optimized code is kept.
 */
export function userParams(theta: number, s: number, c: number, r: number, tmax: number): UserParams {
  return { theta, s, c, r, tmax };
}

/** A user's parameters drawn from a stream (the spec's default ranges, drawn in this order), rounded for readable configs. */
export function drawUserFrom(g: Rng): UserParams {
  return userParams(round6(g.uniform(50, 100)), Math.round(g.uniform(1e6, 5e6)), round6(g.uniform(500, 1500)), Math.round(g.uniform(10e6, 50e6)), round6(g.uniform(1, 3)));
}

/**
 * User i's drawn parameters in a slot: slot 0 from `stream(seed, 'ue', i, 'params')`, slot t > 0 (a new
 * request) from `stream(seed, 'ue', i, 'slot', t)` — so a user derives them from (seed, index) alone.
 */
export function drawUser(seed: number, index: number, slot: number): UserParams {
  return drawUserFrom(slot === 0 ? stream(seed, 'ue', index, 'params') : stream(seed, 'ue', index, 'slot', slot));
}

/** A user of the "historical" population behind the slot-0 historical-price baseline. */
export function drawHistoricalUser(seed: number, index: number): UserParams {
  return drawUserFrom(stream(seed, 'historical', index));
}

/** The upload's slack σ = tmax − s/r (s); buying is feasible only if σ > 0. */
export function slack(u: UserParams): number {
  return u.tmax - u.s / u.r;
}

/** k_i = s c / (f σ): the units that just meet the deadline; Infinity when infeasible (σ ≤ 0). */
export function unitsForDeadline(u: UserParams, f: number): number {
  const sigma = slack(u);
  return sigma > 0 ? (u.s * u.c) / (f * sigma) : Infinity;
}

/** Completion time with x units (s): T(x) = s/r + s c / (x f). */
export function completionTime(u: UserParams, f: number, x: number): number {
  return u.s / u.r + (u.s * u.c) / (x * f);
}

/**
 * Utility of buying x units at price p. For x ≥ k: θ ln(1 + x/k) − p x. Not buying: 0.
 * For 0 < x < k the deadline is missed. The spec leaves this open; the project defines U = −p x
 * (the user pays and gets nothing), so a purchase below k is never better than not buying — which is
 * what makes "GURP ≥ the purchasing baselines" a meaningful comparison (a random purchase below k is
 * a loss, not an undefined value).
 */
export function utility(theta: number, k: number, x: number, p: number): number {
  if (!(x > 0)) return 0;
  if (!Number.isFinite(k) || x < k * (1 - 1e-12)) return -p * x;
  return theta * Math.log(1 + x / k) - p * x;
}

/**
 * GURP: x̂ = θ/p − k, x* = max(x̂, k); buy x* iff feasible and U(x*) > 0, else 0. In closed form:
 * x = θ/p − k for p ≤ θ/(2k) (interior), x = k for θ/(2k) < p < θ ln2 / k (corner), 0 from θ ln2 / k on.
 */
export function bestResponse(theta: number, k: number, p: number): number {
  if (!Number.isFinite(k) || !(k > 0) || !(p > 0)) return 0;
  const x = Math.max(theta / p - k, k);
  return utility(theta, k, x, p) > 0 ? x : 0;
}

/**
 * Capacity: if total demand exceeds X, users are served in descending θ (ties: lower index first)
 * until X is used, with a partial last grant. Returns the granted amounts in user order.
 */
export function allocate(demands: number[], thetas: number[], X: number | null): number[] {
  let total = 0;
  for (const d of demands) total += d;
  if (X === null || total <= X) return demands.slice();
  const order = demands.map((_, i) => i).sort((a, b) => thetas[b] - thetas[a] || a - b);
  const granted = new Array<number>(demands.length).fill(0);
  let left = X;
  for (const i of order) {
    if (left <= 0) break;
    const g = Math.min(demands[i], left);
    granted[i] = g;
    left -= g;
  }
  return granted;
}

export interface PriceOutcome {
  price: number;
  purchases: number[];
  profit: number;
  utilities: number[];
}

/** Everything at one price, computed centrally from the users' parameters (θ_i, k_i). */
export function outcomeAt(p: number, thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): PriceOutcome {
  const demands = thetas.map((t, i) => bestResponse(t, ks[i], p));
  const purchases = allocate(demands, thetas, server.X);
  const utilities = purchases.map((x, i) => utility(thetas[i], ks[i], x, p));
  let total = 0;
  for (const x of purchases) total += x;
  return { price: p, purchases, profit: (p - server.m) * total, utilities };
}

/** Closed forms where every user buys x̂ ≥ k: p* = sqrt(m Σθ / Σk), Π* = (sqrt(Σθ) − sqrt(m Σk))². */
export function interiorOptimum(thetas: number[], ks: number[], m: number): { price: number; profit: number } {
  const st = thetas.reduce((a, b) => a + b, 0);
  const sk = ks.reduce((a, b) => a + b, 0);
  return { price: Math.sqrt((m * st) / sk), profit: (Math.sqrt(st) - Math.sqrt(m * sk)) ** 2 };
}
