/**
 * `offload-energy/pricing`: Stackelberg pricing of load migration (model and protocol in ../pricing.ts).
 * Leader `mec-0`, followers `ue-i`. The variant (`semi-distributed`: one report round then the optimum;
 * `decentralized`: a price search of a fixed number of rounds) is a parameter of this one mechanism.
 */
import type { Json, JsonObject, ReferenceSlot, SlotOutcome } from '../../types.ts';
import { roundsIndependentClaim, type Claim, type RoundsRow } from '../claims.ts';
import { withUsers, type PricingConfig } from '../config.ts';
import { createPricingFollower, decentralizedRounds, drawPricingUser, exactOptimum, fractionCurves, pricingUserAt, profitAt, runDecentralizedDirect, runPricingSlot, sweepOptimum, type PricingServer, type PricingUser } from '../pricing.ts';
import { leaderAndUes, type OffloadMechanism } from './mechanism.ts';

/** semi-distributed vs the exact P*: relative tolerance on price and profit */
export const SEMI_TOLERANCE = 1e-9;
/** decentralized vs the optimum: relative profit tolerance */
export const DECENTRALIZED_TOLERANCE = 1e-4;
export const PRICING_CLAIM_NS = [5, 50, 500];

export const pricingUsersAt = (cfg: PricingConfig, slot: number): PricingUser[] => cfg.users.map((u, i) => pricingUserAt(cfg.seed, i, u, slot));

export const pricing: OffloadMechanism<PricingConfig> = {
  id: 'pricing',
  summary: 'Stackelberg pricing of load migration: semi-distributed (2 rounds) or decentralized (fixed ~60 rounds)',

  agents: (cfg) => leaderAndUes({ id: 'mec-0', role: 'mec', index: 0 }, cfg),
  leaderId: () => 'mec-0',
  agentInit(cfg: PricingConfig, a): JsonObject {
    if (a.role !== 'ue') return { mechanism: 'pricing', variant: cfg.pricing, server: cfg.server };
    return { mechanism: 'pricing', seed: cfg.seed, index: a.index, F: cfg.server.F, user: cfg.users[a.index] };
  },
  createLeader(init) {
    const li = { variant: init.variant as PricingConfig['pricing'], server: init.server as unknown as PricingServer };
    return { runSlot: (ctx) => runPricingSlot(ctx, li) };
  },
  createFollower: (init) => createPricingFollower(init as never),
  createReference: (cfg: PricingConfig) => pricingReference(cfg),

  sweepKeys: 'N, F, kappa, Pmax',
  sweepKey(cfg, key, value, check) {
    if (key === 'F') return check(value > 0, 'positive'), { ...cfg, server: { ...cfg.server, F: value } };
    if (key === 'kappa') return check(value >= 0 && value < cfg.server.Pmax, `in [0, Pmax = ${cfg.server.Pmax})`), { ...cfg, server: { ...cfg.server, kappa: value } };
    if (key === 'Pmax') return check(value > cfg.server.kappa, `above kappa = ${cfg.server.kappa}`), { ...cfg, server: { ...cfg.server, Pmax: value } };
    return undefined;
  },

  describe(d, r) {
    const e = d.equilibrium as Record<string, never>;
    const ref = r.reference as Record<string, never>;
    if (!('price' in e)) return undefined;
    return `price ${(e.price as number).toPrecision(9)} (optimum ${(ref.price as number).toPrecision(9)})  profit ${(e.profit as number).toPrecision(9)} (optimum ${(ref.profit as number).toPrecision(9)})  rounds ${e.rounds}`;
  },
};

function pricingReference(cfg: PricingConfig) {
  const srv = cfg.server as PricingServer;
  const slots: JsonObject[] = [];
  return {
    slot(slot: number, distributed: SlotOutcome) {
      const users = pricingUsersAt(cfg, slot);
      const ref = exactOptimum(users, srv.F, srv.kappa);
      const eq = distributed.equilibrium as unknown as { price: number; profit: number; rounds: number };
      const priceGap = Math.abs(eq.price - ref.price) / Math.max(1e-300, Math.abs(ref.price));
      const profitGap = ref.profit > 0 ? (ref.profit - eq.profit) / ref.profit : Math.abs(eq.profit);
      let compare: ReferenceSlot['compare'];
      if (cfg.pricing === 'semi-distributed') {
        const ok = priceGap <= SEMI_TOLERANCE && Math.abs(profitGap) <= SEMI_TOLERANCE;
        compare = { ok, gap: Math.max(priceGap, Math.abs(profitGap)), against: 'the reference optimum P* (exact piecewise maximum)', note: ok ? undefined : `price ${eq.price} vs exact ${ref.price}` };
      } else {
        const ok = profitGap <= DECENTRALIZED_TOLERANCE;
        compare = { ok, gap: Math.max(0, profitGap), against: `the reference optimum P*'s profit to ${DECENTRALIZED_TOLERANCE} relative`, note: ok ? undefined : `stopped on a lower tooth: price ${eq.price} (profit ${eq.profit}) vs P* ${ref.price} (profit ${ref.profit}); Π has ${ref.localMaxima} local maxima` };
      }
      const semi = sweepOptimum(users, srv.F, srv.kappa);
      const dec = runDecentralizedDirect((P) => profitAt(users, srv.F, srv.kappa, P), srv);
      slots.push({ slot, N: users.length, price: eq.price, profit: eq.profit, rounds: eq.rounds, reference: ref.price, ok: compare.ok });
      return {
        reference: { price: ref.price, profit: ref.profit, lower: ref.lower, upper: ref.upper, localMaxima: ref.localMaxima, withinBounds: ref.price >= ref.lower - 1e-12 && ref.price <= ref.upper + 1e-12, curves: fractionCurves(users, srv.F, srv.Pmax) },
        baselines: {
          semiDistributed: { price: semi.price, profit: semi.profit, rounds: 2 },
          decentralized: { price: dec.best.price, profit: dec.best.profit, rounds: dec.evaluations + 1 },
        },
        compare,
      };
    },
    finish(): JsonObject {
      const out: JsonObject = { slots };
      if (!cfg.claims) return out;
      const rows: RoundsRow[] = PRICING_CLAIM_NS.map((N) => {
        const users = (withUsers(cfg, N) as PricingConfig).users;
        return { N, rounds: runDecentralizedDirect((P) => profitAt(users, srv.F, srv.kappa, P), srv).evaluations + 1, source: 'in-process' };
      });
      // a decentralized run adds its own round count, measured over the bus
      if (cfg.pricing === 'decentralized') for (const s of slots) rows.push({ N: Number(s.N), rounds: Number(s.rounds), source: `this run (slot ${s.slot})` });
      const claims: Claim[] = [roundsIndependentClaim(rows)];
      out.claimRuns = rows as unknown as JsonObject[];
      out.claims = claims as unknown as Json;
      out.decentralizedRoundsFormula = decentralizedRounds(srv.grid, srv.tol);
      out.decentralizedHitRate = decentralizedHitRate(cfg.seed, Math.min(cfg.users.length, 500), 100, srv) as unknown as JsonObject;
      return out;
    },
  };
}

/**
 * How often the decentralized search ends within DECENTRALIZED_TOLERANCE of the exact optimum, over `seeds`
 * populations of N users (seeds seed, seed+1, …), and the worst relative profit gap.
 */
export function decentralizedHitRate(seed: number, N: number, seeds: number, srv: PricingServer): { N: number; seeds: number; hits: number; rate: number; worstGap: number } {
  let hits = 0;
  let worst = 0;
  for (let k = 0; k < seeds; k++) {
    const users = Array.from({ length: N }, (_, i) => drawPricingUser(seed + k, i));
    const ref = exactOptimum(users, srv.F, srv.kappa);
    const dec = runDecentralizedDirect((P) => profitAt(users, srv.F, srv.kappa, P), srv);
    const gap = ref.profit > 0 ? (ref.profit - dec.best.profit) / ref.profit : 0;
    if (gap <= DECENTRALIZED_TOLERANCE) hits++;
    worst = Math.max(worst, gap);
  }
  return { N, seeds, hits, rate: hits / seeds, worstGap: worst };
}

