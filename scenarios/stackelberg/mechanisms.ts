/**
 * The server's pricing protocols. Each evaluation of a price is one message round: a `price`
 * broadcast and N replies `{x, u}` (demand and utility; with a capacity, also θ and k so the server
 * can grant in descending θ). Every slot ends with one `final` broadcast at the chosen price, whose
 * replies are the equilibrium purchases.
 */
import type { LeaderContext, SlotOutcome } from '../types.ts';
import { allocate, utility, type ServerParams } from './model.ts';

export interface PriceReply {
  x: number;
  u: number;
  theta?: number;
  k?: number;
}

interface Sample {
  price: number;
  profit: number;
  purchases: number[];
  utilities: number[];
}

const PHI = (1 + Math.sqrt(5)) / 2;
const MAX_ROUNDS = 100_000;

/** One round: broadcast a price, gather replies (roster order), apply capacity, compute Π. */
async function evaluate(ctx: LeaderContext, server: ServerParams, price: number, kind: 'price' | 'final', log: Sample[]): Promise<Sample> {
  const cap = server.X !== null;
  const res = await ctx.round<PriceReply>({ kind, body: cap ? { p: price, cap: true } : { p: price } });
  const demands = res.replies.map((r) => (r && Number.isFinite(r.x) && r.x > 0 ? r.x : 0));
  let purchases = demands;
  let utilities = res.replies.map((r) => (r && Number.isFinite(r.u) ? r.u : 0));
  if (cap) {
    const thetas = res.replies.map((r) => r?.theta ?? 0);
    purchases = allocate(demands, thetas, server.X);
    utilities = purchases.map((x, i) => (x === demands[i] ? utilities[i] : utility(thetas[i], res.replies[i]?.k ?? Infinity, x, price)));
  }
  let total = 0;
  for (const x of purchases) total += x;
  const s: Sample = { price, profit: (price - server.m) * total, purchases, utilities };
  if (kind === 'price') log.push(s);
  const row: Record<string, number | string | boolean | null> = { round: log.length + (kind === 'final' ? 1 : 0), kind, price, profit: s.profit, buyers: purchases.filter((x) => x > 0).length, demand: total, missing: res.missing.length };
  if (ctx.roster.length <= 50) ctx.roster.forEach((a, i) => (row[`u_${a.id}`] = utilities[i]));
  ctx.record(row);
  return s;
}

function outcome(final: Sample, converged: boolean, samples: Sample[], notes: string[]): SlotOutcome {
  return {
    equilibrium: { price: final.price, purchases: final.purchases, profit: final.profit, utilities: final.utilities },
    converged,
    notes: notes.length ? notes : undefined,
    extra: { evaluations: samples.length, unimodalSamples: isUnimodal(samples) },
  };
}

/** Do the sampled profits, sorted by price, rise then fall (a single peak)? */
export function isUnimodal(samples: { price: number; profit: number }[]): boolean {
  const s = [...samples].sort((a, b) => a.price - b.price);
  const scale = Math.max(1e-12, ...s.map((x) => Math.abs(x.profit)));
  let falling = false;
  for (let i = 1; i < s.length; i++) {
    const d = s[i].profit - s[i - 1].profit;
    if (d < -1e-12 * scale) falling = true;
    else if (d > 1e-12 * scale && falling) return false;
  }
  return true;
}

/** `gsrp-step`: p_k = p0 + kΔ until the profit has fallen in `patience` consecutive rounds or nobody buys. */
export async function gsrpStep(ctx: LeaderContext, server: ServerParams): Promise<SlotOutcome> {
  const samples: Sample[] = [];
  let best: Sample | undefined;
  let prev: number | undefined;
  let fallen = 0;
  let converged = false;
  for (let k = 0; k < MAX_ROUNDS; k++) {
    const s = await evaluate(ctx, server, server.p0 + k * server.step, 'price', samples);
    if (!best || s.profit > best.profit) best = s;
    fallen = prev !== undefined && s.profit < prev ? fallen + 1 : 0;
    if (fallen >= server.patience || s.purchases.every((x) => x === 0)) {
      converged = true;
      break;
    }
    prev = s.profit;
  }
  const notes = converged ? [] : [`stopped after ${MAX_ROUNDS} rounds without meeting the stopping rule`];
  const final = await evaluate(ctx, server, best!.price, 'final', samples);
  return outcome(final, converged, samples, notes);
}

/**
 * `gsrp-search`: bracket the peak by doubling p − m from p0 until the profit falls, then
 * golden-section search (one new price per round) until the bracket is narrower than ε relative;
 * the final price is the best one observed. Reports when the sampled profits were not unimodal.
 */
export async function gsrpSearch(ctx: LeaderContext, server: ServerParams): Promise<SlotOutcome> {
  const samples: Sample[] = [];
  const { m, epsilon } = server;
  const ev = (p: number) => evaluate(ctx, server, p, 'price', samples);
  // Bracketing: Π(m) = 0 without asking anyone.
  let a = m;
  let b = server.p0;
  let fb = (await ev(b)).profit;
  let c: number;
  if (fb <= 0) {
    // nobody buys at p0 (demand only falls with price): the peak, if any, lies in (m, p0)
    c = b;
    b = (a + c) / 2;
    fb = (await ev(b)).profit;
  } else {
    c = m + 2 * (b - m);
    let fc = (await ev(c)).profit;
    while (fc > fb && samples.length < MAX_ROUNDS) {
      a = b;
      b = c;
      fb = fc;
      c = m + 2 * (c - m);
      fc = (await ev(c)).profit;
    }
  }
  // Golden-section search on [a, c].
  let x1 = c - (c - a) / PHI;
  let x2 = a + (c - a) / PHI;
  let f1 = (await ev(x1)).profit;
  let f2 = (await ev(x2)).profit;
  while (c - a > (epsilon * (a + c)) / 2 && samples.length < MAX_ROUNDS) {
    if (f1 >= f2) {
      c = x2;
      x2 = x1;
      f2 = f1;
      x1 = c - (c - a) / PHI;
      f1 = (await ev(x1)).profit;
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + (c - a) / PHI;
      f2 = (await ev(x2)).profit;
    }
  }
  const converged = c - a <= (epsilon * (a + c)) / 2;
  let best = samples[0];
  for (const s of samples) if (s.profit > best.profit) best = s;
  const notes: string[] = [];
  if (!isUnimodal(samples)) notes.push('the sampled profits were not unimodal: the search may have found a local maximum');
  if (!converged) notes.push(`stopped after ${MAX_ROUNDS} rounds before the bracket reached ε`);
  const final = await evaluate(ctx, server, best.price, 'final', samples);
  return outcome(final, converged, samples, notes);
}
