/**
 * `offload-energy/mobility`: result delivery along a ring road of M servers (model and protocol in
 * ../mobility.ts). Its leader is the `broker` (it chooses the server, as the spec's roles say); the servers
 * are passive parameters; followers `ue-i`. The predictor (`pa` or `kalman`) is a parameter.
 */
import type { Json, JsonObject, SlotOutcome } from '../../types.ts';
import { mobilityClaims, type MobilityClaimRow } from '../claims.ts';
import type { MobilityConfig } from '../config.ts';
import { createMobilityFollower, runMobilitySlot, simulateMobility, type MobilityWorld, type Predictor } from '../mobility.ts';
import { leaderAndUes, type OffloadMechanism } from './mechanism.ts';

export const MOBILITY_CLAIM_MS = [5, 10, 20, 40];
export const MOBILITY_CLAIM_REPLICATES = 5;

export const mobility: OffloadMechanism<MobilityConfig> = {
  id: 'mobility',
  summary: 'result delivery along a ring road of servers: nearest server (pa) or Kalman prediction (kalman)',

  agents: (cfg) => leaderAndUes({ id: 'broker', role: 'broker', index: 0 }, cfg),
  leaderId: () => 'broker',
  agentInit(cfg: MobilityConfig, a): JsonObject {
    if (a.role !== 'ue') return { mechanism: 'mobility', predictor: cfg.predictor, world: cfg.world };
    return { mechanism: 'mobility', seed: cfg.seed, index: a.index, user: cfg.users[a.index], world: cfg.world };
  },
  createLeader(init) {
    const li = { predictor: init.predictor as Predictor, world: init.world as unknown as MobilityWorld };
    return { runSlot: (ctx) => runMobilitySlot(ctx, li) };
  },
  createFollower: (init) => createMobilityFollower(init as never),
  createReference: (cfg: MobilityConfig) => mobilityReference(cfg),

  sweepKeys: 'N, M, lambda, R, q, sigma',
  sweepKey(cfg, key, value, check) {
    if (key === 'M') return check(Number.isInteger(value) && value >= 1, 'an integer ≥ 1'), { ...cfg, world: { ...cfg.world, M: value } };
    if (['lambda', 'R', 'q'].includes(key)) return check(value > 0, 'positive'), { ...cfg, world: { ...cfg.world, [key]: value } };
    if (key === 'sigma') return check(value >= 0, '≥ 0'), { ...cfg, world: { ...cfg.world, sigma: value } };
    return undefined;
  },

  describe(d, r) {
    const e = d.equilibrium as Record<string, never>;
    const ref = r.reference as Record<string, never>;
    if (!('successRate' in e)) return undefined;
    return `success ${e.successes}/${e.tasks} = ${((e.successRate as number) * 100).toFixed(1)} %  (reference ${ref.successes}/${ref.tasks})`;
  },
};

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
