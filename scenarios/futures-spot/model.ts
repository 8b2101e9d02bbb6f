/**
 * futures-spot — the model (docs/scenarios/futures-spot.md).
 *
 * Parameters drawn by agent index, the spot valuations, the users' registration decision, the
 * futures (contract) allocation with shortfall and indemnity, and a server's profit. Everything here
 * is a pure function shared by the protocol (broker / mec / ue handlers) and the reference: it is
 * the spec's model, written once. Units: resources in integer "units", money in abstract currency.
 */
import { stream } from '../common/rng.ts';
import type { JsonObject } from '../types.ts';

export type Auction = 'complete' | 'incomplete';
export const AUCTIONS: Auction[] = ['complete', 'incomplete'];

/** MEC server j: capacity R_j (units), marginal cost κ_j, ask a_j (lowest unit price), performance ζ_j. */
export interface ServerParams extends JsonObject {
  R: number;
  kappa: number;
  a: number;
  zeta: number;
}

/** UE i: demand D_i (units), marginal benefit v_i per unit, preference ρ_ij for each server j. */
export interface UserParams extends JsonObject {
  D: number;
  v: number;
  rho: number[];
}

export const DEFAULTS = { M: 5, N: 30, P: 2.5, lFactor: 0.5, c0: 1, tau: 0.1, maxIterations: 200, fee: 0.5 } as const;

/**
 * The broker's per-unit fees on the incomplete-information spot market (patent step 103): sellers
 * pay φ_a per unit sold, buyers φ_b per unit bought. The double auction runs on the net book (bids
 * b_i − φ_b, asks a_j + φ_a); a buyer pays its book price + φ_b, a seller receives its book price − φ_a.
 * The complete-information auction charges none (step 409: the broker extracts the users' full value).
 */
export interface Fees {
  phiA: number;
  phiB: number;
}
export const NO_FEES: Fees = { phiA: 0, phiB: 0 };

/**
 * Server j's parameters from the seed: R ∈ int[20,50], κ ∈ [0.5,1.5], a = κ(1+u) with u ∈ [0.1,0.5],
 * ζ ∈ [1,2]. Also returns u, so an explicit κ without an explicit a gets a = κ(1+u).
 */
export function drawServer(seed: number, j: number): ServerParams & { u: number } {
  const g = stream(seed, 'mec', j, 'params');
  const R = g.int(20, 50);
  const kappa = g.uniform(0.5, 1.5);
  const u = g.uniform(0.1, 0.5);
  const zeta = g.uniform(1, 2);
  return { R, kappa, a: kappa * (1 + u), zeta, u };
}

/** User i's parameters from the seed: D ∈ int[1,5], v ∈ [2,6], ρ_ij ∈ [0.5,1.5] (ρ from its own stream, so ρ_ij does not depend on M). */
export function drawUser(seed: number, i: number, M: number): UserParams {
  const g = stream(seed, 'ue', i, 'params');
  const D = g.int(1, 5);
  const v = g.uniform(2, 6);
  const h = stream(seed, 'ue', i, 'rho');
  const rho = Array.from({ length: M }, () => h.uniform(0.5, 1.5));
  return { D, v, rho };
}

/** Left-to-right sum (the one summation order used everywhere, so distributed and reference agree bit for bit). */
export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

export function meanOf(xs: readonly number[]): number {
  return sum(xs) / xs.length;
}

/** Spot valuations v_ij = v_i ρ_ij ζ_j / mean(ζ). */
export function valuations(v: number, rho: readonly number[], zeta: readonly number[]): number[] {
  const mz = meanOf(zeta);
  return rho.map((r, j) => (v * r * zeta[j]) / mz);
}

/** The homogeneous bid of the incomplete-information auction: b_i = mean_j v_ij. */
export const homogeneousBid = (vij: readonly number[]): number => meanOf(vij);

/**
 * Step 2 of the fee iteration: does user i register as a contract user at fee r?
 * Contract profit with full delivery `(v − P) D − r` against the price-taker spot estimate
 * (`D max(0, b − φ_b − pb)` under `incomplete`, pb the published book price; 0 under `complete`);
 * ties are broken by `tie()` < 1/2.
 */
export function choosesContract(auction: Auction, u: { D: number; v: number; b: number }, P: number, r: number, pb: number | null, tie: () => number, phiB: number): boolean {
  const contract = (u.v - P) * u.D - r;
  const spot = auction === 'incomplete' && pb !== null ? u.D * Math.max(0, u.b - phiB - pb) : 0;
  if (contract > spot) return true;
  if (contract < spot) return false;
  return tie() < 0.5;
}

/**
 * The registration fee of iteration k, r_k = k τ: computed from k (never accumulated) and rounded to
 * 12 significant digits, so r_k is the decimal a reader expects (0.3, not 0.30000000000000004).
 * Broker and reference both use it.
 */
export const feeAt = (k: number, tau: number): number => Number((k * tau).toPrecision(12));

/** The seeded coin for user i's tie in iteration k of a slot. */
export const tieCoin = (seed: number, i: number, slot: number, k: number) => () => stream(seed, 'ue', i, 'tie', slot, k).next();

export interface FuturesAllocation {
  /** units server j delivers to contract users (Σ_i u_ij) */
  fut: number[];
  /** server j's share of the undelivered units, (ΣD − ΣR) R_j / ΣR under shortfall, else 0 */
  und: number[];
  /** remaining capacity R'_j for the spot market */
  rem: number[];
  /** ΣD > ΣR: every contract user gets the fraction ΣR / ΣD of its demand */
  shortfall: boolean;
  sumR: number;
  sumD: number;
}

/**
 * The futures allocation: contract demand ΣD is served first, by servers in ascending κ_j (ties by
 * j). With a shortfall (ΣD > ΣR) every contract user gets d_i = D_i ΣR / ΣD, every server is full,
 * and server j bears the undelivered units in proportion R_j / ΣR. (Per-user u_ij follow from
 * filling users in ascending i; only the per-server totals enter any profit, so only they are kept.)
 */
export function futuresAllocate(servers: readonly { R: number; kappa: number }[], contractDemands: readonly number[]): FuturesAllocation {
  const M = servers.length;
  const sumR = sum(servers.map((s) => s.R));
  const sumD = sum(contractDemands);
  const fut = new Array<number>(M).fill(0);
  const und = new Array<number>(M).fill(0);
  const rem = servers.map((s) => s.R);
  if (sumD > sumR) {
    for (let j = 0; j < M; j++) {
      fut[j] = servers[j].R;
      und[j] = ((sumD - sumR) * servers[j].R) / sumR;
      rem[j] = 0;
    }
    return { fut, und, rem, shortfall: true, sumR, sumD };
  }
  const order = servers.map((_, j) => j).sort((x, y) => servers[x].kappa - servers[y].kappa || x - y);
  let left = sumD;
  for (const j of order) {
    if (left <= 0) break;
    const take = Math.min(left, servers[j].R);
    fut[j] = take;
    rem[j] = servers[j].R - take;
    left -= take;
  }
  return { fut, und, rem, shortfall: false, sumR, sumD };
}

/** Units contract user i receives: D_i, or D_i ΣR / ΣD under shortfall. */
export const delivered = (D: number, fa: { shortfall: boolean; sumR: number; sumD: number }) => (fa.shortfall ? (D * fa.sumR) / fa.sumD : D);

/** Contract user profit `(v − P) d − r + l (D − d)`. */
export const contractProfit = (u: { D: number; v: number }, d: number, P: number, l: number, r: number) => (u.v - P) * d - r + l * (u.D - d);

/** What the broker tells server j at the end of an iteration (the `settle` message body). */
export interface Settlement extends JsonObject {
  k: number;
  r: number;
  /** number of contract users */
  nc: number;
  sumR: number;
  fut: number;
  und: number;
  spotUnits: number;
  /** Σ over its spot trades of units × unit price received */
  spotRevenue: number;
}

/**
 * Server j's profit in one iteration, c0 share subtracted:
 * `(P − κ) fut − l und + r n_c R/ΣR + (spot revenue − κ spot units) − c0 R/ΣR`.
 * Under `complete` the spot term is Σ (v_ij − κ_j) D_i; under `incomplete`, (p_s − κ_j) × units.
 */
export function serverProfit(s: { R: number; kappa: number }, P: number, l: number, c0: number, st: Settlement): number {
  const futures = (P - s.kappa) * st.fut - l * st.und + (st.r * st.nc * s.R) / st.sumR;
  const spot = st.spotRevenue - s.kappa * st.spotUnits;
  return futures + spot - (c0 * s.R) / st.sumR;
}

/** The fully resolved configuration (what `mecsim params futures-spot` prints and `--config` reads back). */
export interface FuturesSpotConfig extends JsonObject {
  scenario: 'futures-spot';
  /** the spot auction: `complete` or `incomplete` (also under the key `auction`, as the spec names it) */
  mechanism: Auction;
  auction: Auction;
  seed: number;
  slots: number;
  /** number of MEC servers and of users */
  M: number;
  N: number;
  /** contract unit price P and indemnity l per undelivered unit */
  P: number;
  l: number;
  /** broker's management fee per slot, paid by the servers in proportion to capacity */
  c0: number;
  /** registration-fee step τ */
  tau: number;
  /** the broker's per-unit fees on the incomplete-information spot market: sellers φ_a, buyers φ_b (unused by `complete`) */
  phiA: number;
  phiB: number;
  maxIterations: number;
  servers: ServerParams[];
  users: UserParams[];
}
