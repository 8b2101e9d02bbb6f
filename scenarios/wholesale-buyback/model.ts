/**
 * The model of spec/wholesale-buyback.md. Units: capacity GHz, workload Gcycles, time s, money $
 * with hourly rates ($/h); a slot's amount is the rate times H = K·Δt/3600.
 *
 * MEC server e keeps C^I = C_e − C^C for its own M/M/1 stream (λ_e tasks/s, mean work R) and
 * expects to buy back b_e(C^I) GHz per interval; it answers a wholesale price a2 with the C^C that
 * maximizes a2·C^C − (c1 b + c2 b²). The cloud serves λ_c tasks/s on n servers as an M/M/n queue
 * over the capacity A = C_c + Σ_e (C^C_e − b_e), paying g_c(C_c) = c3 C + c4 C² and a QoS
 * penalty w·D_c.
 */
import { bisectIncreasing } from '../common/roots.ts';

export interface MecParams {
  /** capacity C_e, GHz */
  C: number;
  /** task arrival rate λ_e, tasks/s */
  lambda: number;
  /** deadline D_e, s */
  D: number;
}

export interface CloudParams {
  /** servers N2 */
  n: number;
  /** local capacity bound C̄_c, GHz */
  Cbar: number;
  /** task arrival rate λ_c, tasks/s */
  lambda: number;
  /** mean-delay bound D̄_c, s */
  Dbar: number;
}

/** Prices and costs, all rates per hour. */
export interface Tariffs {
  /** mean workload per task, Gcycles */
  R: number;
  /** data per task, Gbit (the service fee a1 is per Gbit) */
  taskGbit: number;
  c1: number;
  c2: number;
  c3: number;
  c4: number;
  a1: number;
  w: number;
}

// ---------------------------------------------------------------- MEC server

/** Expected buyback per interval b_e(C^I), GHz (M/M/1 workload tail beyond C^I·D_e); ∞ if unstable. */
export function buyback(m: MecParams, R: number, CI: number): number {
  const s = CI - m.lambda * R;
  if (!(s > 0)) return Infinity;
  return ((m.lambda * R * R) / (s * m.D)) * Math.exp(-(s / R) * m.D);
}

/** b and its first two derivatives in C^I. */
export function buybackDerivs(m: MecParams, R: number, CI: number): { b: number; db: number; d2b: number } {
  const s = CI - m.lambda * R;
  if (!(s > 0)) return { b: Infinity, db: -Infinity, d2b: Infinity };
  const b = buyback(m, R, CI);
  const k = 1 / s + m.D / R;
  return { b, db: -b * k, d2b: b * (k * k + 1 / (s * s)) };
}

/** Hourly buyback cost g(b) = c1 b + c2 b². */
export function buybackCost(t: Pick<Tariffs, 'c1' | 'c2'>, b: number): number {
  return t.c1 * b + t.c2 * b * b;
}

/** Expected buyback cost rate f(C^I) = g(b_e(C^I)) and its derivatives in C^I. */
export function expectedCost(m: MecParams, t: Pick<Tariffs, 'R' | 'c1' | 'c2'>, CI: number): { f: number; df: number; d2f: number; b: number; db: number } {
  const { b, db, d2b } = buybackDerivs(m, t.R, CI);
  const slope = t.c1 + 2 * t.c2 * b;
  return { f: buybackCost(t, b), df: slope * db, d2f: slope * d2b + 2 * t.c2 * db * db, b, db };
}

/** Hourly service income a1 × data rate (the same in every scheme: reported, not a decision). */
export function incomeRate(a1: number, lambda: number, taskGbit: number): number {
  return a1 * lambda * taskGbit * 3600;
}

export interface MecResponse {
  /** wholesale C^C, GHz */
  CC: number;
  /** reserve C^I = C − C^C */
  CI: number;
  /** expected buyback b_e(C^I), GHz */
  b: number;
  /** ∂C^C/∂a2 and ∂b/∂a2 (0 at the corner C^C = 0) */
  dCC: number;
  db: number;
  /** hourly wholesale revenue minus expected buyback cost, a2·C^C − g(b) (income excluded) */
  net: number;
}

/**
 * The MEC best response to a2: maximize a2 (C − C^I) − f(C^I) over C^I ∈ (λR, C]. The objective is
 * concave in C^I (f is convex), so C^I = C when −f′(C) ≥ a2, else the unique root of −f′(C^I) = a2,
 * found by bisection on the slack s = C^I − λR (−f′ → ∞ as s → 0).
 */
export function mecBestResponse(m: MecParams, t: Pick<Tariffs, 'R' | 'c1' | 'c2'>, a2: number): MecResponse {
  const load = m.lambda * t.R;
  const top = expectedCost(m, t, m.C);
  if (!(a2 > -top.df)) return { CC: 0, CI: m.C, b: top.b, dCC: 0, db: 0, net: -top.f };
  const smax = m.C - load;
  // g(s) = −f′(λR + s) − a2 is decreasing in s; find its root with bisectIncreasing on −g
  const s = bisectIncreasing((x) => a2 + expectedCost(m, t, load + x).df, 0, smax);
  const CI = load + s;
  const e = expectedCost(m, t, CI);
  const CC = m.C - CI;
  return { CC, CI, b: e.b, dCC: 1 / e.d2f, db: -e.db / e.d2f, net: a2 * CC - e.f };
}

// ---------------------------------------------------------------- cloud

/** Erlang B by the stable recursion B_0 = 1, B_k = a B_{k−1} / (k + a B_{k−1}). */
export function erlangB(n: number, a: number): number {
  let B = 1;
  for (let k = 1; k <= n; k++) B = (a * B) / (k + a * B);
  return B;
}

/** Erlang C (probability of waiting in M/M/n with offered load a = λ/μ); 1 when a ≥ n. */
export function erlangC(n: number, a: number): number {
  if (!(a < n)) return 1;
  if (a <= 0) return 0;
  const B = erlangB(n, a);
  return B / (1 - (a / n) * (1 - B));
}

/** dC/da of Erlang C (from dB/da = B (n/a − 1 + B)). */
export function erlangCDeriv(n: number, a: number): number {
  if (!(a < n) || a <= 0) return 0;
  const B = erlangB(n, a);
  const dB = B * (n / a - 1 + B);
  const rho = a / n;
  const den = 1 - rho + rho * B;
  const dden = (-1 + B) / n + rho * dB;
  return (dB * den - B * dden) / (den * den);
}

/** Mean delay D_c(A) of the cloud's M/M/n queue with total capacity A GHz; ∞ if A ≤ λ_c R. */
export function cloudDelay(c: CloudParams, R: number, A: number): number {
  const gap = A / R - c.lambda;
  if (!(gap > 0)) return Infinity;
  const a = (c.lambda * c.n * R) / A;
  return erlangC(c.n, a) / gap + (c.n * R) / A;
}

/** dD_c/dA (negative). */
export function cloudDelayDeriv(c: CloudParams, R: number, A: number): number {
  const gap = A / R - c.lambda;
  if (!(gap > 0)) return -Infinity;
  const a = (c.lambda * c.n * R) / A;
  return (erlangCDeriv(c.n, a) * (-a / A)) / gap - erlangC(c.n, a) / (R * gap * gap) - (c.n * R) / (A * A);
}

/** The least total capacity A with D_c(A) ≤ D̄_c. */
export function minCapacityForDelay(c: CloudParams, R: number): number {
  const lo0 = c.lambda * R;
  let hi = Math.max(2 * lo0, 1e-9);
  while (cloudDelay(c, R, hi) > c.Dbar) hi *= 2;
  return bisectIncreasing((A) => c.Dbar - cloudDelay(c, R, A), lo0, hi, 1e-15);
}

export function localCost(t: Pick<Tariffs, 'c3' | 'c4'>, C: number): number {
  return t.c3 * C + t.c4 * C * C;
}

/** p_c(C) = g_c′(C), the marginal local cost ($/GHz·h). */
export function localMarginal(t: Pick<Tariffs, 'c3' | 'c4'>, C: number): number {
  return t.c3 + 2 * t.c4 * C;
}

export interface CloudLocal {
  feasible: boolean;
  /** C_c, GHz */
  Cc: number;
  A: number;
  Dc: number;
  /** g_c(C_c) + w D_c, $/h */
  cost: number;
  /** the marginal value of one more GHz from the MECs, $/GHz·h (p_c(C_c) when C_c is interior) */
  v: number;
  where: 'interior' | 'zero' | 'delay-bound' | 'cap' | 'infeasible';
}

/** a finite stand-in for an infinite marginal value (the delay bound cannot be met) */
export const INFEASIBLE_VALUE = 1e12;

/**
 * The cloud's local capacity problem for a given capacity X from the MECs: minimize
 * g_c(C) + w D_c(C + X) over C ∈ [0, C̄_c] with D_c ≤ D̄_c. Convex in C: the stationary point of
 * g_c′(C) + w D_c′(C + X) by bisection, clamped to the feasible range. `Amin` is
 * minCapacityForDelay (pass it to avoid recomputing).
 */
export function cloudLocal(c: CloudParams, t: Tariffs, X: number, Amin = minCapacityForDelay(c, t.R)): CloudLocal {
  const lo = Math.max(0, Amin - X);
  if (lo > c.Cbar) {
    const A = c.Cbar + X;
    const Dc = cloudDelay(c, t.R, A);
    return { feasible: false, Cc: c.Cbar, A, Dc, cost: localCost(t, c.Cbar) + t.w * Dc, v: INFEASIBLE_VALUE, where: 'infeasible' };
  }
  const h = (C: number) => localMarginal(t, C) + t.w * cloudDelayDeriv(c, t.R, C + X);
  let Cc: number;
  let where: CloudLocal['where'];
  if (h(lo) >= 0) {
    Cc = lo;
    where = lo > 0 ? 'delay-bound' : 'zero';
  } else if (h(c.Cbar) <= 0) {
    Cc = c.Cbar;
    where = 'cap';
  } else {
    Cc = bisectIncreasing(h, lo, c.Cbar, 1e-15);
    where = 'interior';
  }
  const A = Cc + X;
  const Dc = cloudDelay(c, t.R, A);
  const v = where === 'interior' || where === 'delay-bound' ? localMarginal(t, Cc) : -t.w * cloudDelayDeriv(c, t.R, A);
  return { feasible: true, Cc, A, Dc, cost: localCost(t, Cc) + t.w * Dc, v, where };
}

/** The cloud's net payments rate to the MECs, Σ_e (a2 C^C_e − g(b_e)), $/h. */
export function payments(t: Pick<Tariffs, 'c1' | 'c2'>, a2: number, CC: number[], b: number[]): number {
  let P = 0;
  for (let i = 0; i < CC.length; i++) P += a2 * CC[i] - buybackCost(t, b[i]);
  return P;
}
