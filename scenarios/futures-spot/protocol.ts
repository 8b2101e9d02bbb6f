/**
 * futures-spot — the message protocol: the broker (leader) and the mec / ue handlers (followers).
 *
 * One slot runs the whole registration-fee iteration (spec steps 303–310). Each iteration k is five
 * message rounds:
 *
 * | round    | to            | body                                   | reply                                   |
 * | -------- | ------------- | -------------------------------------- | --------------------------------------- |
 * | `ask`    | `mec` (bcast) | {k}                                    | {R, kappa, a}: capacity, unit cost, ask |
 * | `fee`    | `ue` (bcast)  | {k, r, pb}: fee r_k, published book price | {c: 1, D} contract / {c: 0} random    |
 * | `bid`    | `ue` (bcast)  | {k, rem}: remaining capacities R'       | random: {D, b} or {D, v: v_ij[]}; contract: nil |
 * | `award`  | `ue` (bcast, no replies) | {k, shortfall: [ΣR, ΣD] or null, won: [[i, units, mean price]]} | — |
 * | `settle` | each `mec-j`  | Settlement (futures units, indemnity share, fee share, spot units and revenue) | {profit} |
 *
 * The broker runs the futures allocation after `fee` and the spot auction after `bid`. Under
 * `incomplete` it charges its per-unit fees (spec revision 2): McAfee runs on the net book (bids
 * b_i − φ_b, asks a_j + φ_a); buyers pay the book price + φ_b and servers receive the book price − φ_a,
 * so the trades (and the `award` and `settle` bodies) carry what is paid and received. The price it
 * publishes in `fee` is the buyers' book price of the most recent round with trades, or before any
 * trade the book's mean ask mean_j (a_j + φ_a). The `award`
 * body lists only the spot winners (bounded by the spot capacity ΣR', not by N) and, under a
 * shortfall, ΣR and ΣD (the contract delivery fraction ΣR / ΣD), from which every user derives its own outcome.
 */
import type { FollowerContext, Follower, JsonObject, Leader, LeaderContext, SlotOutcome } from '../types.ts';
import { greedyComplete, mcafee, meanBuyerPrice, perServer, spread, type Ask, type CompleteBid, type SpotResult, type Trade, type UnitBid } from './auctions.ts';
import { choosesContract, feeAt, futuresAllocate, homogeneousBid, meanOf, serverProfit, sum, tieCoin, valuations, NO_FEES, type Auction, type Fees, type Settlement } from './model.ts';

/** Spot rounds are recorded in full (bidders, remaining capacities, trades) only up to this many users. */
export const SPOT_RECORD_LIMIT = 50;

export interface LeaderInit extends JsonObject {
  auction: Auction;
  /** per-unit fees on the incomplete-information spot market (0 under complete) */
  phiA: number;
  phiB: number;
  P: number;
  l: number;
  c0: number;
  tau: number;
  maxIterations: number;
}

/** A compact record of one spot round: who bid, what capacity was offered, the trades. */
export interface SpotRecord extends JsonObject {
  k: number;
  bidders: number[];
  rem: number[];
  trades: Trade[];
}

/** One trajectory row (spec: r_k, U_k, n_c, spot price, broker balance, and a few counts). */
export interface TrajectoryRow {
  [k: string]: number | null;
  k: number;
  r: number;
  U: number;
  nc: number;
  /** random users that bid */
  nr: number;
  spotUnits: number;
  /** unit-weighted mean price the spot buyers paid (book price + φ_b under incomplete), or null when nothing traded */
  price: number | null;
  /** incomplete: the book price published to the users at this iteration's `fee` (null under complete) */
  published: number | null;
  /** incomplete: this round's buyers' book price p_b, published next (null when nothing traded, or under complete) */
  pb: number | null;
  /** the broker's spot takings Σ units × (paid − received): its per-unit fees plus the book's spread */
  spread: number;
  /** of which the per-unit fees, units × (φ_a + φ_b) */
  fees: number;
  /** broker balance: the c0 management fees collected + the spot takings */
  balance: number;
}

export interface IterationSummary extends JsonObject {
  auction: Auction;
  rStar: number | null;
  Umax: number | null;
  ncStar: number | null;
  kStar: number | null;
  /** the spot market at r*: units traded, mean price paid, broker balance */
  spotUnitsStar: number | null;
  priceStar: number | null;
  balanceStar: number | null;
  iterations: number;
  stoppedBy: 'no-contract-users' | 'maxIterations';
}

/** Turn the stopping state into the slot summary (shared by leader and reference so both report alike). */
export function summarize(auction: Auction, rows: TrajectoryRow[], stoppedByNoContract: boolean): IterationSummary {
  let best: TrajectoryRow | undefined;
  for (const row of rows) if (best === undefined || row.U > best.U) best = row;
  return {
    auction,
    rStar: best ? best.r : null,
    Umax: best ? best.U : null,
    ncStar: best ? best.nc : null,
    kStar: best ? best.k : null,
    spotUnitsStar: best ? best.spotUnits : null,
    priceStar: best ? best.price : null,
    balanceStar: best ? best.balance : null,
    iterations: rows.length,
    stoppedBy: stoppedByNoContract ? 'no-contract-users' : 'maxIterations',
  };
}

/**
 * The broker's spot round. `unitBids` and `asks` carry the users' b_i and the servers' a_j; under
 * `incomplete` the broker books them net of its fees and turns the book prices into what the trades
 * pay (p_b + φ_b) and receive (p_s − φ_a). `pb` and `ps` of the result stay book prices.
 */
export function brokerSpot(auction: Auction, completeBids: CompleteBid[], unitBids: UnitBid[], asks: Ask[], fees: Fees): SpotResult {
  if (auction === 'complete') return greedyComplete(completeBids, asks);
  const book = mcafee(
    unitBids.map((x) => ({ i: x.i, D: x.D, b: x.b - fees.phiB })),
    asks.map((x) => ({ j: x.j, R: x.R, a: x.a + fees.phiA })),
  );
  const trades = book.trades.map(([i, j, q, pb, ps]): Trade => [i, j, q, pb + fees.phiB, ps - fees.phiA]);
  return { ...book, trades };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
/** units a reply may claim (demand D, capacity R): far above any configured value, far below where sums lose integer precision */
const MAX_UNITS = 1e9;
const posInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= MAX_UNITS;

export function createBroker(init: JsonObject): Leader {
  const auction = init.auction as Auction;
  const P = Number(init.P);
  const l = Number(init.l);
  const c0 = Number(init.c0);
  const tau = Number(init.tau);
  const maxIterations = Number(init.maxIterations);
  const fees: Fees = auction === 'incomplete' ? { phiA: Number(init.phiA), phiB: Number(init.phiB) } : NO_FEES;
  return {
    async runSlot(ctx: LeaderContext): Promise<SlotOutcome> {
      const mecs = ctx.roster.map((a, pos) => ({ a, pos })).filter((x) => x.a.role === 'mec').sort((x, y) => x.a.index - y.a.index);
      const ues = ctx.roster.map((a, pos) => ({ a, pos })).filter((x) => x.a.role === 'ue').sort((x, y) => x.a.index - y.a.index);
      const M = mecs.length;
      const N = ues.length;
      mecs.forEach((m, j) => {
        if (m.a.index !== j) throw new Error(`futures-spot: mec indices must be 0..${M - 1}`);
      });
      ues.forEach((u, i) => {
        if (u.a.index !== i) throw new Error(`futures-spot: ue indices must be 0..${N - 1}`);
      });
      const servers: ({ R: number; kappa: number; a: number } | undefined)[] = new Array(M).fill(undefined);
      const contract = new Array<boolean>(N).fill(false);
      const demand = new Array<number>(N).fill(0);
      const lastBid: (JsonObject | undefined)[] = new Array(N).fill(undefined);
      const rows: TrajectoryRow[] = [];
      const spot: SpotRecord[] = [];
      const notes: string[] = [];
      let missing = 0;
      let pbLast: number | null = null;
      let noContract = false;

      for (let k = 0; k < maxIterations; k++) {
        const r = feeAt(k, tau); // r_k = r_0 + k τ
        // --- asks: every server reports capacity, unit cost and ask (step 304, 403)
        const askRes = await ctx.round<{ R: number; kappa: number; a: number }>({ kind: 'ask', to: 'mec', body: { k } });
        mecs.forEach(({ pos }, j) => {
          const x = askRes.replies[pos];
          if (x && finite(x.R) && x.R >= 0 && x.R <= MAX_UNITS && Number.isInteger(x.R) && finite(x.kappa) && finite(x.a)) servers[j] = { R: x.R, kappa: x.kappa, a: x.a };
          else missing++;
        });
        if (servers.some((s) => s === undefined)) throw new Error('futures-spot: a server never reported its capacity and ask');
        const S = servers as { R: number; kappa: number; a: number }[];

        // --- fee: publish r_k and the book price of the last round with trades (before any: the book's mean ask);
        // users register or stay random (steps 304–305)
        const pbPub = auction === 'incomplete' ? (pbLast ?? meanOf(S.map((s) => s.a + fees.phiA))) : null;
        const feeRes = await ctx.round<{ c: number; D?: number }>({ kind: 'fee', to: 'ue', body: { k, r, pb: pbPub } });
        ues.forEach(({ pos }, i) => {
          const x = feeRes.replies[pos];
          if (!x || (x.c !== 0 && x.c !== 1) || (x.c === 1 && !posInt(x.D))) return void missing++; // last type kept
          contract[i] = x.c === 1;
          if (x.c === 1) demand[i] = x.D!;
        });
        const cIdx: number[] = [];
        for (let i = 0; i < N; i++) if (contract[i]) cIdx.push(i);
        const nc = cIdx.length;

        // --- futures allocation (step 301)
        const fa = futuresAllocate(S, cIdx.map((i) => demand[i]));

        // --- bids: random users bid on the remaining capacity (steps 404, 501)
        const bidRes = await ctx.round<JsonObject>({ kind: 'bid', to: 'ue', body: { k, rem: fa.rem } });
        const completeBids: CompleteBid[] = [];
        const unitBids: UnitBid[] = [];
        const bidders: number[] = [];
        ues.forEach(({ pos }, i) => {
          if (contract[i]) return;
          let x = bidRes.replies[pos];
          const ok = x && posInt(x.D) && (auction === 'complete' ? Array.isArray(x.v) && x.v.length === M && x.v.every(finite) : finite(x.b));
          if (!ok) {
            missing++;
            x = lastBid[i];
            if (!x) return;
          }
          lastBid[i] = x;
          bidders.push(i);
          if (auction === 'complete') completeBids.push({ i, D: x!.D as number, v: x!.v as number[] });
          else unitBids.push({ i, D: x!.D as number, b: x!.b as number });
        });
        const asks: Ask[] = S.map((s, j) => ({ j, R: fa.rem[j], a: s.a }));
        const res = brokerSpot(auction, completeBids, unitBids, asks, fees);
        const pbTraded = auction === 'incomplete' && res.units > 0 ? res.pb : null;
        if (pbTraded !== null) pbLast = pbTraded;

        // --- awards to users: the contract delivery fraction and the spot winners (one broadcast)
        const won = new Map<number, [number, number]>(); // i → [units, payment]
        for (const [i, , q, pb] of res.trades) {
          const w = won.get(i) ?? [0, 0];
          won.set(i, [w[0] + q, w[1] + q * pb]);
        }
        await ctx.round({
          kind: 'award',
          to: 'ue',
          expectReplies: false,
          body: { k, shortfall: fa.shortfall ? [fa.sumR, fa.sumD] : null, won: [...won].map(([i, [q, pay]]) => [i, q, pay / q]) },
        });

        // --- settle: each server gets its outcome and replies with its profit (steps 306, 409, 508)
        const ps = perServer(res.trades, M);
        const settlements: Settlement[] = S.map((_, j) => ({ k, r, nc, sumR: fa.sumR, fut: fa.fut[j], und: fa.und[j], spotUnits: ps.units[j], spotRevenue: ps.revenue[j] }));
        const bodies: Record<string, JsonObject> = {};
        mecs.forEach(({ a }, j) => (bodies[a.id] = settlements[j]));
        const setRes = await ctx.round<{ profit: number }>({ kind: 'settle', to: mecs.map((m) => m.a.id), bodies });
        const profits = mecs.map(({ pos }, j) => {
          const x = setRes.replies[pos];
          if (x && finite(x.profit)) return x.profit;
          missing++;
          return serverProfit(S[j], P, l, c0, settlements[j]); // the broker knows κ_j and R_j from the asks
        });
        const U = sum(profits);
        const sp = spread(res.trades);
        const balance = sum(S.map((s) => (c0 * s.R) / fa.sumR)) + sp;
        const row: TrajectoryRow = { k, r, U, nc, nr: bidders.length, spotUnits: res.units, price: meanBuyerPrice(res.trades), published: pbPub, pb: pbTraded, spread: sp, fees: res.units * (fees.phiA + fees.phiB), balance };
        rows.push(row);
        ctx.record(row);
        if (N <= SPOT_RECORD_LIMIT) spot.push({ k, bidders, rem: fa.rem, trades: res.trades });
        if (nc === 0) {
          noContract = true;
          break;
        }
      }
      if (N > SPOT_RECORD_LIMIT) notes.push(`spot books not recorded (N = ${N} > ${SPOT_RECORD_LIMIT})`);
      if (!noContract) notes.push(`stopped after maxIterations = ${maxIterations} with contract users left`);
      if (missing > 0) notes.push(`${missing} missing or malformed replies (last strategy used)`);
      const eq = summarize(auction, rows, noContract);
      return {
        equilibrium: eq,
        converged: noContract,
        notes: notes.length ? notes : undefined,
        extra: {
          trajectory: {
            r: rows.map((x) => x.r),
            U: rows.map((x) => x.U),
            nc: rows.map((x) => x.nc),
            price: rows.map((x) => x.price),
            published: rows.map((x) => x.published),
            balance: rows.map((x) => x.balance),
          },
          spot: N <= SPOT_RECORD_LIMIT ? spot : null,
          missing,
        },
      };
    },
  };
}

export interface UeInit extends JsonObject {
  seed: number;
  auction: Auction;
  P: number;
  /** the buyers' per-unit fee on the incomplete-information spot market (0 under complete) */
  phiB: number;
  D: number;
  v: number;
  rho: number[];
  zeta: number[];
}

export function createUe(init: JsonObject, ctx: FollowerContext): Follower {
  const u = init as UeInit;
  const vij = valuations(u.v, u.rho, u.zeta);
  const b = homogeneousBid(vij);
  let isContract = false;
  return {
    handle(kind, body, meta): JsonObject | undefined {
      if (kind === 'fee') {
        const r = Number(body.r);
        const pb = typeof body.pb === 'number' ? body.pb : null;
        isContract = choosesContract(u.auction, { D: u.D, v: u.v, b }, u.P, r, pb, tieCoin(u.seed, ctx.index, meta.slot, Number(body.k)), u.phiB);
        return isContract ? { c: 1, D: u.D } : { c: 0 };
      }
      if (kind === 'bid') {
        if (isContract) return undefined;
        return u.auction === 'complete' ? { D: u.D, v: vij } : { D: u.D, b };
      }
      return undefined; // `award`: nothing to reply
    },
  };
}

export interface MecInit extends JsonObject {
  R: number;
  kappa: number;
  a: number;
  P: number;
  l: number;
  c0: number;
}

export function createMec(init: JsonObject): Follower {
  const s = init as MecInit;
  return {
    handle(kind, body): JsonObject | undefined {
      if (kind === 'ask') return { R: s.R, kappa: s.kappa, a: s.a };
      if (kind === 'settle') {
        const profit = serverProfit(s, s.P, s.l, s.c0, body as Settlement);
        return Number.isFinite(profit) ? { profit } : undefined; // a malformed settlement gets no answer
      }
      return undefined;
    },
  };
}
