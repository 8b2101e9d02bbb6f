/**
 * futures-spot — the centralized reference: the registration-fee iteration computed directly from the
 * resolved configuration (no messages, no per-agent state): every user's decision, the futures
 * allocation, the auction and every server's profit in one loop. It uses the model's formulas and
 * the auctions (unit-tested on their own), in the same summation order as the broker, so a correct
 * distributed run reproduces its trajectory bit for bit.
 *
 * The broker's fees on the incomplete-information market and the published price (spec revision 2)
 * are applied here on their own, not through the broker's code: the net book, the conversion of
 * book prices into payments, and the price of the most recent round with trades.
 *
 * It also checks the auction properties on every spot round (with the exact welfare-optimal
 * assignment for complete-information rounds of ≤ EXACT_LIMIT bidders), and runs the other auction
 * too, so both auctions' outcomes are reported side by side.
 */
import type { Claim, Json, JsonObject, ReferenceRun, ReferenceSlot, SlotOutcome } from '../types.ts';
import { claim, n } from '../common/claims.ts';
import { checkComplete, checkIncomplete, greedyComplete, mcafee, perServer, meanBuyerPrice, spread, type Ask, type CompleteBid, type SpotCheck, type SpotResult, type Trade, type UnitBid } from './auctions.ts';
import { choosesContract, feeAt, futuresAllocate, homogeneousBid, meanOf, serverProfit, sum, tieCoin, valuations, NO_FEES, type Auction, type Fees, type FuturesSpotConfig } from './model.ts';
import { summarize, type IterationSummary, type SpotRecord, type TrajectoryRow } from './protocol.ts';


export interface ReferenceIteration {
  rows: TrajectoryRow[];
  summary: IterationSummary;
  spot: SpotRecord[];
  checks: SpotCheck[];
}

/** The bids of the given users and the asks on the given remaining capacities, rebuilt from the configuration. */
export function bookOf(cfg: FuturesSpotConfig, bidders: readonly number[], rem: readonly number[]): { completeBids: CompleteBid[]; unitBids: UnitBid[]; asks: Ask[] } {
  const zeta = cfg.servers.map((s) => s.zeta);
  const completeBids: CompleteBid[] = [];
  const unitBids: UnitBid[] = [];
  for (const i of bidders) {
    const u = cfg.users[i];
    const v = valuations(u.v, u.rho, zeta);
    completeBids.push({ i, D: u.D, v });
    unitBids.push({ i, D: u.D, b: homogeneousBid(v) });
  }
  const asks = cfg.servers.map((s, j) => ({ j, R: rem[j], a: s.a }));
  return { completeBids, unitBids, asks };
}

/** The fees the broker charges under `auction`: the configured ones on the incomplete market, none on the complete one. */
export const feesOf = (cfg: FuturesSpotConfig, auction: Auction): Fees => (auction === 'incomplete' ? { phiA: cfg.phiA, phiB: cfg.phiB } : NO_FEES);

/** One spot round: the greedy, or McAfee on the net book with the book prices turned into payments (buyers + φ_b, sellers − φ_a). */
function spotRound(auction: Auction, book: { completeBids: CompleteBid[]; unitBids: UnitBid[]; asks: Ask[] }, fees: Fees): SpotResult {
  if (auction === 'complete') return greedyComplete(book.completeBids, book.asks);
  const net = mcafee(
    book.unitBids.map(({ i, D, b }) => ({ i, D, b: b - fees.phiB })),
    book.asks.map(({ j, R, a }) => ({ j, R, a: a + fees.phiA })),
  );
  const trades: Trade[] = net.trades.map(([i, j, q, pb, ps]) => [i, j, q, pb + fees.phiB, ps - fees.phiA]);
  return { ...net, trades };
}

/**
 * The auction property checks of one recorded spot round (`extra.spot[*]` of a slot outcome):
 * rebuilds the book from the configuration and checks the recorded trades against it.
 */
export function checkSpotRecord(cfg: FuturesSpotConfig, auction: Auction, rec: SpotRecord, exactLimit?: number): SpotCheck {
  const book = bookOf(cfg, rec.bidders, rec.rem);
  return auction === 'complete' ? checkComplete(book.completeBids, book.asks, rec.trades, exactLimit) : checkIncomplete(book.unitBids, book.asks, rec.trades, feesOf(cfg, auction));
}

/** The whole fee iteration, centrally. */
export function referenceIteration(cfg: FuturesSpotConfig, auction: Auction, slot: number, opts: { checks?: boolean } = {}): ReferenceIteration {
  const { P, l, c0, tau, maxIterations, servers, users } = cfg;
  const M = servers.length;
  const N = users.length;
  const zeta = servers.map((s) => s.zeta);
  const b = users.map((u) => homogeneousBid(valuations(u.v, u.rho, zeta)));
  const fees = feesOf(cfg, auction);
  // before any trade, users see the book's mean ask
  const meanBookAsk = meanOf(servers.map((s) => s.a + fees.phiA));
  const rows: TrajectoryRow[] = [];
  const spot: SpotRecord[] = [];
  const checks: SpotCheck[] = [];
  let pbLast: number | null = null;
  let noContract = false;
  for (let k = 0; k < maxIterations; k++) {
    const r = feeAt(k, tau);
    const pb = auction === 'incomplete' ? (pbLast ?? meanBookAsk) : null;
    const bidders: number[] = [];
    const cDemand: number[] = [];
    for (let i = 0; i < N; i++) {
      const u = users[i];
      if (choosesContract(auction, { D: u.D, v: u.v, b: b[i] }, P, r, pb, tieCoin(cfg.seed, i, slot, k), fees.phiB)) cDemand.push(u.D);
      else bidders.push(i);
    }
    const nc = cDemand.length;
    const fa = futuresAllocate(servers, cDemand);
    const book = bookOf(cfg, bidders, fa.rem);
    const res = spotRound(auction, book, fees);
    // a round without trades publishes nothing new: the last traded book price stands
    const pbTraded = auction === 'incomplete' && res.units > 0 ? res.pb : null;
    if (pbTraded !== null) pbLast = pbTraded;
    const ps = perServer(res.trades, M);
    const U = sum(servers.map((s, j) => serverProfit(s, P, l, c0, { k, r, nc, sumR: fa.sumR, fut: fa.fut[j], und: fa.und[j], spotUnits: ps.units[j], spotRevenue: ps.revenue[j] })));
    const sp = spread(res.trades);
    const balance = sum(servers.map((s) => (c0 * s.R) / fa.sumR)) + sp;
    rows.push({ k, r, U, nc, nr: bidders.length, spotUnits: res.units, price: meanBuyerPrice(res.trades), published: pb, pb: pbTraded, spread: sp, fees: res.units * (fees.phiA + fees.phiB), balance });
    spot.push({ k, bidders, rem: fa.rem, trades: res.trades });
    if (opts.checks !== false) {
      checks.push(auction === 'complete' ? checkComplete(book.completeBids, book.asks, res.trades) : checkIncomplete(book.unitBids, book.asks, res.trades, fees));
    }
    if (nc === 0) {
      noContract = true;
      break;
    }
  }
  return { rows, summary: summarize(auction, rows, noContract), spot, checks };
}

/** A compact summary of the property checks over every spot round of one iteration. */
export function checkSummary(checks: readonly SpotCheck[]): JsonObject {
  const ratios = checks.map((c) => c.ratio).filter((x): x is number => x !== null);
  return {
    rounds: checks.length,
    violations: checks.filter((c) => !c.ok).length,
    irViolations: checks.filter((c) => !c.ir).length,
    bbViolations: checks.filter((c) => !c.bb).length,
    efficiencyViolations: checks.filter((c) => !c.efficiencyOk).length,
    maxSpread: checks.reduce((m, c) => Math.max(m, c.spread), 0),
    exactRounds: ratios.length,
    minWelfareRatio: ratios.length ? Math.min(...ratios) : null,
    meanWelfareRatio: ratios.length ? sum(ratios) / ratios.length : null,
  };
}

/**
 * Under `complete` a user's choice does not depend on the market's history (its spot estimate is 0):
 * it registers iff its threshold t_i = (v_i − P) D_i exceeds the fee (a tie flips its coin). So the
 * servers' profit is a function U(r) of the fee alone, linear increasing in r while the set of contract
 * users stays the same. Its supremum over every r ≥ 0 is therefore at a threshold approached from
 * below (the users with t_i ≥ t registered, fee t), or at no contract user at all; the fee iteration
 * only visits the τ-grid. Returns that supremum and where it is.
 */
export function bestFeeComplete(cfg: FuturesSpotConfig): { U: number; r: number; nc: number } {
  const { P, l, c0, servers, users } = cfg;
  const M = servers.length;
  const t = users.map((u) => (u.v - P) * u.D);
  const at = (r: number, contract: (i: number) => boolean) => {
    const cIdx = users.map((_, i) => i).filter(contract);
    const fa = futuresAllocate(servers, cIdx.map((i) => users[i].D));
    const bidders = users.map((_, i) => i).filter((i) => !contract(i));
    const book = bookOf(cfg, bidders, fa.rem);
    const ps = perServer(greedyComplete(book.completeBids, book.asks).trades, M);
    const U = sum(servers.map((s, j) => serverProfit(s, P, l, c0, { k: 0, r, nc: cIdx.length, sumR: fa.sumR, fut: fa.fut[j], und: fa.und[j], spotUnits: ps.units[j], spotRevenue: ps.revenue[j] })));
    return { U, r, nc: cIdx.length };
  };
  let best = at(0, () => false);
  for (const th of [...new Set(t.filter((x) => x > 0))]) {
    const c = at(th, (i) => t[i] >= th);
    if (c.U > best.U) best = c;
  }
  return best;
}

/** What the slot is compared with, in words (summary.json `compare.against`). */
function againstOf(cfg: FuturesSpotConfig): string {
  if (cfg.auction === 'complete') return 'the registration-fee iteration (fees k·τ, greedy complete-information spot auction) computed centrally';
  return `the registration-fee iteration (fees k·τ, McAfee double auction with broker fees φ_a = ${cfg.phiA}, φ_b = ${cfg.phiB}) computed centrally; no optimum fee is defined (users' choices depend on the history of published prices)`;
}

/** exact equality (+0 and −0 equal: msgpack does not keep the sign of a zero) */
const same = (x: unknown, y: unknown) => x === y || (Number.isNaN(x) && Number.isNaN(y));

/** Compare a distributed slot outcome with the reference iteration: the trajectories must be identical. */
export function compareWithReference(distributed: SlotOutcome, ref: ReferenceIteration): ReferenceSlot['compare'] {
  const t = (distributed.extra?.trajectory ?? null) as Record<string, (number | null)[]> | null;
  if (!t) return { ok: false, gap: Infinity, note: 'the distributed outcome carries no trajectory' };
  const keys = ['r', 'U', 'nc', 'price', 'published', 'balance'] as const;
  let gap = 0;
  const diffs: string[] = [];
  if (!Array.isArray(t.U) || t.U.length !== ref.rows.length) {
    return { ok: false, gap: Infinity, note: `iterations: distributed ${Array.isArray(t.U) ? t.U.length : '?'}, reference ${ref.rows.length}` };
  }
  ref.rows.forEach((row, k) => {
    for (const key of keys) {
      const d = t[key]?.[k];
      const e = row[key];
      if (!same(d, e)) {
        if (diffs.length < 3) diffs.push(`${key}[${k}] ${d} vs ${e}`);
        if (typeof d === 'number' && typeof e === 'number') gap = Math.max(gap, Math.abs(d - e) / Math.max(1, Math.abs(e)));
        else gap = Infinity;
      }
    }
  });
  for (const key of ['rStar', 'Umax', 'ncStar', 'iterations'] as const) {
    if (!same(distributed.equilibrium[key], ref.summary[key])) diffs.push(`${key} ${distributed.equilibrium[key]} vs ${ref.summary[key]}`);
  }
  return diffs.length ? { ok: false, gap: gap || Infinity, note: `differs from the reference: ${diffs.join('; ')}` } : { ok: true, gap: 0 };
}

export function createFuturesSpotReference(cfg: FuturesSpotConfig): ReferenceRun {
  const Umax: Record<Auction, number[]> = { complete: [], incomplete: [] };
  // complete: the profit at the best fee over every r ≥ 0, against the fee iteration's U_max on the τ-grid
  const optimumOf = (um: number | null): Pick<ReferenceSlot['compare'], 'optimum'> => {
    if (cfg.auction !== 'complete' || um === null) return {};
    const best = bestFeeComplete(cfg);
    const label = best.nc === 0 ? 'server profit U at the best fee over every r ≥ 0 (a fee nobody pays: no contract users)' : `server profit U at the best fee over every r ≥ 0 (r → ${Number(best.r.toFixed(4))} from below, ${best.nc} contract users)`;
    return { optimum: { label, value: best.U, gapPct: best.U !== 0 ? (100 * (best.U - um)) / Math.abs(best.U) : 0 } };
  };
  return {
    slot(slot, distributed) {
      const sel = referenceIteration(cfg, cfg.auction, slot);
      const otherAuction: Auction = cfg.auction === 'complete' ? 'incomplete' : 'complete';
      const other = referenceIteration(cfg, otherAuction, slot);
      for (const it of [sel, other]) if (it.summary.Umax !== null) Umax[it.summary.auction].push(it.summary.Umax);
      const byAuction = { [sel.summary.auction]: sel, [other.summary.auction]: other } as Record<Auction, ReferenceIteration>;
      return {
        reference: { ...sel.summary, checks: checkSummary(sel.checks) },
        baselines: {
          auctions: {
            complete: { ...byAuction.complete.summary, checks: checkSummary(byAuction.complete.checks) },
            incomplete: { ...byAuction.incomplete.summary, checks: checkSummary(byAuction.incomplete.checks) },
          },
        },
        compare: { ...compareWithReference(distributed, sel), against: againstOf(cfg), ...optimumOf(sel.summary.Umax) },
      };
    },
    finish() {
      const c = Umax.complete.length ? sum(Umax.complete) / Umax.complete.length : null;
      const i = Umax.incomplete.length ? sum(Umax.incomplete) / Umax.incomplete.length : null;
      const claims: Claim[] = [
        claim('complete-extracts-more', "complete information extracts more for the servers than incomplete information (higher mean U_max)", c !== null && i !== null ? c > i : null, [n('mean U_max, complete', c, 'money'), n('mean U_max, incomplete', i, 'money'), n('slots', Umax.complete.length, 'count')], c === null || i === null ? 'no slot reached a U_max under one of the auctions' : undefined),
      ];
      return { claims: claims as unknown as Json };
    },
  };
}
