/**
 * The slot protocol, as message rounds between the cloud (leader) and the MEC servers.
 *
 * Pricing (mechanism `optimal-pricing` only): the cloud broadcasts `price` {a2}; each MEC replies
 * {CC, b, dCC, db}: its best response and the response's slopes in a2. From the replies the cloud
 * forms the balance Φ(a2) = p_e(a2) − v(a2), where p_e = (dP/da2)/(dX/da2) is the marginal cost of
 * MEC capacity (the limit of the spec's finite difference of the payments P = Σ(S_e − B_e) over
 * the capacity gained X = Σ(C^C_e − b_e)), and v is the marginal value of capacity at the cloud's
 * optimal C_c for that X — p_c(C_c) = c3 + 2 c4 C_c when C_c is interior, −w D_c′ when C_c sits
 * at 0 or C̄_c. Φ < 0 at a2 = 0 (nobody sells), so Brent's method on [0, p_c(C̄_c)] (the seed's first
 * price; widened ×4 while Φ < 0 there) finds the root. dU_c/da2 = −X′ Φ, so the root is the cloud's
 * profit-maximizing price, including the corner C_c = C̄_c, which the seed handles with a (1+G)
 * search.
 *
 * Every mechanism then broadcasts `final` (the MECs commit their wholesale for the slot and reply
 * {CC, b, u}) and runs the interval phase: per interval one `interval` {k} broadcast; a MEC replies
 * {b} (a buyback request, GHz) or nothing (nil); the cloud then sends `grant` {k, g} directly to
 * the requesters only, and waits for their acknowledgements (nil, or {miss} when a partial grant
 * made tasks late) so the next interval never overtakes a grant.
 */
import type { JsonObject, LeaderContext, SlotOutcome } from '../types.ts';
import { brentRoot } from '../common/roots.ts';
import { grantRule, IntervalTally } from './intervals.ts';
import {
  buyback,
  buybackCost,
  cloudLocal,
  incomeRate,
  INFEASIBLE_VALUE,
  localMarginal,
  mecBestResponse,
  minCapacityForDelay,
  payments,
  type CloudParams,
  type MecParams,
  type Tariffs,
} from './model.ts';

export type Mechanism = 'optimal-pricing' | 'social-welfare' | 'no-sharing' | 'constant-price';
export const MECHANISMS: Mechanism[] = ['optimal-pricing', 'social-welfare', 'no-sharing', 'constant-price'];

/** How a MEC commits for the slot: sell at a price, keep everything, or pool everything. */
export type Mode = 'price' | 'none' | 'pool';

export interface LeaderParams {
  mechanism: Mechanism;
  K: number;
  dt: number;
  /** relative tolerance of the price search */
  tol: number;
  a2const: number;
  /** intervals per `interval` tick (1: one tick per interval) */
  batch?: number;
  tariffs: Tariffs;
  cloud: CloudParams;
}

export interface FinalReply {
  CC: number;
  b: number;
  /** hourly MEC profit, its decision-dependent part S_e − B_e = a2 C^C − g(b) */
  u: number;
  /** hourly constant service income a1 × the MEC's own traffic (the same in every scheme; not in u) */
  income: number;
  /** pool mode: the average spare C_e − λ_e R */
  s?: number;
}

/** At most this many `price` rounds (a safety stop; Brent needs far fewer). */
export const MAX_PRICE_ROUNDS = 60;

/** A MEC's answer to `final`: its committed wholesale for the slot (also used by the reference). */
export function mecFinal(m: MecParams, t: Tariffs, mode: Mode, a2: number): FinalReply & { CI: number } {
  const income = incomeRate(t.a1, m.lambda, t.taskGbit);
  if (mode === 'pool') return { CC: m.C, b: buyback(m, t.R, m.C), u: 0, income, s: m.C - m.lambda * t.R, CI: m.C };
  if (mode === 'none') {
    const b = buyback(m, t.R, m.C);
    return { CC: 0, b, u: -buybackCost(t, b), income, CI: m.C };
  }
  const r = mecBestResponse(m, t, a2);
  return { CC: r.CC, b: r.b, u: r.net, income, CI: r.CI };
}

export function modeOf(mechanism: Mechanism): Mode {
  return mechanism === 'social-welfare' ? 'pool' : mechanism === 'no-sharing' ? 'none' : 'price';
}

/**
 * The scheme's outcome from the MECs' final replies (roster order): the cloud's C_c, delay and
 * profits per hour. The same code forms the leader's outcome and the reference's baselines.
 */
export function assemble(mode: Mode, a2: number | null, replies: FinalReply[], cloud: CloudParams, t: Tariffs, K: number, dt: number, Amin = minCapacityForDelay(cloud, t.R)): JsonObject {
  const CC = replies.map((r) => r.CC);
  const b = replies.map((r) => r.b);
  // capacity the cloud's tasks get besides C_c: pool — every MEC's average spare C_e − λ_e R;
  // price — Σ (C^C_e − b_e) (buybacks are taken back from the wholesale first); none — nothing:
  // "the cloud serves its tasks with C_c alone" (buybacks are granted from its spare C̄_c − C_c)
  let X = 0;
  if (mode === 'pool') for (const r of replies) X += r.s ?? 0;
  else if (mode === 'price') for (const r of replies) X += r.CC - r.b;
  const local = cloudLocal(cloud, t, X, Amin);
  const P = mode === 'pool' ? 0 : payments(t, a2 ?? 0, CC, b);
  const incomeCloud = incomeRate(t.a1, cloud.lambda, t.taskGbit);
  const profitCloud = incomeCloud - local.cost - P;
  let profitMecs = 0;
  let incomeMecs = 0;
  for (const r of replies) {
    profitMecs += r.u;
    incomeMecs += r.income;
  }
  return {
    a2,
    Cc: local.Cc,
    CC,
    b,
    X,
    A: local.A,
    Dc: local.Dc,
    feasible: local.feasible,
    CcRegime: local.where,
    pc: localMarginal(t, local.Cc),
    payments: P,
    profitCloud,
    profitMecs,
    total: profitCloud + profitMecs,
    // constant incomes (a1 × own traffic), the same in every scheme: the MECs' stays out of
    // profitMecs and total; the cloud's is part of its U_c as the spec defines it
    constantIncome: { mecs: incomeMecs, cloud: incomeCloud, note: 'a1 × own traffic, $/h; mecs: not in profitMecs or total; cloud: in profitCloud (the spec\'s U_c)' },
    H: (K * dt) / 3600,
  };
}

interface PriceSample {
  a2: number;
  phi: number;
}

/** One `price` round: the balance Φ(a2) from the MECs' replies. */
async function priceRound(ctx: LeaderContext, p: LeaderParams, a2: number, Amin: number, n: number): Promise<number> {
  const res = await ctx.round<{ CC: number; b: number; dCC: number; db: number }>({ kind: 'price', body: { a2 } });
  const t = p.tariffs;
  let X = 0;
  let dP = 0;
  let dX = 0;
  let P = 0;
  for (const r of res.replies) {
    if (!r) continue;
    X += r.CC - r.b;
    P += a2 * r.CC - buybackCost(t, r.b);
    dP += r.CC + a2 * r.dCC - (t.c1 + 2 * t.c2 * r.b) * r.db;
    dX += r.dCC - r.db;
  }
  const local = cloudLocal(p.cloud, t, X, Amin);
  // X′ ≤ 0: past the capacity-maximizing price (a MEC's extra buyback outgrows its extra
  // wholesale once |b′| ≥ 1), dU_c/da2 = X′ v − P′ < 0: the price is too high.
  const pe = dX > 0 ? dP / dX : X === 0 && dP === 0 ? 0 : INFEASIBLE_VALUE;
  const phi = pe - local.v;
  const profit = incomeRate(t.a1, p.cloud.lambda, t.taskGbit) - local.cost - P;
  ctx.record({ round: n, kind: 'price', a2, X, Cc: local.Cc, pe, v: local.v, phi, profitCloud: profit, missing: res.missing.length });
  return phi;
}

/** `optimal-pricing`: Brent's method on Φ(a2) over `price` rounds. */
async function searchPrice(ctx: LeaderContext, p: LeaderParams, Amin: number): Promise<{ a2: number; rounds: number; converged: boolean; notes: string[] }> {
  const notes: string[] = [];
  let rounds = 0;
  const samples: PriceSample[] = [];
  const f = async (a2: number) => {
    if (rounds >= MAX_PRICE_ROUNDS) throw new RangeError('price round limit');
    rounds++;
    const phi = await priceRound(ctx, p, a2, Amin, rounds);
    samples.push({ a2, phi });
    return phi;
  };
  // a2 = 0: nobody sells (X ≈ 0), p_e = 0; the cloud knows Φ(0) = −v(0) without asking.
  const phi0 = -cloudLocal(p.cloud, p.tariffs, 0, Amin).v;
  if (phi0 >= 0) {
    notes.push('the cloud values MEC capacity at most 0 even without any: a2 = 0');
    return { a2: 0, rounds, converged: true, notes };
  }
  let lo = 0;
  let flo = phi0;
  // the seed starts at p_c(C̄_c); we cap it at c1/2, below which X′ > 0 for sure (|b′| = a2/(c1 + 2c2 b) < 1)
  let hi = p.tariffs.c1 > 0 ? Math.min(localMarginal(p.tariffs, p.cloud.Cbar), p.tariffs.c1 / 2) : localMarginal(p.tariffs, p.cloud.Cbar);
  let fhi = await f(hi);
  while (fhi < 0 && rounds < MAX_PRICE_ROUNDS) {
    lo = hi;
    flo = fhi;
    hi *= 2;
    fhi = await f(hi);
  }
  if (fhi < 0) {
    notes.push(`no price up to ${hi} balances the marginal costs`);
    return { a2: hi, rounds, converged: false, notes };
  }
  try {
    const r = await brentRoot(f, lo, hi, { fa: flo, fb: fhi, xtolRel: p.tol, xtolAbs: 1e-15, maxEvaluations: MAX_PRICE_ROUNDS });
    if (!r.converged) notes.push(`price search stopped after ${rounds} rounds`);
    return { a2: r.x, rounds, converged: r.converged, notes };
  } catch (e) {
    notes.push(`price search stopped: ${(e as Error).message}`);
    let best = samples[0];
    for (const s of samples) if (Math.abs(s.phi) < Math.abs(best.phi)) best = s;
    return { a2: best.a2, rounds, converged: false, notes };
  }
}

/**
 * The interval phase over messages; returns the tally. With `batch` B > 1 one `interval` {k, n}
 * tick covers n = B intervals: each MEC replies {k: [...], b: [...]} with its requests of those
 * intervals, and each requester gets one `grant` {k: [...], g: [...]}. Requests never depend on
 * grants (the backlog is the reserve's), so batching changes the message count, not the outcome.
 */
async function intervalPhase(ctx: LeaderContext, p: LeaderParams, released: number[], pool: number): Promise<IntervalTally> {
  const tally = new IntervalTally(p.tariffs, p.dt);
  const ids = ctx.roster.map((a) => a.id);
  const batch = Math.max(1, Math.floor(p.batch ?? 1));
  for (let k0 = 0; k0 < p.K; k0 += batch) {
    const n = Math.min(batch, p.K - k0);
    const res = await ctx.round<{ k: number[]; b: number[] }>({ kind: 'interval', body: n === 1 ? { k: k0 } : { k: k0, n }, reuseLast: false }); // a missing request is not repeated
    // requests[j][i]: MEC i's request in interval k0 + j
    const requests: (number | undefined)[][] = Array.from({ length: n }, () => new Array(ids.length).fill(undefined));
    res.replies.forEach((r, i) => {
      if (!r || !Array.isArray(r.k) || !Array.isArray(r.b)) return;
      r.k.forEach((k, j) => {
        const b = r.b[j];
        if (Number.isInteger(k) && k >= k0 && k < k0 + n && Number.isFinite(b) && b > 0) requests[k - k0][i] = b;
      });
    });
    const mine = new Map<number, { k: number[]; g: number[] }>();
    for (let j = 0; j < n; j++) {
      const grants = grantRule(requests[j], released, pool);
      tally.interval(requests[j], grants);
      grants.forEach((g, i) => {
        if (g === undefined) return;
        const e = mine.get(i) ?? { k: [], g: [] };
        e.k.push(k0 + j);
        e.g.push(g);
        mine.set(i, e);
      });
    }
    const to: string[] = [];
    const bodies: Record<string, JsonObject> = {};
    for (let i = 0; i < ids.length; i++) {
      const e = mine.get(i);
      if (!e) continue;
      to.push(ids[i]);
      bodies[ids[i]] = { k: e.k, g: e.g };
    }
    tally.requestMessages += to.length;
    tally.grantMessages += to.length;
    let misses = 0;
    if (to.length) {
      const acks = await ctx.round<{ miss: number }>({ kind: 'grant', to, bodies, reuseLast: false });
      for (const a of acks.replies) if (a && Number.isFinite(a.miss)) misses += a.miss;
      tally.misses += misses;
    }
    ctx.record({ interval: k0, intervals: n, kind: 'interval', requesters: to.length, requested: requests.reduce((s, rs) => s + sum(rs), 0), misses });
  }
  return tally;
}

function sum(xs: (number | undefined)[]): number {
  let s = 0;
  for (const x of xs) if (x !== undefined) s += x;
  return s;
}

/** The cloud's slot: price (per mechanism), commit, intervals. */
export async function cloudSlot(ctx: LeaderContext, p: LeaderParams): Promise<SlotOutcome> {
  const t = p.tariffs;
  const Amin = minCapacityForDelay(p.cloud, t.R);
  const mode = modeOf(p.mechanism);
  let a2: number | null = null;
  let rounds = 0;
  let converged = true;
  const notes: string[] = [];
  if (p.mechanism === 'optimal-pricing') {
    const s = await searchPrice(ctx, p, Amin);
    a2 = s.a2;
    rounds = s.rounds;
    converged = s.converged;
    notes.push(...s.notes);
  } else if (p.mechanism === 'constant-price') a2 = p.a2const;
  const fin = await ctx.round<FinalReply>({ kind: 'final', body: mode === 'price' ? { mode, a2: a2! } : { mode } });
  const replies = fin.replies.map((r) => r ?? { CC: 0, b: 0, u: 0, income: 0, s: 0 });
  if (fin.missing.length) notes.push(`${fin.missing.length} MECs did not answer the final price`);
  const eq = assemble(mode, a2, replies, p.cloud, t, p.K, p.dt, Amin);
  if (eq.feasible === false) notes.push('the delay bound D̄_c cannot be met: C_c = C̄_c');
  ctx.record({ round: rounds + 1, kind: 'final', a2, X: eq.X as number, Cc: eq.Cc as number, profitCloud: eq.profitCloud as number, total: eq.total as number });
  // interval phase: a requester takes back its own wholesale first (none in pool mode: its tasks
  // already have priority over all of C_e), then the cloud's spare capacity
  const released = mode === 'price' ? replies.map((r) => r.CC) : replies.map(() => 0);
  const pool = p.cloud.Cbar - (eq.Cc as number);
  const tally = await intervalPhase(ctx, p, released, pool);
  const H = (p.K * p.dt) / 3600;
  let expectedB = 0;
  let expectedCost = 0;
  for (const r of replies) {
    expectedB += r.b;
    expectedCost += H * buybackCost(t, r.b);
  }
  eq.rounds = rounds;
  eq.intervals = tally.report(p.K, expectedB, expectedCost);
  return { equilibrium: eq, converged, notes: notes.length ? notes : undefined, extra: { pricingRounds: rounds } };
}
