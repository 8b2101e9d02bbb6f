/**
 * Scenario `offload-energy` — energy-efficient offloading (spec: shared/spec/offload-energy.md, seed 000).
 * Three mechanisms:
 * - `nash`: offloading decision × transmit power game, one granted update per decision slot (`grant: one|all`),
 *   ODPC (power fixed at p_max) as baseline — nash.ts. Leader `mec-0`, followers `ue-i`.
 * - `pricing`: Stackelberg pricing of load migration, `semi-distributed` or `decentralized` — pricing.ts.
 *   Leader `mec-0`, followers `ue-i`.
 * - `mobility`: result delivery along a ring road of M servers, predictor `pa` or `kalman` — mobility.ts.
 *   Leader `broker` (it chooses the server, as the spec's roles say); the servers are passive parameters.
 * claims.ts computes the paper's claims from run numbers; config.ts resolves and validates the configuration.
 *
 * One orchestrator slot is one whole game / pricing / drive: slot 0 uses the configured parameters; later slots
 * draw new tasks (nash: s_i; pricing: C_i) or new noise and task arrivals (mobility) from the seed.
 */
import { type CompleteScenario, ConfigError, type AgentSpec, type Json, type JsonObject, type ReferenceSlot, type Scenario, type SlotOutcome } from '../types.ts';
import { mobilityClaims, nashClaims, roundsIndependentClaim, type Claim, type MobilityClaimRow, type NashClaimRow, type RoundsRow } from './claims.ts';
import { configSchemaOf, resolveConfig, withUsers, type MobilityConfig, type NashConfig, type OffloadConfig, type PricingConfig } from './config.ts';
import { createMobilityFollower, runMobilitySlot, simulateMobility, type MobilityWorld, type Predictor } from './mobility.ts';
import { createNashFollower, drawNashUser, maxDeviationGain, nashUserAt, profileMetrics, runNashSlot, simulateNash, type NashOptions, type NashServer, type NashUser } from './nash.ts';
import { createPricingFollower, decentralizedRounds, drawPricingUser, exactOptimum, fractionCurves, pricingUserAt, profitAt, runDecentralizedDirect, runPricingSlot, sweepOptimum, type PricingServer, type PricingUser } from './pricing.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export type { MobilityConfig, NashConfig, OffloadConfig, PricingConfig } from './config.ts';

/** semi-distributed vs the exact P*: relative tolerance on price and profit */
export const SEMI_TOLERANCE = 1e-9;
/** decentralized vs the optimum: relative profit tolerance */
export const DECENTRALIZED_TOLERANCE = 1e-4;
/** N values of the in-process sweeps behind the claims */
export const NASH_CLAIM_NS = [5, 10, 20, 30, 40, 50];
/** populations per N behind the nash claims (the spec: "the run computes the comparison over converged seeds") */
export const NASH_CLAIM_SEEDS = 10;
export const PRICING_CLAIM_NS = [5, 50, 500];
export const MOBILITY_CLAIM_MS = [5, 10, 20, 40];
export const MOBILITY_CLAIM_REPLICATES = 5;

const nashOptions = (cfg: NashConfig): NashOptions => ({ epsilon: cfg.epsilon, grant: cfg.grant, power: cfg.power, maxSlots: cfg.maxSlots });
export const nashUsersAt = (cfg: NashConfig, slot: number): NashUser[] => cfg.users.map((u, i) => nashUserAt(cfg.seed, i, u, slot));
export const pricingUsersAt = (cfg: PricingConfig, slot: number): PricingUser[] => cfg.users.map((u, i) => pricingUserAt(cfg.seed, i, u, slot));

export const offloadEnergy: CompleteScenario<OffloadConfig> = {
  id: 'offload-energy',
  title: 'energy-efficient offloading: offloading × power Nash game, decentralized vs semi-distributed pricing, mobility',
  spec: 'shared/spec/offload-energy.md',
  bench,
  figures,
  units,
  roles: ['broker', 'mec', 'ue'],
  mechanisms: [
    { id: 'nash', summary: 'offloading decision × transmit power game; one granted update per decision slot (or all); ODPC baseline' },
    { id: 'pricing', summary: 'Stackelberg pricing of load migration: semi-distributed (2 rounds) or decentralized (fixed ~60 rounds)' },
    { id: 'mobility', summary: 'result delivery along a ring road of servers: nearest server (pa) or Kalman prediction (kalman)' },
  ],
  defaultMechanism: 'nash',
  defaultUsers: 20,
  defaultSlots: 1,
  options: [
    { name: 'grant', arg: '<one|all>', description: 'nash: grant one update per decision slot (default) or every request' },
    { name: 'power', arg: '<joint|fixed>', description: 'nash: joint power control (MQO, default) or p fixed at p_max (ODPC)' },
    { name: 'epsilon', arg: '<ε>', description: 'nash: relative improvement a user needs to request an update (default 0.01)' },
    { name: 'channels', arg: '<C>', description: 'nash: number of channels (default 3)' },
    { name: 'maxslots', arg: '<n>', description: 'nash: cap on decision slots (default 5000, 500 with --grant all)' },
    { name: 'pricing', arg: '<semi-distributed|decentralized>', description: 'pricing: the mechanism (default semi-distributed)' },
    { name: 'pricemax', arg: '<P>', description: 'pricing: top of the decentralized price range P_max (default 3)' },
    { name: 'predictor', arg: '<pa|kalman>', description: 'mobility: server choice (default kalman)' },
    { name: 'servers', arg: '<M>', description: 'mobility: number of servers on the road (default 10)' },
    { name: 'claims', arg: '<true|false>', description: "compute the paper's claims by small in-process sweeps at the end (default true)" },
  ],

  configSchema: configSchemaOf,
  resolve: (input) => resolveConfig(input),

  agents(cfg) {
    const leader: AgentSpec = cfg.mechanism === 'mobility' ? { id: 'broker', role: 'broker', index: 0 } : { id: 'mec-0', role: 'mec', index: 0 };
    return [leader, ...cfg.users.map((_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))];
  },
  leaderId: (cfg) => (cfg.mechanism === 'mobility' ? 'broker' : 'mec-0'),

  agentInit(cfg, a): JsonObject {
    const leader = a.role !== 'ue';
    if (cfg.mechanism === 'nash') {
      if (leader) return { mechanism: 'nash', C: cfg.server.C, grant: cfg.grant, maxSlots: cfg.maxSlots };
      return { mechanism: 'nash', seed: cfg.seed, index: a.index, server: cfg.server, user: cfg.users[a.index], epsilon: cfg.epsilon, power: cfg.power };
    }
    if (cfg.mechanism === 'pricing') {
      if (leader) return { mechanism: 'pricing', variant: cfg.pricing, server: cfg.server };
      return { mechanism: 'pricing', seed: cfg.seed, index: a.index, F: cfg.server.F, user: cfg.users[a.index] };
    }
    if (leader) return { mechanism: 'mobility', predictor: cfg.predictor, world: cfg.world };
    return { mechanism: 'mobility', seed: cfg.seed, index: a.index, user: cfg.users[a.index], world: cfg.world };
  },

  createLeader(init) {
    if (init.mechanism === 'nash') {
      const li = { C: Number(init.C), grant: init.grant as NashConfig['grant'], maxSlots: Number(init.maxSlots) };
      return { runSlot: (ctx) => runNashSlot(ctx, li) };
    }
    if (init.mechanism === 'pricing') {
      const li = { variant: init.variant as PricingConfig['pricing'], server: init.server as unknown as PricingServer };
      return { runSlot: (ctx) => runPricingSlot(ctx, li) };
    }
    if (init.mechanism === 'mobility') {
      const li = { predictor: init.predictor as Predictor, world: init.world as unknown as MobilityWorld };
      return { runSlot: (ctx) => runMobilitySlot(ctx, li) };
    }
    throw new ConfigError('mechanism', `unknown mechanism ${JSON.stringify(init.mechanism)}`);
  },

  createFollower(init) {
    if (init.mechanism === 'nash') return createNashFollower(init as never);
    if (init.mechanism === 'pricing') return createPricingFollower(init as never);
    if (init.mechanism === 'mobility') return createMobilityFollower(init as never);
    throw new ConfigError('mechanism', `unknown mechanism ${JSON.stringify(init.mechanism)}`);
  },

  createReference(cfg) {
    if (cfg.mechanism === 'nash') return nashReference(cfg);
    if (cfg.mechanism === 'pricing') return pricingReference(cfg);
    return mobilityReference(cfg);
  },

  sweep(cfg, key, value) {
    if (key === 'N' || key === 'users') return withUsers(cfg, value);
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new ConfigError('--sweep', `${key} must be ${what}, not ${value}`);
    };
    if (cfg.mechanism === 'nash') {
      if (key === 'epsilon') return check(value >= 0 && value < 1, 'in [0, 1)'), { ...cfg, epsilon: value };
      if (key === 'C') return check(Number.isInteger(value) && value >= 1, 'an integer ≥ 1'), { ...cfg, server: { ...cfg.server, C: value } };
      if (['W', 'F', 'fmax', 'pmax', 'omega'].includes(key)) {
        check(value > 0 && (key !== 'pmax' || value >= cfg.server.pmin), 'positive (pmax ≥ pmin)');
        return { ...cfg, server: { ...cfg.server, [key]: value } };
      }
    } else if (cfg.mechanism === 'pricing') {
      if (key === 'F') return check(value > 0, 'positive'), { ...cfg, server: { ...cfg.server, F: value } };
      if (key === 'kappa') return check(value >= 0 && value < cfg.server.Pmax, `in [0, Pmax = ${cfg.server.Pmax})`), { ...cfg, server: { ...cfg.server, kappa: value } };
      if (key === 'Pmax') return check(value > cfg.server.kappa, `above kappa = ${cfg.server.kappa}`), { ...cfg, server: { ...cfg.server, Pmax: value } };
    } else {
      if (key === 'M') return check(Number.isInteger(value) && value >= 1, 'an integer ≥ 1'), { ...cfg, world: { ...cfg.world, M: value } };
      if (['lambda', 'R', 'q'].includes(key)) return check(value > 0, 'positive'), { ...cfg, world: { ...cfg.world, [key]: value } };
      if (key === 'sigma') return check(value >= 0, '≥ 0'), { ...cfg, world: { ...cfg.world, sigma: value } };
    }
    const keys = { nash: 'N, epsilon, C, W, F, fmax, pmax, omega', pricing: 'N, F, kappa, Pmax', mobility: 'N, M, lambda, R, q, sigma' }[cfg.mechanism];
    throw new ConfigError('--sweep', `offload-energy/${cfg.mechanism} sweeps ${keys}, not "${key}"`);
  },

  describeSlot(d, r) {
    const e = d.equilibrium as Record<string, never>;
    const ref = r.reference as Record<string, never>;
    if ('status' in e) {
      const per = e.status === 'no-equilibrium' ? ` (cycle of period ${e.period})` : '';
      return `${e.status}${per} after ${e.decisionSlots} decision slots  offloading ${e.offloading}  cost ${(e.totalCost as number).toPrecision(6)}  max deviation gain ${(ref.maxGain as number).toExponential(2)}`;
    }
    if ('price' in e) return `price ${(e.price as number).toPrecision(9)} (optimum ${(ref.price as number).toPrecision(9)})  profit ${(e.profit as number).toPrecision(9)} (optimum ${(ref.profit as number).toPrecision(9)})  rounds ${e.rounds}`;
    return `success ${e.successes}/${e.tasks} = ${((e.successRate as number) * 100).toFixed(1)} %  (reference ${ref.successes}/${ref.tasks})`;
  },
};

// ---------------------------------------------------------------------------------------------------------
// Reference sides

interface NashEq {
  status: 'equilibrium' | 'no-equilibrium' | 'cap';
  period: number | null;
  decisionSlots: number;
  offloading: number;
  totalCost: number;
  decisions: number[];
  powers: number[];
}

/**
 * What an equilibrium slot of `nash` is checked against: the ε-Nash condition (no user lowers its cost
 * by more than ε alone), which an equilibrium meets whatever its total cost — not a cost minimum.
 */
function nashAgainst(cfg: NashConfig): string {
  return `the ε-Nash condition checked centrally (ε = ${cfg.epsilon}${cfg.power === 'fixed' ? ', p fixed at p_max (ODPC)' : ''}; an equilibrium, not a minimum of total cost)`;
}

function nashReference(cfg: NashConfig) {
  const opt = nashOptions(cfg);
  const runs: JsonObject[] = [];
  return {
    slot(slot: number, distributed: SlotOutcome) {
      const users = nashUsersAt(cfg, slot);
      const srv = cfg.server as NashServer;
      const eq = distributed.equilibrium as unknown as NashEq;
      const sim = simulateNash(users, srv, opt);
      const odpc = simulateNash(users, srv, { ...opt, power: 'fixed', grant: 'one', maxSlots: Math.max(opt.maxSlots, 5000) });
      const prof = { o: eq.decisions, p: eq.powers };
      const dev = maxDeviationGain(users, srv, prof, cfg.power);
      const recomputed = profileMetrics(users, srv, prof);
      const costGap = Math.abs(recomputed.totalCost - eq.totalCost) / Math.max(1e-300, Math.abs(recomputed.totalCost));
      let compare: ReferenceSlot['compare'];
      if (eq.status === 'equilibrium') {
        const ok = dev.gain <= cfg.epsilon * (1 + 1e-6) + 1e-12 && costGap <= 1e-9;
        compare = { ok, gap: Math.max(0, dev.gain), against: nashAgainst(cfg), note: ok ? `ε-equilibrium: no user gains more than ${dev.gain.toExponential(2)} alone` : `user ue-${dev.user} gains ${dev.gain.toExponential(3)} > ε = ${cfg.epsilon} alone (cost gap ${costGap.toExponential(2)})` };
      } else {
        // the same reported cycle: same status, same period, detected after the same number of decision slots
        const ok = sim.status === eq.status && sim.period === eq.period && sim.decisionSlots === eq.decisionSlots;
        compare = { ok, gap: Math.max(0, dev.gain), against: 'the same game simulated centrally (same status, cycle period and decision slot)', note: `distributed ${eq.status}${eq.period ? ` (period ${eq.period})` : ''} after ${eq.decisionSlots} slots; reference ${sim.status}${sim.period ? ` (period ${sim.period})` : ''} after ${sim.decisionSlots}` };
      }
      const summary = (s: typeof sim) => ({ status: s.status, period: s.period, decisionSlots: s.decisionSlots, offloading: s.metrics.offloading, totalCost: s.metrics.totalCost, totalEnergy: s.metrics.totalEnergy, totalDelay: s.metrics.totalDelay, meanEfficiency: s.metrics.meanEfficiency });
      runs.push({ slot, N: users.length, mqo: { status: eq.status, totalCost: eq.totalCost, offloading: eq.offloading }, odpc: summary(odpc) });
      return {
        reference: { ...summary(sim), maxGain: dev.gain, maxGainUser: dev.user >= 0 ? `ue-${dev.user}` : null, profileCost: recomputed.totalCost },
        baselines: { odpc: summary(odpc) },
        compare,
      };
    },
    finish(): JsonObject {
      const out: JsonObject = { runs };
      if (!cfg.claims) return out;
      const rows = nashClaimRows(cfg, NASH_CLAIM_NS, NASH_CLAIM_SEEDS);
      out.claimRuns = rows as unknown as JsonObject[];
      out.claims = nashClaims(rows) as unknown as Json;
      return out;
    },
  };
}

/**
 * MQO (the configured game) and ODPC for each N and each of `seeds` populations: seed `cfg.seed` uses the first N
 * users of the configuration (slot 0), seeds cfg.seed + 1 … draw N fresh users from their own seed (same server).
 */
export function nashClaimRows(cfg: NashConfig, Ns: number[], seeds = 1): NashClaimRow[] {
  const opt = nashOptions(cfg);
  const pairs = Array.from({ length: seeds }, (_, k) => cfg.seed + k).flatMap((seed) => Ns.map((N) => ({ seed, N })));
  return pairs.map(({ seed, N }) => {
    const users = seed === cfg.seed ? (withUsers(cfg, N) as NashConfig).users : Array.from({ length: N }, (_, i) => drawNashUser(seed, i));
    const c = { users, server: cfg.server };
    const mqo = simulateNash(c.users, c.server, { ...opt, power: 'joint' });
    const odpc = simulateNash(c.users, c.server, { ...opt, power: 'fixed', grant: 'one', maxSlots: Math.max(opt.maxSlots, 5000) });
    return {
      N,
      seed,
      mqoConverged: mqo.status === 'equilibrium',
      odpcConverged: odpc.status === 'equilibrium',
      mqoCost: mqo.metrics.totalCost,
      odpcCost: odpc.metrics.totalCost,
      mqoOffloading: mqo.metrics.offloading,
      odpcOffloading: odpc.metrics.offloading,
    };
  });
}

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

function mobilityReference(cfg: MobilityConfig) {
  const other: Predictor = cfg.predictor === 'pa' ? 'kalman' : 'pa';
  return {
    slot(slot: number, distributed: SlotOutcome) {
      const ref = simulateMobility(cfg.seed, slot, cfg.users, cfg.world, cfg.predictor);
      const eq = distributed.equilibrium as unknown as { tasks: number; successes: number; successRate: number };
      const ok = eq.tasks === ref.tasks && eq.successes === ref.successes;
      const alt = simulateMobility(cfg.seed, slot, cfg.users, cfg.world, other);
      return {
        reference: ref as unknown as JsonObject,
        baselines: { [other]: { tasks: alt.tasks, successes: alt.successes, successRate: alt.successRate, byOrder: alt.byOrder } },
        // pa and kalman are server-choice rules; no optimal choice is computed
        compare: { ok, gap: Math.abs(eq.successRate - ref.successRate), against: `the ${cfg.predictor} predictor simulated centrally (same drives and tasks)`, note: ok ? undefined : `distributed ${eq.successes}/${eq.tasks}, reference ${ref.successes}/${ref.tasks}` },
      };
    },
    finish(): JsonObject {
      if (!cfg.claims) return {};
      const rows = mobilityClaimRows(cfg, MOBILITY_CLAIM_MS, MOBILITY_CLAIM_REPLICATES);
      return { claimRuns: rows as unknown as JsonObject[], claims: mobilityClaims(rows) as unknown as Json };
    },
  };
}

/** both predictors at each M, `replicates` noise/task realizations (slots 0..replicates−1) each */
export function mobilityClaimRows(cfg: MobilityConfig, Ms: number[], replicates: number): MobilityClaimRow[] {
  const rows: MobilityClaimRow[] = [];
  for (const M of Ms) {
    for (const predictor of ['pa', 'kalman'] as const) {
      let tasks = 0;
      let successes = 0;
      const byTasks: number[] = [];
      const bySucc: number[] = [];
      for (let s = 0; s < replicates; s++) {
        const st = simulateMobility(cfg.seed, s, cfg.users, { ...cfg.world, M }, predictor);
        tasks += st.tasks;
        successes += st.successes;
        st.byOrder.tasks.forEach((n, k) => {
          byTasks[k] = (byTasks[k] ?? 0) + n;
          bySucc[k] = (bySucc[k] ?? 0) + st.byOrder.successes[k];
        });
      }
      // success rate by task order (a user's k-th task), pooled over the replicates: later tasks find faster users
      rows.push({ M, predictor, tasks, successes, successRate: tasks ? successes / tasks : 0, rateByOrder: byTasks.map((n, k) => bySucc[k] / n) });
    }
  }
  return rows;
}
