/**
 * The centralized reference: the global maximum of the server's profit Π(p) over
 * p ∈ [m, max_i θ_i/k_i], found analytically.
 *
 * Each user is in one of three regimes: interior (x = θ/p − k, for p ≤ θ/(2k)), corner (x = k, for
 * θ/(2k) < p < θ ln2 / k) or out (x = 0, from p = θ ln2 / k on). Between consecutive breakpoints
 * the regimes are fixed and Π(p) = (p − m)(A/p − B′) with A = Σθ over interior users and
 * B′ = Σk(interior) − Σk(corner): concave, with its stationary point at sqrt(m A / B′). With a
 * capacity X, Π = (p − m) min(D(p), X), whose maximum on a piece is also at the crossing D(p) = X.
 * The candidates are the pieces' ends (an end where a user leaves is open, approached from below),
 * the stationary points and the capacity crossings; Π is evaluated exactly at each.
 */
import { outcomeAt, type PriceOutcome, type ServerParams } from './model.ts';

export interface ReferenceResult extends PriceOutcome {
  /** whether Π has a single local maximum on the price range (sampled densely) */
  unimodal: boolean;
  localMaxima: number;
  priceRange: [number, number];
}

const OPEN = 1 - 1e-12;

export function priceRange(thetas: number[], ks: number[], m: number): [number, number] {
  let hi = m;
  thetas.forEach((t, i) => {
    if (Number.isFinite(ks[i])) hi = Math.max(hi, t / ks[i]);
  });
  return [m, hi];
}

export function referenceOptimum(thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): ReferenceResult {
  const { m, X } = server;
  const [lo, hi] = priceRange(thetas, ks, m);
  const feasible = thetas.map((_, i) => i).filter((i) => Number.isFinite(ks[i]));
  const cuts = new Set<number>([lo, hi]);
  const drops = new Set<number>();
  for (const i of feasible) {
    const b1 = thetas[i] / (2 * ks[i]);
    const b2 = (thetas[i] * Math.LN2) / ks[i];
    if (b1 > lo && b1 < hi) cuts.add(b1);
    if (b2 > lo && b2 < hi) {
      cuts.add(b2);
      drops.add(b2);
    }
  }
  const pts = [...cuts].sort((a, b) => a - b);
  const candidates: number[] = [lo];
  for (let j = 0; j + 1 < pts.length; j++) {
    const l = pts[j];
    const r = pts[j + 1];
    if (!(r > l)) continue;
    const mid = (l + r) / 2;
    let A = 0;
    let B = 0;
    for (const i of feasible) {
      if (mid <= thetas[i] / (2 * ks[i])) {
        A += thetas[i];
        B += ks[i];
      } else if (mid < (thetas[i] * Math.LN2) / ks[i]) B -= ks[i];
    }
    const rEnd = drops.has(r) || r === hi ? r * OPEN : r;
    candidates.push(l, rEnd);
    if (B > 0 && A > 0) {
      const ps = Math.sqrt((m * A) / B);
      if (ps > l && ps < r) candidates.push(ps);
    }
    if (X !== null && X + B > 0 && A > 0) {
      const pc = A / (X + B); // demand A/p − B equals X
      if (pc > l && pc < r) candidates.push(pc);
    }
  }
  let best = outcomeAt(lo, thetas, ks, server);
  for (const p of candidates) {
    const o = outcomeAt(p, thetas, ks, server);
    if (o.profit > best.profit) best = o;
  }
  const { unimodal, localMaxima } = unimodality(thetas, ks, server, lo, hi, candidates);
  return { ...best, unimodal, localMaxima, priceRange: [lo, hi] };
}

/** Count the local maxima of Π on a dense grid (plus the candidates), with a relative tolerance. */
function unimodality(thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>, lo: number, hi: number, extra: number[]) {
  const n = 3000;
  const ps = [...extra];
  for (let i = 0; i <= n; i++) ps.push(lo + ((hi - lo) * i) / n);
  ps.sort((a, b) => a - b);
  const vals = ps.map((p) => outcomeAt(p, thetas, ks, server).profit);
  const scale = Math.max(1e-12, ...vals.map(Math.abs));
  const tol = 1e-9 * scale;
  let maxima = 0;
  let rising = true;
  for (let i = 1; i < vals.length; i++) {
    const d = vals[i] - vals[i - 1];
    if (d > tol) {
      if (!rising) rising = true;
    } else if (d < -tol) {
      if (rising) {
        maxima++;
        rising = false;
      }
    }
  }
  if (rising && vals.length > 1) maxima++;
  return { unimodal: maxima <= 1, localMaxima: maxima };
}

/** Π on a brute-force grid (tests and the `gsrp-step` oracle use it). */
export function profitAt(p: number, thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): number {
  return outcomeAt(p, thetas, ks, server).profit;
}

/**
 * The `gsrp-step` rule computed centrally (independently of the protocol): the price that the step
 * search must end on, and the number of prices it evaluates.
 */
export function stepRule(thetas: number[], ks: number[], server: ServerParams, maxRounds = 1_000_000): { price: number; profit: number; evaluations: number } {
  let p = server.p0;
  let bestP = p;
  let bestPi = -Infinity;
  let prev: number | undefined;
  let fallen = 0;
  let n = 0;
  for (; n < maxRounds; ) {
    const o = outcomeAt(p, thetas, ks, server);
    n++;
    if (o.profit > bestPi) {
      bestPi = o.profit;
      bestP = p;
    }
    fallen = prev !== undefined && o.profit < prev ? fallen + 1 : 0;
    const demand = o.purchases.reduce((a, b) => a + b, 0);
    if (fallen >= server.patience || demand === 0) break;
    prev = o.profit;
    p = server.p0 + n * server.step;
  }
  return { price: bestP, profit: bestPi, evaluations: n };
}
