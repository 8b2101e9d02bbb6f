/**
 * futures-spot — the two spot auctions the broker runs, their property checks, and the exact
 * welfare-optimal assignment used as the complete-information auction's yardstick (reference only).
 *
 * - `greedyComplete`: complete information (spec steps 401–409). The broker knows every v_ij;
 *   repeatedly the qualifying (user, server) pair with the largest v_ij is assigned all D_i units at
 *   price v_ij.
 * - `mcafee`: incomplete information (steps 501–508). Homogeneous unit bids b_i and unit asks a_j;
 *   McAfee's double auction with the midpoint price or trade reduction.
 * - `checkSpot`: individual rationality, budget balance, feasibility and the efficiency bound of one
 *   spot round, recomputed from the book and the trades alone (so the integration test can check a
 *   distributed run from its recorded data).
 *
 * The auctions themselves know nothing of the broker's fees: the incomplete-information market runs
 * `mcafee` on the net book (bids b_i − φ_b, asks a_j + φ_a) and turns its book prices into what is
 * paid and received (protocol.ts and reference.ts each do it on their own); `checkIncomplete` checks
 * a round against the traders' own values and the fees.
 */
import { NO_FEES, type Fees } from './model.ts';

/** A random user's bid under `complete`: its demand and its value v_ij for every server j. */
export interface CompleteBid {
  i: number;
  D: number;
  v: number[];
}
/** A random user's bid under `incomplete`: D units at b per unit. */
export interface UnitBid {
  i: number;
  D: number;
  b: number;
}
/** Server j's ask: R units (its remaining capacity R'_j) at no less than a per unit. */
export interface Ask {
  j: number;
  R: number;
  a: number;
}
/** One trade: [buyer i, seller j, units, unit price the buyer pays, unit price the seller receives]. */
export type Trade = [number, number, number, number, number];

export interface SpotResult {
  trades: Trade[];
  /** units traded */
  units: number;
  /** buyers' unit price (incomplete: p0 or b_k; null when k = 0 or under complete) */
  pb: number | null;
  /** sellers' unit price (incomplete: p0 or a_k; null when k = 0 or under complete) */
  ps: number | null;
  /** incomplete: k, the number of units with b_t ≥ a_t (efficient quantity); complete: number of winners */
  k: number;
  /** incomplete: whether the midpoint case applied (null when k = 0 or under complete) */
  midpoint: boolean | null;
}

const byBid = (x: UnitBid, y: UnitBid) => y.b - x.b || x.i - y.i;
const byAsk = (x: Ask, y: Ask) => x.a - y.a || x.j - y.j;

/**
 * Complete-information greedy. One pass over the qualifying pairs sorted by (−v_ij, i, j) is the
 * spec's repeated "pick the largest qualifying pair": capacities only shrink, so a pair that does not
 * qualify when reached never qualifies later.
 */
export function greedyComplete(bids: readonly CompleteBid[], asks: readonly Ask[]): SpotResult {
  const cap = new Map(asks.map((s) => [s.j, s.R]));
  const askOf = new Map(asks.map((s) => [s.j, s.a]));
  const pairs: [number, number, number, number][] = []; // v, i, j, D
  for (const u of bids) {
    for (const s of asks) {
      const v = u.v[s.j];
      if (v >= s.a) pairs.push([v, u.i, s.j, u.D]);
    }
  }
  pairs.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
  const done = new Set<number>();
  const trades: Trade[] = [];
  let units = 0;
  for (const [v, i, j, D] of pairs) {
    if (done.has(i) || cap.get(j)! < D || !(askOf.get(j)! <= v)) continue;
    done.add(i);
    cap.set(j, cap.get(j)! - D);
    trades.push([i, j, D, v, v]);
    units += D;
  }
  return { trades, units, pb: null, ps: null, k: trades.length, midpoint: null };
}

/** The value of unit t (1-based) of a run-length book. */
function unitAt<T>(runs: readonly T[], len: (x: T) => number, t: number): T {
  let c = 0;
  for (const r of runs) {
    c += len(r);
    if (t <= c) return r;
  }
  throw new Error(`unit ${t} beyond the book (${c} units)`);
}

/** Pair the first q bid units with the first q ask units (unit t with unit t), as trades. */
function pairUnits(B: readonly UnitBid[], A: readonly Ask[], q: number, pb: number, ps: number): Trade[] {
  const trades: Trade[] = [];
  let bi = 0;
  let ai = 0;
  let bl = B.length ? B[0].D : 0;
  let al = A.length ? A[0].R : 0;
  let left = q;
  while (left > 0) {
    const s = Math.min(bl, al, left);
    if (!(s > 0)) throw new Error(`pairUnits: the book ran out ${left} units short of ${q}`); // never loop on an exhausted book
    const last = trades[trades.length - 1];
    if (last && last[0] === B[bi].i && last[1] === A[ai].j) last[2] += s;
    else trades.push([B[bi].i, A[ai].j, s, pb, ps]);
    bl -= s;
    al -= s;
    left -= s;
    if (bl === 0 && ++bi < B.length) bl = B[bi].D;
    if (al === 0 && ++ai < A.length) al = A[ai].R;
  }
  return trades;
}

/**
 * McAfee's double auction on unit-expanded bids (sorted by (−b, i)) and asks (sorted by (a, j)),
 * kept run-length encoded so it costs O((N + M) log(N + M)) whatever the unit counts.
 * k = the last unit with b_k ≥ a_k. If unit k+1 exists on both sides and p0 = (b_{k+1} + a_{k+1})/2
 * lies in [a_k, b_k], all k units trade at p0; otherwise the first k−1 trade, buyers paying b_k and
 * sellers receiving a_k (the broker keeps the spread).
 */
export function mcafee(bids: readonly UnitBid[], asks: readonly Ask[]): SpotResult {
  const B = bids.filter((x) => x.D > 0).sort(byBid);
  const A = asks.filter((x) => x.R > 0).sort(byAsk);
  let k = 0;
  let bi = 0;
  let ai = 0;
  let bl = B.length ? B[0].D : 0;
  let al = A.length ? A[0].R : 0;
  while (bi < B.length && ai < A.length && B[bi].b >= A[ai].a) {
    const s = Math.min(bl, al);
    k += s;
    bl -= s;
    al -= s;
    if (bl === 0 && ++bi < B.length) bl = B[bi].D;
    if (al === 0 && ++ai < A.length) al = A[ai].R;
  }
  if (k === 0) return { trades: [], units: 0, pb: null, ps: null, k: 0, midpoint: null };
  const totalB = B.reduce((s, x) => s + x.D, 0);
  const totalA = A.reduce((s, x) => s + x.R, 0);
  const bk = unitAt(B, (x) => x.D, k).b;
  const ak = unitAt(A, (x) => x.R, k).a;
  if (k + 1 <= totalB && k + 1 <= totalA) {
    const p0 = (unitAt(B, (x) => x.D, k + 1).b + unitAt(A, (x) => x.R, k + 1).a) / 2;
    if (ak <= p0 && p0 <= bk) return { trades: pairUnits(B, A, k, p0, p0), units: k, pb: p0, ps: p0, k, midpoint: true };
  }
  return { trades: pairUnits(B, A, k - 1, bk, ak), units: k - 1, pb: bk, ps: ak, k, midpoint: false };
}

/** Per-server spot units and revenue (Σ units × seller price), summed in trade order. */
export function perServer(trades: readonly Trade[], M: number): { units: number[]; revenue: number[] } {
  const units = new Array<number>(M).fill(0);
  const revenue = new Array<number>(M).fill(0);
  for (const [, j, q, , ps] of trades) {
    units[j] += q;
    revenue[j] += q * ps;
  }
  return { units, revenue };
}

/** Unit-weighted mean price the buyers paid, or null when nothing traded. */
export function meanBuyerPrice(trades: readonly Trade[]): number | null {
  let q = 0;
  let pay = 0;
  for (const t of trades) {
    q += t[2];
    pay += t[2] * t[3];
  }
  return q > 0 ? pay / q : null;
}

/** Broker's spot balance: Σ buyers' payments − Σ sellers' receipts. */
export function spread(trades: readonly Trade[]): number {
  let s = 0;
  for (const [, , q, pb, ps] of trades) s += q * pb - q * ps;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Exact welfare-optimal assignment (reference only)

export const EXACT_LIMIT = 12;

/**
 * The welfare-optimal assignment of complete-information bids: each user to at most one server (all
 * D_i units there), Σ D_i ≤ R'_j per server, maximizing Σ D_i (v_ij − a_j). Exact, by DP over subsets
 * of users (server by server, over the submasks: O(M 3^n)); n ≤ 16.
 */
export function optimalAssignment(bids: readonly CompleteBid[], asks: readonly Ask[]): { welfare: number; assign: number[] } {
  const n = bids.length;
  if (n > 16) throw new Error(`optimalAssignment: ${n} users is too many for the exact DP (≤ 16)`);
  const S = 1 << n;
  const M = asks.length;
  let f = new Float64Array(S).fill(-Infinity);
  f[0] = 0;
  const choice: Int32Array[] = [];
  const val = new Float64Array(S);
  const load = new Float64Array(S);
  for (let m = 0; m < M; m++) {
    const s = asks[m];
    for (let mask = 1; mask < S; mask++) {
      const low = 31 - Math.clz32(mask & -mask);
      const rest = mask & (mask - 1);
      const u = bids[low];
      val[mask] = val[rest] + u.D * (u.v[s.j] - s.a);
      load[mask] = load[rest] + u.D;
    }
    const g = new Float64Array(S).fill(-Infinity);
    const ch = new Int32Array(S);
    for (let mask = 0; mask < S; mask++) {
      // T ⊆ mask goes to server m, mask \ T to the earlier servers
      for (let T = mask; ; T = (T - 1) & mask) {
        if (load[T] <= s.R) {
          const w = f[mask & ~T] + val[T];
          if (w > g[mask]) {
            g[mask] = w;
            ch[mask] = T;
          }
        }
        if (T === 0) break;
      }
    }
    choice.push(ch);
    f = g;
  }
  let best = 0;
  let bestMask = 0;
  for (let mask = 0; mask < S; mask++) if (f[mask] > best) [best, bestMask] = [f[mask], mask];
  const assign = new Array<number>(n).fill(-1);
  let mask = bestMask;
  for (let m = M - 1; m >= 0; m--) {
    const T = choice[m][mask];
    for (let t = 0; t < n; t++) if (T & (1 << t)) assign[t] = asks[m].j;
    mask &= ~T;
  }
  return { welfare: best, assign };
}

// ---------------------------------------------------------------------------------------------
// Property checks of one spot round

export interface SpotCheck {
  /** every trade within the buyer's demand and the seller's offer (complete: one server per user, all D_i) */
  feasible: boolean;
  /** no winning buyer pays above its bid, no seller receives below its ask */
  ir: boolean;
  /** the broker's spot balance Σ paid − Σ received ≥ 0 (incomplete: ≥ its fees, i.e. the book's spread ≥ 0) */
  bb: boolean;
  spread: number;
  units: number;
  /** gains from trade on the book: Σ units × (buyer's value − seller's ask), net of the fees under incomplete */
  welfare: number;
  /** incomplete: efficient units E, efficient welfare, least valuable efficient unit trade b_E − a_E */
  efficientUnits: number | null;
  efficientWelfare: number | null;
  leastEfficientTrade: number | null;
  /** complete: the exact optimum (null above the exact limit) and welfare / optimum */
  optimum: number | null;
  ratio: number | null;
  /** incomplete: units ≥ E − 1 and welfare ≥ efficient − least; complete: welfare ≤ optimum (true when no optimum) */
  efficiencyOk: boolean;
  ok: boolean;
}

const tolOf = (x: number) => 1e-9 * (1 + Math.abs(x));

function baseChecks(trades: readonly Trade[], demand: Map<number, number>, offer: Map<number, number>) {
  const gotB = new Map<number, number>();
  const gotA = new Map<number, number>();
  let feasible = true;
  for (const [i, j, q] of trades) {
    if (!(q > 0) || !demand.has(i) || !offer.has(j)) feasible = false;
    gotB.set(i, (gotB.get(i) ?? 0) + q);
    gotA.set(j, (gotA.get(j) ?? 0) + q);
  }
  for (const [i, q] of gotB) if (q > (demand.get(i) ?? 0)) feasible = false;
  for (const [j, q] of gotA) if (q > (offer.get(j) ?? 0)) feasible = false;
  const sp = spread(trades);
  return { feasible, sp, gotB };
}

/**
 * Checks of an incomplete-information round. `bids` and `asks` carry the traders' own values b_i and
 * a_j; the trades carry what was paid and received. With fees, individual rationality is against
 * the own values (a buyer pays at most b_i, a seller receives at least a_j: McAfee's guarantee on the
 * net book), budget balance asks that the broker keep at least its fees (the book's spread ≥ 0), and
 * the efficient quantity and welfare are those of the net book, recomputed by full unit expansion.
 */
export function checkIncomplete(bids: readonly UnitBid[], asks: readonly Ask[], trades: readonly Trade[], fees: Fees = NO_FEES): SpotCheck {
  const bOf = new Map(bids.map((x) => [x.i, x.b]));
  const aOf = new Map(asks.map((x) => [x.j, x.a]));
  const { feasible, sp } = baseChecks(trades, new Map(bids.map((x) => [x.i, x.D])), new Map(asks.map((x) => [x.j, x.R])));
  const perUnitFee = fees.phiA + fees.phiB;
  let ir = true;
  let welfare = 0;
  let units = 0;
  for (const [i, j, q, pb, ps] of trades) {
    const b = bOf.get(i) ?? -Infinity;
    const a = aOf.get(j) ?? Infinity;
    // the fees are added to and taken from the book prices in floating point: a buyer paying its own b_k
    // (trade reduction) pays (b_k − φ_b) + φ_b, which may exceed b_k by an ulp
    if (pb > b + tolOf(b) || ps < a - tolOf(a)) ir = false;
    welfare += q * (b - fees.phiB - (a + fees.phiA));
    units += q;
  }
  const bu: number[] = [];
  for (const x of bids) for (let t = 0; t < x.D; t++) bu.push(x.b - fees.phiB);
  const au: number[] = [];
  for (const x of asks) for (let t = 0; t < x.R; t++) au.push(x.a + fees.phiA);
  bu.sort((x, y) => y - x);
  au.sort((x, y) => x - y);
  let E = 0;
  let effW = 0;
  while (E < bu.length && E < au.length && bu[E] >= au[E]) {
    effW += bu[E] - au[E];
    E++;
  }
  const least = E > 0 ? bu[E - 1] - au[E - 1] : 0;
  const efficiencyOk = units >= E - 1 && welfare >= effW - least - tolOf(effW);
  const bb = sp >= 0 && sp >= units * perUnitFee - tolOf(sp);
  return { feasible, ir, bb, spread: sp, units, welfare, efficientUnits: E, efficientWelfare: effW, leastEfficientTrade: least, optimum: null, ratio: null, efficiencyOk, ok: feasible && ir && bb && efficiencyOk };
}

/** Checks of a complete-information round; with ≤ EXACT_LIMIT bidders the welfare is compared with the exact optimum. */
export function checkComplete(bids: readonly CompleteBid[], asks: readonly Ask[], trades: readonly Trade[], exactLimit = EXACT_LIMIT): SpotCheck {
  const vOf = new Map(bids.map((x) => [x.i, x]));
  const aOf = new Map(asks.map((x) => [x.j, x.a]));
  const { feasible: f0, sp, gotB } = baseChecks(trades, new Map(bids.map((x) => [x.i, x.D])), new Map(asks.map((x) => [x.j, x.R])));
  let feasible = f0;
  const seen = new Set<number>();
  let ir = true;
  let welfare = 0;
  let units = 0;
  for (const [i, j, q, pb, ps] of trades) {
    const u = vOf.get(i);
    const v = u ? u.v[j] : -Infinity;
    const a = aOf.get(j) ?? Infinity;
    if (seen.has(i) || (u && gotB.get(i) !== u.D)) feasible = false;
    seen.add(i);
    if (pb > v || ps < a) ir = false;
    welfare += q * (v - a);
    units += q;
  }
  let optimum: number | null = null;
  let ratio: number | null = null;
  let efficiencyOk = true;
  if (bids.length <= exactLimit) {
    optimum = optimalAssignment(bids, asks).welfare;
    // the DP and the trade list sum in different orders: a greedy that reaches the optimum may exceed it by
    // an ulp; the ratio is capped at 1 (efficiencyOk still flags a welfare above the optimum beyond rounding)
    ratio = optimum > 0 ? Math.min(welfare, optimum) / optimum : null;
    efficiencyOk = welfare <= optimum + tolOf(optimum);
  }
  const bb = sp >= 0;
  return { feasible, ir, bb, spread: sp, units, welfare, efficientUnits: null, efficientWelfare: null, leastEfficientTrade: null, optimum, ratio, efficiencyOk, ok: feasible && ir && bb && efficiencyOk };
}
