/**
 * Scenario `budget-nash` — budget-constrained service allocation: a Lyapunov virtual queue Z kept by
 * the MSP (`broker`) and, every slot, an N-player Nash game among moving UEs (`ue-i`) that split
 * their tasks over the eligible MEC servers (`mec-j`, which publish their loads and execution costs
 * at each slot's end). Model: docs/scenarios/budget-nash.md.
 *
 * Read in this order: model.ts (parameters, movement, eligibility, ξ_i and eq. 26, reported costs,
 * the queue) → br.ts (best responses: `fl` sub-gradient, `exact` water-filling) → protocol.ts (the
 * broker's rounds, the UE and MEC handlers) → reference.ts (the same game centrally, the deviation
 * check, the baselines) → config.ts (parameters and validation).
 */
import type { CompleteScenario, AgentSpec, JsonObject, Scenario } from '../types.ts';
import { resolveConfig, CONFIG_SCHEMA, DEFAULTS, type BudgetNashConfig } from './config.ts';
import { serverCoord } from './model.ts';
import { createBroker, createMec, createUe, type BrokerInit, type MecInit, type UeInit } from './protocol.ts';
import { commonOf, createBudgetNashReference } from './reference.ts';
import { PAPER } from './paper.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export type { BudgetNashConfig } from './config.ts';
export const defaultSlots = DEFAULTS.slots;

export const budgetNash: CompleteScenario<BudgetNashConfig> = {
  id: 'budget-nash',
  title: 'budget-constrained service allocation: Lyapunov budget queue and an N-player Nash game among moving UEs',
  spec: 'docs/scenarios/budget-nash.md',
  paper: PAPER,
  bench,
  figures,
  units,
  roles: ['broker', 'mec', 'ue'],
  mechanisms: [
    { id: 'sequential', summary: "the paper's NE rounds: one UE at a time in index order, each seeing the loads updated by the previous ones (N request/replies per round)" },
    { id: 'simultaneous', summary: 'all UEs answer one load broadcast per round, damped λ ← (1−κ)λ + κ·BR after an undamped first round' },
  ],
  defaultMechanism: DEFAULTS.mechanism,
  defaultUsers: DEFAULTS.N,
  defaultSlots: DEFAULTS.slots,
  options: [
    { name: 'mecs', arg: '<M>', description: 'number of MEC servers M', default: DEFAULTS.M },
    { name: 'br', arg: '<fl|exact>', description: "best response: the paper's FL sub-gradient or exact water-filling", default: DEFAULTS.br },
    { name: 'order', arg: '<sequential|simultaneous>', description: 'alias of --mechanism' },
    { name: 'cbar', arg: '<J>', description: 'energy budget C̄ per slot', default: DEFAULTS.cbar },
    { name: 'v', arg: '<V>', description: 'Lyapunov weight V', default: DEFAULTS.V },
    { name: 'epsilon', arg: '<ε>', description: 'NE stop: ‖BR − Λ‖₂ ≤ ε', default: DEFAULTS.epsilon },
    { name: 'phi', arg: '<Φ>', description: 'NE: at most Φ game rounds', default: DEFAULTS.Phi },
    { name: 'psi', arg: '<ψ>', description: 'FL precision (tasks)', default: DEFAULTS.psi },
    { name: 'gamma', arg: '<γ>', description: 'FL multiplier step in (0,1), scaled by the slope bound', default: DEFAULTS.gamma },
    { name: 'kappa', arg: '<κ>', description: 'simultaneous damping', default: DEFAULTS.kappa },
    { name: 'alpha', arg: '<α>', description: 'eligibility threshold on the rate decay (0.5 → 10 m range)', default: DEFAULTS.alpha },
  ],

  configSchema: () => CONFIG_SCHEMA,
  resolve: resolveConfig,

  agents: (cfg) => [
    { id: 'broker', role: 'broker', index: 0 },
    ...cfg.f.map((_, j): AgentSpec => ({ id: `mec-${j}`, role: 'mec', index: j })),
    ...cfg.eta.map((_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i })),
  ],
  leaderId: () => 'broker',
  agentInit(cfg, a): JsonObject {
    if (a.role === 'broker') {
      const init: BrokerInit = { order: cfg.mechanism, M: cfg.M, N: cfg.N, cbar: cfg.cbar, epsilon: cfg.epsilon, Phi: cfg.Phi, kappa: cfg.kappa };
      return init;
    }
    if (a.role === 'mec') {
      const x = serverCoord(a.index, cfg);
      const init: MecInit = { index: a.index, f: cfg.f[a.index], b: cfg.b, pos: [x, x] };
      return init;
    }
    const init: UeInit = { seed: cfg.seed, index: a.index, eta: cfg.eta[a.index], common: commonOf(cfg) as UeInit['common'], br: cfg.br, psi: cfg.psi, gamma: cfg.gamma };
    return init;
  },
  createLeader: (init, resume) => createBroker(init as BrokerInit, resume),
  createFollower: (init, ctx, resume) => (ctx.role === 'mec' ? createMec(init as MecInit, ctx) : createUe(init as UeInit, ctx, resume)),
  createReference: (cfg) => createBudgetNashReference(cfg),

  describeSlot(d, r) {
    const e = d.equilibrium as Record<string, number>;
    const x = (d.extra ?? {}) as Record<string, number | string>;
    const ref = r.reference as Record<string, number>;
    return `Z ${e.Z.toPrecision(6)}  C ${e.C.toPrecision(6)} J (ref ${ref.C.toPrecision(6)})  latency ${e.latency.toPrecision(4)} s  rounds ${x.gameRounds} (ref ${ref.gameRounds}, ${x.stop})  loops ${x.loops}  dev ${Number(ref.deviationMax).toExponential(1)}`;
  },
};
