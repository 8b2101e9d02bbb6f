/**
 * Scenario `offload-energy` — energy-efficient offloading (model: docs/scenarios/offload-energy.md).
 * Three mechanisms, each a `Mechanism` with its own leader, followers and reference (mechanisms/):
 * - `nash`: offloading decision × transmit power game, one granted update per decision slot (`grant: one|all`),
 *   ODPC (power fixed at p_max) as baseline. Leader `mec-0`, followers `ue-i`.
 * - `pricing`: Stackelberg pricing of load migration, `semi-distributed` or `decentralized`. Leader `mec-0`,
 *   followers `ue-i`.
 * - `mobility`: result delivery along a ring road of M servers, predictor `pa` or `kalman`. Leader `broker`.
 * The models are nash.ts, pricing.ts and mobility.ts; claims.ts computes the paper's claims from run numbers;
 * config.ts resolves and validates the configuration.
 *
 * One orchestrator slot is one whole game / pricing / drive: slot 0 uses the configured parameters; later slots
 * draw new tasks (nash: s_i; pricing: C_i) or new noise and task arrivals (mobility) from the seed.
 */
import { ConfigError, type Scenario } from '../types.ts';
import { configSchemaOf, resolveConfig, withUsers, type Mechanism as MechanismId, type OffloadConfig } from './config.ts';
import { mobility } from './mechanisms/mobility.ts';
import { nash } from './mechanisms/nash.ts';
import { pricing } from './mechanisms/pricing.ts';
import { sweepCheck, type OffloadMechanism } from './mechanisms/mechanism.ts';
import { PAPER } from './paper.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export type { MobilityConfig, NashConfig, OffloadConfig, PricingConfig } from './config.ts';
export { NASH_CLAIM_NS, NASH_CLAIM_SEEDS, nashClaimRows, nashUsersAt } from './mechanisms/nash.ts';
export { DECENTRALIZED_TOLERANCE, decentralizedHitRate, PRICING_CLAIM_NS, pricingUsersAt, SEMI_TOLERANCE } from './mechanisms/pricing.ts';
export { MOBILITY_CLAIM_MS, MOBILITY_CLAIM_REPLICATES, mobilityClaimRows } from './mechanisms/mobility.ts';

/** The mechanisms by id: the scenario reaches a mechanism's own sweep and console line through this table. */
const MECHANISMS: { [M in MechanismId]: OffloadMechanism<Extract<OffloadConfig, { mechanism: M }>> } = { nash, pricing, mobility };
const mechanismFor = (cfg: OffloadConfig) => MECHANISMS[cfg.mechanism] as unknown as OffloadMechanism<OffloadConfig>;

export const offloadEnergy: Scenario<OffloadConfig> = {
  id: 'offload-energy',
  title: 'energy-efficient offloading: offloading × power Nash game, decentralized vs semi-distributed pricing, mobility',
  spec: 'docs/scenarios/offload-energy.md',
  paper: PAPER,
  bench,
  figures,
  units,
  roles: ['broker', 'mec', 'ue'],
  mechanisms: [nash, pricing, mobility],
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

  sweep(cfg, key, value) {
    if (key === 'N' || key === 'users') return withUsers(cfg, value);
    const m = mechanismFor(cfg);
    const swept = m.sweepKey(cfg, key, value, sweepCheck(key, value));
    if (swept) return swept;
    throw new ConfigError('--sweep', `offload-energy/${cfg.mechanism} sweeps ${m.sweepKeys}, not "${key}"`);
  },

  /** the line of the mechanism whose outcome this is (the outcome does not name its mechanism) */
  describeSlot(d, r) {
    for (const m of Object.values(MECHANISMS)) {
      const line = m.describe(d, r);
      if (line !== undefined) return line;
    }
    return JSON.stringify(d.equilibrium).slice(0, 200);
  },
};
