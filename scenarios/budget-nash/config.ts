/**
 * budget-nash configuration: every parameter explicit (what `mecsim params` prints and `--config`
 * reads back). f_j and η_i are drawn once from the seed by index; the per-slot draws (λ_i, δ_i, a_i,
 * r_i,max, m_ij, e_ijm) come from (seed, 'ue', i, 'slot', τ) and are not listed.
 */
import { ConfigError, type JsonObject, type RunInput } from '../types.ts';
import type { BrKind } from './br.ts';
import { drawEta, drawServerF } from './model.ts';
import type { Order } from './protocol.ts';
import { configSchema, Count, COUNT, Int, intAtLeast, isCount, ListOf, mechanismWithAlias, Num, OneOf, oneOf, param, positive, seedParam, slotsParam } from '../common/schema.ts';

export interface BudgetNashConfig extends JsonObject {
  scenario: 'budget-nash';
  mechanism: Order;
  br: BrKind;
  seed: number;
  slots: number;
  /** UEs */
  N: number;
  /** MEC servers */
  M: number;
  /** Lyapunov weight */
  V: number;
  /** energy budget per slot, J */
  cbar: number;
  /** chip constant */
  b: number;
  /** eligibility threshold on α_ij */
  alpha: number;
  /** FL precision */
  psi: number;
  /** FL multiplier step, in (0, 1), scaled by the slope bound */
  gamma: number;
  /** NE stop: ‖BR − Λ‖₂ ≤ ε */
  epsilon: number;
  /** NE: at most Φ rounds */
  Phi: number;
  /** simultaneous damping */
  kappa: number;
  /** half-width of the plane, m */
  area: number;
  /** server spacing per axis, m */
  spacing: number;
  /** CPU frequency per server, cycles/s (length M) */
  f: number[];
  /** speed per UE along the diagonal, m/s (length N) */
  eta: number[];
}

export const ORDERS: Order[] = ['sequential', 'simultaneous'];
export const BRS: BrKind[] = ['fl', 'exact'];
export const DEFAULTS = { N: 10, M: 50, slots: 1000, V: 2000, cbar: 20000, b: 5e-17, alpha: 0.5, psi: 0.1, gamma: 0.5, epsilon: 1e-2, Phi: 200, kappa: 0.5, area: 50, spacing: 2, br: 'fl' as BrKind, mechanism: 'sequential' as Order };

/** The config file's shape (types and keys; the ranges are checked by resolveConfig). */
export const CONFIG_SCHEMA = configSchema('budget-nash', ORDERS, {
  br: OneOf(BRS),
  N: Count('the number of UEs'),
  M: Count('the number of MEC servers'),
  V: Num('a positive weight'),
  cbar: Num('a positive energy budget in J per slot'),
  b: Num('a positive chip constant'),
  alpha: Num('a number in [0, 1]'),
  psi: Num('a number in (0, 3)'),
  gamma: Num('a number in (0, 1)'),
  epsilon: Num('a positive tolerance'),
  Phi: Int('an integer ≥ 1'),
  kappa: Num('a number in (0, 1]'),
  area: Num('a positive half-width in m'),
  spacing: Num('a positive server spacing in m'),
  f: ListOf(Num('a positive CPU frequency in cycles/s'), 'a list of CPU frequencies (cycles/s), one per server'),
  eta: ListOf(Num('a speed ≥ 0 in m/s'), 'a list of speeds (m/s), one per UE'),
});

function pick(input: RunInput, key: string, flag: string): { v: unknown; key: string } {
  const o = input.options[flag];
  if (o !== undefined) return { v: o, key: flag };
  const c = input.config?.[key];
  return { v: c, key };
}

export function resolveConfig(input: RunInput): BudgetNashConfig {
  const c = input.config ?? {};
  // update order: --mechanism (or its alias --order) over the config's mechanism
  const mechanism = mechanismWithAlias(input, ORDERS, { flag: 'order' }, DEFAULTS.mechanism);
  const br = oneOf('br', input.options.br ?? c.br, BRS) ?? DEFAULTS.br;

  const slots = slotsParam(input.slots);
  const seed = seedParam(input.seed);

  const scalar = (key: string, flag: string, dflt: number, ok: (v: number) => boolean, what: string) => {
    const p = pick(input, key, flag);
    return p.v === undefined || p.v === null ? dflt : param(p.key, p.v, ok, what);
  };

  // N: --users, else the config's N, else the length of its eta list
  const etaGiven = c.eta;
  if (etaGiven !== undefined && !Array.isArray(etaGiven)) throw new ConfigError('eta', 'must be a list of speeds (m/s), one per UE');
  let N = input.users !== undefined ? param('--users', input.users, isCount, COUNT) : c.N !== undefined ? param('N', c.N, isCount, COUNT) : Array.isArray(etaGiven) ? etaGiven.length : DEFAULTS.N;
  if (Array.isArray(etaGiven) && etaGiven.length !== N) throw new ConfigError(input.users !== undefined ? '--users' : 'eta', `${N} UEs but the config lists ${etaGiven.length} speeds`);
  N = N | 0;
  const fGiven = c.f;
  if (fGiven !== undefined && !Array.isArray(fGiven)) throw new ConfigError('f', 'must be a list of CPU frequencies (cycles/s), one per server');
  const mp = pick(input, 'M', 'mecs');
  const M = mp.v !== undefined ? param(mp.key, mp.v, isCount, COUNT) : Array.isArray(fGiven) ? fGiven.length : DEFAULTS.M;
  if (Array.isArray(fGiven) && fGiven.length !== M) throw new ConfigError(mp.key === 'mecs' ? 'mecs' : 'f', `${M} servers but the config lists ${fGiven.length} frequencies`);

  const V = scalar('V', 'v', DEFAULTS.V, positive, 'a positive weight');
  const cbar = scalar('cbar', 'cbar', DEFAULTS.cbar, positive, 'a positive energy budget in J per slot');
  const b = scalar('b', 'b', DEFAULTS.b, positive, 'a positive chip constant');
  const alpha = scalar('alpha', 'alpha', DEFAULTS.alpha, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const psi = scalar('psi', 'psi', DEFAULTS.psi, (v) => v > 0 && v < 3, 'in (0, 3) tasks (below the smallest λ_i = 3.1)');
  const gamma = scalar('gamma', 'gamma', DEFAULTS.gamma, (v) => v > 0 && v < 1, 'in (0, 1)');
  const epsilon = scalar('epsilon', 'epsilon', DEFAULTS.epsilon, positive, 'a positive tolerance');
  const Phi = scalar('Phi', 'phi', DEFAULTS.Phi, intAtLeast(1), 'an integer ≥ 1');
  const kappa = scalar('kappa', 'kappa', DEFAULTS.kappa, (v) => v > 0 && v <= 1, 'in (0, 1]');
  const area = scalar('area', 'area', DEFAULTS.area, positive, 'a positive half-width in m');
  const spacing = scalar('spacing', 'spacing', DEFAULTS.spacing, positive, 'a positive server spacing in m');

  const f = Array.from({ length: M }, (_, j) => (Array.isArray(fGiven) ? param(`f[${j}]`, fGiven[j], positive, 'a positive CPU frequency in cycles/s') : drawServerF(seed, j)));
  const eta = Array.from({ length: N }, (_, i) => (Array.isArray(etaGiven) ? param(`eta[${i}]`, etaGiven[i], (v) => v >= 0, 'a speed ≥ 0 in m/s') : drawEta(seed, i)));

  return { scenario: 'budget-nash', mechanism, br, seed, slots, N, M, V, cbar, b, alpha, psi, gamma, epsilon, Phi, kappa, area, spacing, f, eta };
}
