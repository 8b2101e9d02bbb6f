/**
 * The server's pricing protocols (GSRP). Each evaluation of a price is one message round: a `price`
 * broadcast `{p}` and N replies `{x, u}` (the user's demand x* and its utility at p). With a capacity
 * X the broadcast carries `cap: true` and the replies also carry θ and k, so the server can grant in
 * descending θ and value a partial grant (the leader knows nothing about the users but their replies).
 * Every slot ends with one `final` broadcast at the chosen price, whose replies are the equilibrium
 * purchases and utilities.
 */
import type { JsonObject, LeaderContext, SlotOutcome } from '../types.ts';
import { countPositive, sumPositive } from '../common/columns.ts';
import { allocate, utility, type ServerParams } from './model.ts';

export interface PriceReply {
  x: number;
  u: number;
  theta?: number;
  /** k, or −1 when buying is infeasible */
  k?: number;
}

export interface Sample {
  price: number;
  profit: number;
  /** Σ x over the users, in roster order */
  demand: number;
  /** users who buy (x > 0) */
  buyers: number;
  /** per user, in roster order: only where they are read (see `evaluate`) */
  purchases?: number[];
  utilities?: number[];
}

const PHI = (1 + Math.sqrt(5)) / 2;
/** round caps: the step walk (Δ may be small) and the search (rounds ~ log(1/ε), ~40 by default) */
export const STEP_MAX_ROUNDS = 100_000;
export const SEARCH_MAX_ROUNDS = 200;

type Phase = 'step' | 'bracket' | 'golden' | 'final';

/**
 * One round: broadcast a price, gather replies (roster order), apply the capacity, compute Π. The
 * per-user arrays are built only where something reads them: the `final` round (the equilibrium),
 * a capacity (the grant goes by θ), and a roster of at most 50 (each user's utility is a trajectory
 * column). Any other round needs the sums alone, from the x column (no object per reply): at 10,000
 * users two arrays of N a round, kept for the whole slot, were most of what the leader allocated. The
 * sums are the same additions in the same order either way, so Π is the same number.
 */
async function evaluate(ctx: LeaderContext, server: ServerParams, price: number, phase: Phase, log: Sample[]): Promise<Sample> {
  const cap = server.X !== null;
  const kind = phase === 'final' ? 'final' : 'price';
  const res = await ctx.round<PriceReply>({ kind, body: cap ? { p: price, cap: true } : { p: price } });
  const utilityColumns = ctx.roster.length <= 50;
  const s = phase === 'final' || cap || utilityColumns ? withUsers(res.replies, server, price) : sumsOnly(res.column('x'), server, price);
  if (phase !== 'final') log.push(s);
  const row: Record<string, number | string | boolean | null> = {
    round: log.length + (phase === 'final' ? 1 : 0),
    phase,
    price,
    profit: s.profit,
    buyers: s.buyers,
    demand: s.demand,
    missing: res.missing.length,
  };
  if (utilityColumns) ctx.roster.forEach((a, i) => (row[`u_${a.id}`] = s.utilities![i]));
  ctx.record(row);
  return s;
}

/** a user's demand as the server counts it: a finite positive x, else nothing */
function demandOf(r: PriceReply | undefined): number {
  return r && Number.isFinite(r.x) && r.x > 0 ? r.x : 0;
}

function withUsers(replies: (PriceReply | undefined)[], server: ServerParams, price: number): Sample {
  const demands = replies.map(demandOf);
  let purchases = demands;
  let utilities = replies.map((r, i) => (r && Number.isFinite(r.u) && demands[i] > 0 ? r.u : 0));
  if (server.X !== null) {
    const thetas = replies.map((r) => (r && Number.isFinite(r.theta) ? (r.theta as number) : 0));
    purchases = allocate(demands, thetas, server.X);
    utilities = purchases.map((x, i) => {
      if (x === demands[i]) return utilities[i];
      const k = replies[i]?.k;
      return utility(thetas[i], typeof k === 'number' && k > 0 ? k : Infinity, x, price);
    });
  }
  let total = 0;
  let buyers = 0;
  for (const x of purchases) {
    total += x;
    if (x > 0) buyers++;
  }
  return { price, profit: (price - server.m) * total, demand: total, buyers, purchases, utilities };
}

/**
 * `demands`: each reply's x (RoundResult.column: NaN for none), counted as demandOf counts it: the
 * positive ones summed in roster order (a demand of 0 added to the total changes nothing).
 */
function sumsOnly(demands: readonly number[], server: ServerParams, price: number): Sample {
  const total = sumPositive(demands);
  const buyers = countPositive(demands);
  return { price, profit: (price - server.m) * total, demand: total, buyers };
}

function outcome(final: Sample, converged: boolean, samples: Sample[], notes: string[], extra: JsonObject): SlotOutcome {
  const unimodal = isUnimodal(samples);
  if (!unimodal) notes.unshift('the sampled profits were not unimodal (rise, fall, rise again): the price found may be a local maximum');
  return {
    equilibrium: { price: final.price, purchases: final.purchases!, profit: final.profit, utilities: final.utilities! },
    converged,
    notes: notes.length ? notes : undefined,
    extra: { rounds: samples.length + 1, evaluations: samples.length, unimodalSamples: unimodal, ...extra },
  };
}

/** Do the sampled profits, sorted by price, rise then fall (a single peak)? */
export function isUnimodal(samples: { price: number; profit: number }[]): boolean {
  const s = [...samples].sort((a, b) => a.price - b.price);
  const scale = Math.max(1e-300, ...s.map((x) => Math.abs(x.profit)));
  let falling = false;
  for (let i = 1; i < s.length; i++) {
    const d = s[i].profit - s[i - 1].profit;
    if (d < -1e-12 * scale) falling = true;
    else if (d > 1e-12 * scale && falling) return false;
  }
  return true;
}

function bestOf(samples: Sample[]): Sample {
  let best = samples[0];
  for (const s of samples) if (s.profit > best.profit) best = s;
  return best;
}

/**
 * `gsrp-step` (the seed's GSRP): p_j = p0 + jΔ; keeps the best (price, profit) seen; stops when the
 * profit has fallen strictly in `patience` consecutive rounds, or when nobody buys (the leader cannot
 * see max θ; once nobody buys, nobody buys at any higher price, so this ends the walk without changing
 * the best price). Then the `final` round at the best price.
 */
export async function gsrpStep(ctx: LeaderContext, server: ServerParams): Promise<SlotOutcome> {
  const samples: Sample[] = [];
  let prev: number | undefined;
  let fallen = 0;
  let converged = false;
  for (let j = 0; j < STEP_MAX_ROUNDS; j++) {
    const s = await evaluate(ctx, server, server.p0 + j * server.step, 'step', samples);
    fallen = prev !== undefined && s.profit < prev ? fallen + 1 : 0;
    if (fallen >= server.patience || s.buyers === 0) {
      converged = true;
      break;
    }
    prev = s.profit;
  }
  const notes = converged ? [] : [`stopped after ${STEP_MAX_ROUNDS} rounds without meeting the stopping rule`];
  const best = bestOf(samples);
  const final = await evaluate(ctx, server, best.price, 'final', samples);
  return outcome(final, converged, samples, notes, { step: server.step });
}

/**
 * `gsrp-search`: bracket the peak, then golden-section search on the observed profits.
 *
 * Bracketing: Π(m) = 0 needs no round. From p0 the distance to m grows by φ each round
 * (p − m ← φ(p − m)) until the profit falls, giving a < b < c with Π(b) ≥ Π(a), Π(c); if nobody buys at
 * p0 the distance shrinks by φ² instead until someone does. The φ factor puts b exactly on a golden
 * point of [a, c], so the golden stage reuses it: every round is one new price (one broadcast).
 * Golden section until (c − a) ≤ ε ((a + c)/2 − m) (the bracket narrower than ε relative to the
 * price's margin over m; see `narrow`). The final price is the best one observed over all rounds
 * (for a unimodal Π it lies in the last bracket, within ε of the peak). Sampled profits that are not
 * unimodal are reported (notes, extra.unimodalSamples = false). At most SEARCH_MAX_ROUNDS price rounds
 * (converged = false if hit).
 */
export async function gsrpSearch(ctx: LeaderContext, server: ServerParams): Promise<SlotOutcome> {
  const samples: Sample[] = [];
  const notes: string[] = [];
  const { m, epsilon } = server;
  const budget = () => samples.length < SEARCH_MAX_ROUNDS;
  const ev = async (p: number, phase: Phase) => (await evaluate(ctx, server, p, phase, samples)).profit;
  let a = m;
  let b = server.p0;
  let fb = await ev(b, 'bracket');
  let c: number;
  let fc: number;
  if (!(fb > 0)) {
    // nobody buys at p0 (or Π ≤ 0): demand only falls with p, so the peak, if any, lies in (m, p0)
    c = b;
    fc = fb;
    while (!(fb > 0) && budget() && b - m > (epsilon * (b + m)) / 2) {
      c = b;
      fc = fb;
      b = m + (b - m) / (PHI * PHI);
      fb = await ev(b, 'bracket');
    }
    if (!(fb > 0)) {
      notes.push(`nobody buys at any price sampled above m = ${m}`);
      const final = await evaluate(ctx, server, b, 'final', samples);
      return outcome(final, budget(), samples, notes, { bracket: [a, c] });
    }
  } else {
    c = m + PHI * (b - m);
    fc = await ev(c, 'bracket');
    while (fc > fb && budget()) {
      a = b;
      b = c;
      fb = fc;
      c = m + PHI * (c - m);
      fc = await ev(c, 'bracket');
    }
  }
  // Golden section on [a, c]; b is (up to rounding) one of the two golden points: reuse it.
  let x1 = c - (c - a) / PHI;
  let x2 = a + (c - a) / PHI;
  let f1: number;
  let f2: number;
  if (Math.abs(b - x1) <= Math.abs(b - x2)) {
    x1 = b;
    f1 = fb;
    f2 = await ev(x2, 'golden');
  } else {
    x2 = b;
    f2 = fb;
    f1 = await ev(x1, 'golden');
  }
  // ε relative to p − m rather than p: Π ∝ (p − m), so where the peak is a kink or a user's exit
  // (not a stationary point) the profit's relative error is ≤ ε too. Stricter than ε relative to p.
  const narrow = () => c - a <= epsilon * ((a + c) / 2 - m);
  while (!narrow() && budget()) {
    if (f1 >= f2) {
      c = x2;
      x2 = x1;
      f2 = f1;
      x1 = c - (c - a) / PHI;
      f1 = await ev(x1, 'golden');
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + (c - a) / PHI;
      f2 = await ev(x2, 'golden');
    }
  }
  const converged = narrow();
  if (!converged) notes.push(`stopped after ${SEARCH_MAX_ROUNDS} price rounds before the bracket reached ε = ${epsilon}`);
  const best = bestOf(samples);
  const final = await evaluate(ctx, server, best.price, 'final', samples);
  return outcome(final, converged, samples, notes, { bracket: [a, c] });
}
