/**
 * The centralized reference: the cloud's joint optimum over the wholesale price a2 and its local
 * capacity C_c, with the MECs' exact best responses — found without the protocol's balance or its
 * derivatives: a dense scan of a2 (log and linear grid), then golden-section search on the profit
 * around the best grid point; for every a2 the cloud's C_c is itself found by golden-section search
 * on g_c(C) + w D_c(C + X) (derivative-free).
 *
 * Also here: every scheme's outcome on the same parameters (the four mechanisms side by side, with
 * the interval phase replayed centrally), and the spec's qualitative claims.
 */
import { goldenMax } from '../common/roots.ts';
import type { Claim, ClaimNumber, Json, JsonObject } from '../types.ts';
import { n, verdictOf } from '../common/claims.ts';
import { simulateIntervals, type BuybackDrain } from './intervals.ts';
import { buybackCost, cloudDelay, incomeRate, localCost, localMarginal, mecBestResponse, minCapacityForDelay, type CloudParams, type MecParams, type MecResponse, type Tariffs } from './model.ts';
import { assemble, MECHANISMS, mecFinal, modeOf, type Mechanism } from './protocol.ts';

export interface Market {
  mecs: MecParams[];
  cloud: CloudParams;
  tariffs: Tariffs;
}

/** Best responses of all MECs at a2, computed once per distinct (C, λ, D). */
export function responsesAt(mecs: MecParams[], t: Tariffs, a2: number): MecResponse[] {
  const cache = new Map<string, MecResponse>();
  return mecs.map((m) => {
    const key = `${m.C}|${m.lambda}|${m.D}`;
    let r = cache.get(key);
    if (!r) {
      r = mecBestResponse(m, t, a2);
      cache.set(key, r);
    }
    return r;
  });
}

/** The cloud's best C_c for capacity X from the MECs, by golden-section search (no derivatives). */
export function referenceLocal(cloud: CloudParams, t: Tariffs, X: number, Amin: number): { Cc: number; cost: number; feasible: boolean } {
  const lo = Math.max(0, Amin - X);
  if (lo > cloud.Cbar) return { Cc: cloud.Cbar, cost: Infinity, feasible: false };
  const cost = (C: number) => localCost(t, C) + t.w * cloudDelay(cloud, t.R, C + X);
  const g = goldenMax((C) => -cost(C), lo, cloud.Cbar, 1e-13, 1e-13);
  return { Cc: g.x, cost: -g.fx, feasible: true };
}

/** The cloud's hourly profit at a2 with its best C_c (−∞ where the delay bound cannot be met). */
export function referenceProfitAt(mk: Market, a2: number, Amin = minCapacityForDelay(mk.cloud, mk.tariffs.R)): { profit: number; Cc: number; X: number; feasible: boolean } {
  const t = mk.tariffs;
  const rs = responsesAt(mk.mecs, t, a2);
  let X = 0;
  let P = 0;
  for (const r of rs) {
    X += r.CC - r.b;
    P += a2 * r.CC - buybackCost(t, r.b);
  }
  const loc = referenceLocal(mk.cloud, t, X, Amin);
  const profit = loc.feasible ? incomeRate(t.a1, mk.cloud.lambda, t.taskGbit) - loc.cost - P : -Infinity;
  return { profit, Cc: loc.Cc, X, feasible: loc.feasible };
}

export interface ReferenceOptimum {
  a2: number;
  Cc: number;
  X: number;
  profitCloud: number;
  /** local maxima of the profit on the scan grid (1 = unimodal as sampled) */
  localMaxima: number;
  gridPoints: number;
}

export function referenceOptimum(mk: Market): ReferenceOptimum {
  const Amin = minCapacityForDelay(mk.cloud, mk.tariffs.R);
  const prof = (a2: number) => referenceProfitAt(mk, a2, Amin).profit;
  let top = 4 * localMarginal(mk.tariffs, mk.cloud.Cbar);
  let grid: number[] = [];
  let vals: number[] = [];
  let best = 0;
  for (let widen = 0; widen < 8; widen++) {
    const set = new Set<number>([0]);
    for (let i = 0; i <= 240; i++) set.add(top * Math.pow(10, -7 + (7 * i) / 240));
    for (let i = 1; i <= 120; i++) set.add((top * i) / 120);
    grid = [...set].sort((a, b) => a - b);
    vals = grid.map(prof);
    best = 0;
    for (let i = 1; i < grid.length; i++) if (vals[i] > vals[best]) best = i;
    if (best < grid.length - 1) break;
    top *= 4;
  }
  let localMaxima = 0;
  for (let i = 0; i < grid.length; i++) {
    const l = i > 0 ? vals[i - 1] : -Infinity;
    const r = i + 1 < grid.length ? vals[i + 1] : -Infinity;
    // strict peaks (a plateau, e.g. prices below every server's selling threshold, is not one)
    if (vals[i] > l && vals[i] > r && Number.isFinite(vals[i])) localMaxima++;
  }
  const lo = grid[Math.max(0, best - 1)];
  const hi = grid[Math.min(grid.length - 1, best + 1)];
  const g = goldenMax(prof, lo, hi, 1e-13, 1e-16);
  const at = referenceProfitAt(mk, g.x, Amin);
  return { a2: g.x, Cc: at.Cc, X: at.X, profitCloud: at.profit, localMaxima, gridPoints: grid.length };
}

export interface SchemeOptions {
  seed: number;
  slot: number;
  K: number;
  dt: number;
  a2const: number;
  batch?: number;
  drain?: BuybackDrain;
}

/** One scheme's outcome on the market (the interval phase replayed centrally), `a2` for priced modes. */
export function schemeOutcome(mk: Market, mechanism: Mechanism, a2: number | null, o: SchemeOptions, withIntervals = true): JsonObject {
  const t = mk.tariffs;
  const mode = modeOf(mechanism);
  const finals = mk.mecs.map((m) => mecFinal(m, t, mode, a2 ?? 0));
  const eq = assemble(mode, mode === 'price' ? a2 : null, finals, mk.cloud, t, o.K, o.dt);
  if (withIntervals) {
    const released = mode === 'price' ? finals.map((f) => f.CC) : finals.map(() => 0);
    const tally = simulateIntervals(o.seed, o.slot, mk.mecs, finals.map((f) => f.CI), released, mk.cloud.Cbar - (eq.Cc as number), { R: t.R, dt: o.dt, K: o.K, c1: t.c1, c2: t.c2, batch: o.batch, drain: o.drain });
    const H = (o.K * o.dt) / 3600;
    let eb = 0;
    let ec = 0;
    for (const f of finals) {
      eb += f.b;
      ec += H * buybackCost(t, f.b);
    }
    eq.intervals = tally.report(o.K, eb, ec);
  }
  return eq;
}

/** All four schemes; `optimal-pricing` at the reference optimum. */
export function allSchemes(mk: Market, ref: ReferenceOptimum, o: SchemeOptions, withIntervals = true): Record<Mechanism, JsonObject> {
  const out = {} as Record<Mechanism, JsonObject>;
  for (const m of MECHANISMS) out[m] = schemeOutcome(mk, m, m === 'optimal-pricing' ? ref.a2 : m === 'constant-price' ? o.a2const : null, o, withIntervals);
  return out;
}

// ---------------------------------------------------------------- claims

export interface LoadPoint {
  load: string;
  /** null where the load state leaves some server unstable (see `unstable`) */
  a2: number | null;
  Cc: number | null;
  /** wholesale and expected buyback of a λ = 9 server (C and D of the first configured MEC) */
  CC9: number | null;
  b9: number | null;
  /** the servers with λ_e R ≥ C_e at this load state (none: absent or empty) */
  unstable?: string[];
}

export interface ClaimInputs {
  /** pricing rounds of the distributed `optimal-pricing` per slot (empty if another mechanism ran) */
  rounds: number[];
  /** the four schemes' outcomes (the selected one distributed, the others from the reference) */
  schemes: Record<Mechanism, JsonObject>;
  /** λ_e of each MEC and its C^C_e, b_e at the optimal-pricing equilibrium */
  lambdas: number[];
  /** the reference optimum at the Low, Middle and High load states of Table I */
  loads: LoadPoint[];
  /** what counts as "small" buyback beside wholesale (Σb/ΣC^C) */
  smallRatio: number;
}

/** One claim as evaluated, with every number it rests on (arrays and per-scheme maps); `typedClaims` turns it into the summary's table shape. */
export interface ClaimCheck {
  claim: string;
  holds: boolean | null;
  /** holds, fails, or not-evaluable (holds null: the numbers it needs do not exist; `note` says why) */
  verdict: 'holds' | 'fails' | 'not-evaluable';
  numbers: { [k: string]: Json };
  note?: string;
}

const num = (o: JsonObject, k: string) => o[k] as number;

/** The spec's claims (1)–(5), each with its numbers; `holds` null where it cannot be evaluated. */
export function evaluateClaims(x: ClaimInputs): ClaimCheck[] {
  const s = x.schemes;
  const claims: Omit<ClaimCheck, 'verdict'>[] = [];
  const maxRounds = x.rounds.length ? Math.max(...x.rounds) : null;
  claims.push({
    claim: '(1) optimal-pricing converges within 15 pricing rounds',
    holds: maxRounds === null ? null : maxRounds <= 15,
    numbers: { maxRounds, rounds: x.rounds },
    note: maxRounds === null ? 'the run used another mechanism: no pricing rounds to count' : undefined,
  });
  const rising = (k: 'a2' | 'Cc' | 'CC9' | 'b9') => x.loads.every((p, i) => i === 0 || (p[k] as number) > (x.loads[i - 1][k] as number));
  const series = (k: 'a2' | 'Cc' | 'CC9' | 'b9') => x.loads.map((p) => p[k]);
  const unstable = x.loads.filter((p) => p.unstable?.length);
  const claim2 = '(2) from Low to High load, a2*, C_c*, and the wholesale and buyback of a λ = 9 server all rise';
  if (unstable.length) {
    const reason = `not evaluable: Table I's arrival rates leave servers unstable (λ_e R ≥ C_e, no steady state, no equilibrium) at ${unstable.map((p) => `${p.load} load (${p.unstable!.length}: ${p.unstable!.slice(0, 3).join('; ')}${p.unstable!.length > 3 ? '; …' : ''})`).join(', ')}`;
    claims.push({ claim: claim2, holds: null, numbers: { verdict: 'not-evaluable', reason, loads: x.loads.map((p) => p.load), unstableServers: x.loads.map((p) => p.unstable?.length ?? 0) }, note: reason });
  } else {
    claims.push({
      claim: claim2,
      holds: rising('a2') && rising('Cc') && rising('CC9') && rising('b9'),
      numbers: { loads: x.loads.map((p) => p.load), a2: series('a2'), Cc: series('Cc'), CC9: series('CC9'), b9: series('b9'), a2Rises: rising('a2'), CcRises: rising('Cc'), CC9Rises: rising('CC9'), b9Rises: rising('b9') },
    });
  }
  const cc = (m: Mechanism) => num(s[m], 'Cc');
  claims.push({
    claim: '(3) C_c*: social-welfare < constant-price < optimal-pricing < no-sharing',
    holds: cc('social-welfare') < cc('constant-price') && cc('constant-price') < cc('optimal-pricing') && cc('optimal-pricing') < cc('no-sharing'),
    numbers: Object.fromEntries(MECHANISMS.map((m) => [m, cc(m)])),
  });
  const tot = (m: Mechanism) => num(s[m], 'total');
  const others = MECHANISMS.filter((m) => m !== 'social-welfare');
  const swHighest = others.every((m) => tot('social-welfare') > tot(m));
  const nsLowest = MECHANISMS.filter((m) => m !== 'no-sharing').every((m) => tot('no-sharing') < tot(m));
  const cpAboveOp = tot('constant-price') > tot('optimal-pricing');
  const cloudOp = num(s['optimal-pricing'], 'profitCloud') > num(s['constant-price'], 'profitCloud');
  claims.push({
    claim: '(4) total profit: social-welfare highest, no-sharing lowest, constant-price above optimal-pricing; the cloud earns more under optimal-pricing than constant-price',
    holds: swHighest && nsLowest && cpAboveOp && cloudOp,
    numbers: {
      total: Object.fromEntries(MECHANISMS.map((m) => [m, tot(m)])),
      profitCloud: Object.fromEntries(MECHANISMS.map((m) => [m, num(s[m], 'profitCloud')])),
      profitMecs: Object.fromEntries(MECHANISMS.map((m) => [m, num(s[m], 'profitMecs')])),
      swHighest,
      nsLowest,
      cpAboveOp,
      cloudOpAboveCp: cloudOp,
    },
  });
  // (5) at the optimal-pricing equilibrium, grouped by λ
  const op = s['optimal-pricing'];
  const CC = op.CC as number[];
  const b = op.b as number[];
  const groups = new Map<number, { cc: number; n: number }>();
  x.lambdas.forEach((l, i) => {
    const g = groups.get(l) ?? { cc: 0, n: 0 };
    g.cc += CC[i];
    g.n++;
    groups.set(l, g);
  });
  const ls = [...groups.keys()].sort((p, q) => p - q);
  const meanCC = ls.map((l) => groups.get(l)!.cc / groups.get(l)!.n);
  const falling = meanCC.every((v, i) => i === 0 || v < meanCC[i - 1]);
  const sumCC = CC.reduce((p, q) => p + q, 0);
  const sumB = b.reduce((p, q) => p + q, 0);
  const ratio = sumCC > 0 ? sumB / sumCC : Infinity;
  claims.push({
    claim: `(5) servers with higher λ_e wholesale less; buyback is small beside wholesale (Σb ≤ ${x.smallRatio}·ΣC^C)`,
    holds: falling && ratio <= x.smallRatio,
    numbers: { lambda: ls, meanCC, wholesaleFalls: falling, sumCC, sumB, ratio },
  });
  return claims.map((c) => ({ claim: c.claim, holds: c.holds, verdict: verdictOf(c.holds), numbers: c.numbers, ...(c.note !== undefined ? { note: c.note } : {}) }));
}

/** Units of the numbers behind the claims (spec: capacity in GHz, money in $ per hour, prices in $ per GHz·h). */
const CLAIM_LABELS: Record<string, string> = { maxRounds: 'most pricing rounds in a slot', ratio: 'Σb / ΣC^C', sumCC: 'ΣC^C', sumB: 'Σb' };
const CLAIM_UNITS: Record<string, string> = { maxRounds: 'rounds', rounds: 'rounds', a2: '$/GHz·h', Cc: 'GHz', CC9: 'GHz', b9: 'GHz', total: '$/h', profitCloud: '$/h', profitMecs: '$/h', meanCC: 'GHz', sumCC: 'GHz', sumB: 'GHz', ratio: 'ratio', lambda: 'tasks/s', unstableServers: 'count' };

/**
 * The claims in the summary's typed shape (scenarios/types.ts `Claim`): the id is the spec's number,
 * the verdict the one `evaluateClaims` gave, and every number flattened into a labelled row with its
 * unit (a series by load state or by λ, a map by scheme); booleans stay in the rich form only.
 */
export function typedClaims(checks: ClaimCheck[]): Claim[] {
  return checks.map((c) => {
    const id = /^\((\d+)\)/.exec(c.claim)?.[1] ?? c.claim;
    const statement = c.claim.replace(/^\(\d+\)\s*/, '');
    const nums = c.numbers;
    const loads = Array.isArray(nums.loads) ? (nums.loads as string[]) : undefined;
    const lambdas = Array.isArray(nums.lambda) ? (nums.lambda as number[]) : undefined;
    const rows: ClaimNumber[] = [];
    for (const [k, v] of Object.entries(nums)) {
      if (k === 'loads' || k === 'lambda' || k === 'verdict' || k === 'reason' || typeof v === 'boolean') continue;
      const unit = CLAIM_UNITS[k];
      if ((MECHANISMS as readonly string[]).includes(k) && typeof v === 'number') rows.push(n(`C_c, ${k}`, v, 'GHz'));
      else if (typeof v === 'number' || v === null || typeof v === 'string') rows.push(n(CLAIM_LABELS[k] ?? k, v, unit));
      else if (Array.isArray(v)) {
        const at = (i: number) => (loads && loads.length === v.length ? `${loads[i]} load` : lambdas && lambdas.length === v.length ? `λ = ${lambdas[i]}` : `slot ${i}`);
        if (k === 'rounds') rows.push(n('slots', v.length, 'count'));
        else v.forEach((x, i) => rows.push(n(`${k}, ${at(i)}`, typeof x === 'number' || x === null || typeof x === 'string' ? x : JSON.stringify(x), unit)));
      } else if (typeof v === 'object') for (const [m, x] of Object.entries(v)) if (typeof x === 'number') rows.push(n(`${k}, ${m}`, x, unit ?? (CLAIM_UNITS[m] ? CLAIM_UNITS[m] : undefined)));
    }
    return { id, statement, verdict: c.verdict, numbers: rows, ...(c.note !== undefined ? { note: c.note } : {}) };
  });
}
