/**
 * `offload-energy/nash`: the offloading decision × transmit power game (model and protocol in ../nash.ts).
 * Leader `mec-0` grants one update per decision slot (or every request); followers `ue-i`; checked against
 * the ε-Nash condition, with ODPC (power fixed at p_max) as baseline.
 */
import type { Json, JsonObject, ReferenceSlot, SlotOutcome } from '../../types.ts';
import { nashClaims, type NashClaimRow } from '../claims.ts';
import { withUsers, type NashConfig } from '../config.ts';
import { createNashFollower, drawNashUser, maxDeviationGain, nashUserAt, profileMetrics, runNashSlot, simulateNash, type NashOptions, type NashServer, type NashUser } from '../nash.ts';
import { leaderAndUes, type OffloadMechanism } from './mechanism.ts';

/** N values of the in-process sweeps behind the claims */
export const NASH_CLAIM_NS = [5, 10, 20, 30, 40, 50];
/** populations per N behind the nash claims (the spec: "the run computes the comparison over converged seeds") */
export const NASH_CLAIM_SEEDS = 10;

const nashOptions = (cfg: NashConfig): NashOptions => ({ epsilon: cfg.epsilon, grant: cfg.grant, power: cfg.power, maxSlots: cfg.maxSlots });
export const nashUsersAt = (cfg: NashConfig, slot: number): NashUser[] => cfg.users.map((u, i) => nashUserAt(cfg.seed, i, u, slot));

export const nash: OffloadMechanism<NashConfig> = {
  id: 'nash',
  summary: 'offloading decision × transmit power game; one granted update per decision slot (or all); ODPC baseline',

  agents: (cfg) => leaderAndUes({ id: 'mec-0', role: 'mec', index: 0 }, cfg),
  leaderId: () => 'mec-0',
  agentInit(cfg: NashConfig, a): JsonObject {
    if (a.role !== 'ue') return { mechanism: 'nash', C: cfg.server.C, grant: cfg.grant, maxSlots: cfg.maxSlots };
    return { mechanism: 'nash', seed: cfg.seed, index: a.index, server: cfg.server, user: cfg.users[a.index], epsilon: cfg.epsilon, power: cfg.power };
  },
  createLeader(init) {
    const li = { C: Number(init.C), grant: init.grant as NashConfig['grant'], maxSlots: Number(init.maxSlots) };
    return { runSlot: (ctx) => runNashSlot(ctx, li) };
  },
  createFollower: (init) => createNashFollower(init as never),
  createReference: (cfg: NashConfig) => nashReference(cfg),

  sweepKeys: 'N, epsilon, C, W, F, fmax, pmax, omega',
  sweepKey(cfg, key, value, check) {
    if (key === 'epsilon') return check(value >= 0 && value < 1, 'in [0, 1)'), { ...cfg, epsilon: value };
    if (key === 'C') return check(Number.isInteger(value) && value >= 1, 'an integer ≥ 1'), { ...cfg, server: { ...cfg.server, C: value } };
    if (['W', 'F', 'fmax', 'pmax', 'omega'].includes(key)) {
      check(value > 0 && (key !== 'pmax' || value >= cfg.server.pmin), 'positive (pmax ≥ pmin)');
      return { ...cfg, server: { ...cfg.server, [key]: value } };
    }
    return undefined;
  },

  describe(d, r) {
    const e = d.equilibrium as Record<string, never>;
    const ref = r.reference as Record<string, never>;
    if (!('status' in e)) return undefined;
    const per = e.status === 'no-equilibrium' ? ` (cycle of period ${e.period})` : '';
    return `${e.status}${per} after ${e.decisionSlots} decision slots  offloading ${e.offloading}  cost ${(e.totalCost as number).toPrecision(6)}  max deviation gain ${(ref.maxGain as number).toExponential(2)}`;
  },
};

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

