/**
 * Best responses of one UE: minimize ξ_i = Σ_j g_j(λ_ij) s.t. Σ_j λ_ij = λ_i, 0 ≤ λ_ij ≤ λ_i.
 *
 * With g'_j(x) = A_j + B_j (1 − c_j²/(x + c_j)²) (eq. 26, c_j = λ_−i,j + 1), the KKT point for a
 * multiplier σ is the positive root of the quadratic (eq. 37 rearranged)
 *   (A_j + B_j − σ)(x + c_j)² − B_j c_j² = 0  →  x_j(σ) = c_j (σ − A_j) / (√D (√B_j + √D)),
 * D = A_j + B_j − σ, clipped to [0, λ_i] (0 for σ ≤ A_j, λ_i once D is small enough). The sum
 * F(σ) = Σ_j x_j(σ) is continuous and nondecreasing; the best response is x(σ*) with F(σ*) = λ_i.
 *
 * `exact`: bisection on σ to machine precision (water-filling), then the row is scaled to sum λ_i.
 * `fl`: the seed's sub-gradient on the multiplier, σ ← σ + γ (λ_i − F(σ)) / S, where S bounds the
 * slope of F (the spec's step scaling: Σ_j of each x_j's largest slope on [0, λ_i]); it stops when
 * |F(σ) − λ_i| ≤ ψ and rescales the row to λ_i at the end. Its start (spec, revision 2): a UE's
 * first best response of the run starts from σ₀ = min_j A_j, the marginal cost at zero load over its
 * eligible servers; every later one warm-starts from that UE's previous σ, across rounds and slots
 * (the caller keeps σ and never resets it).
 */
import type { BrProblem } from './model.ts';

export interface BrResult {
  x: number[];
  /** the multiplier the row was computed at (FL: for the next warm start) */
  sigma: number;
  /** FL: multiplier updates; exact: bisection steps */
  loops: number;
  /** FL: whether |F − λ| ≤ ψ was reached within the loop cap */
  ok: boolean;
}

/** the positive root x_j(σ) of eq. (37), clipped to [0, λ] */
export function rootAt(A: number, B: number, c: number, sigma: number, lambda: number): number {
  if (sigma <= A) return 0;
  const D = A + B - sigma;
  if (D <= 0) return lambda;
  const sd = Math.sqrt(D);
  const x = (c * (sigma - A)) / (sd * (Math.sqrt(B) + sd));
  return x >= lambda ? lambda : x;
}

export function allocationAt(p: BrProblem, sigma: number): number[] {
  return p.A.map((A, k) => rootAt(A, p.B[k], p.c[k], sigma, p.lambda));
}

function sumAt(p: BrProblem, sigma: number): number {
  let s = 0;
  for (let k = 0; k < p.A.length; k++) s += rootAt(p.A[k], p.B[k], p.c[k], sigma, p.lambda);
  return s;
}

/** σ at which server k alone would take all λ (x_k = λ) */
function fullAt(p: BrProblem, k: number): number {
  const c = p.c[k];
  return p.A[k] + p.B[k] * (1 - (c * c) / ((p.lambda + c) * (p.lambda + c)));
}

function rescale(x: number[], lambda: number): number[] {
  const s = x.reduce((a, v) => a + v, 0);
  if (!(s > 0)) return x;
  return x.map((v) => (v * lambda) / s);
}

/** water-filling: bisection on σ over [min A, min_k fullAt(k)] */
export function bestResponseExact(p: BrProblem): BrResult {
  const n = p.A.length;
  if (n === 1) return { x: [p.lambda], sigma: fullAt(p, 0), loops: 0, ok: true };
  let lo = Math.min(...p.A);
  let hi = Infinity;
  for (let k = 0; k < n; k++) hi = Math.min(hi, fullAt(p, k));
  let loops = 0;
  while (loops < 200) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    loops++;
    if (sumAt(p, mid) < p.lambda) lo = mid;
    else hi = mid;
  }
  // the sum is continuous: take the end closer to λ
  const sigma = Math.abs(sumAt(p, lo) - p.lambda) <= Math.abs(sumAt(p, hi) - p.lambda) ? lo : hi;
  return { x: rescale(allocationAt(p, sigma), p.lambda), sigma, loops, ok: true };
}

/** an upper bound of F's slope: Σ_k of x_k's slope where x_k = λ, (λ + c)³ / (2 B c²) */
export function slopeBound(p: BrProblem): number {
  let s = 0;
  for (let k = 0; k < p.A.length; k++) {
    const c = p.c[k];
    const t = p.lambda + c;
    s += (t * t * t) / (2 * p.B[k] * c * c);
  }
  return s;
}

export const FL_MAX_LOOPS = 1_000_000;

/** FL's start for a UE's first best response: σ₀ = min_j A_j (∂ξ_i/∂λ_ij at λ_ij = 0 is A_j) */
export function flStart(p: BrProblem): number {
  return Math.min(...p.A);
}

/** the seed's FL sub-gradient search (see the file header) */
export function bestResponseFl(p: BrProblem, psi: number, gamma: number, sigma0?: number): BrResult {
  const n = p.A.length;
  if (n === 1) return { x: [p.lambda], sigma: sigma0 ?? fullAt(p, 0), loops: 0, ok: true };
  let sigma = sigma0 !== undefined && Number.isFinite(sigma0) ? sigma0 : flStart(p);
  const step = gamma / slopeBound(p);
  let loops = 0;
  let F = sumAt(p, sigma);
  while (Math.abs(p.lambda - F) > psi && loops < FL_MAX_LOOPS) {
    sigma += step * (p.lambda - F);
    F = sumAt(p, sigma);
    loops++;
  }
  return { x: rescale(allocationAt(p, sigma), p.lambda), sigma, loops, ok: Math.abs(p.lambda - F) <= psi };
}

export type BrKind = 'fl' | 'exact';

export function bestResponse(kind: BrKind, p: BrProblem, psi: number, gamma: number, sigma0?: number): BrResult {
  return kind === 'exact' ? bestResponseExact(p) : bestResponseFl(p, psi, gamma, sigma0);
}
