/** The scenario registry: every scenario the CLI knows, by id. */
import type { Scenario } from './types.ts';
import { ping } from './ping/index.ts';
import { stackelberg } from './stackelberg/index.ts';
import { futuresSpot } from './futures-spot/index.ts';
import { budgetNash } from './budget-nash/index.ts';
import { wholesaleBuyback } from './wholesale-buyback/index.ts';
import { offloadEnergy } from './offload-energy/index.ts';

export const scenarios: Record<string, Scenario> = {
  [stackelberg.id]: stackelberg as unknown as Scenario,
  [futuresSpot.id]: futuresSpot as unknown as Scenario,
  [budgetNash.id]: budgetNash as unknown as Scenario,
  [wholesaleBuyback.id]: wholesaleBuyback as unknown as Scenario,
  [offloadEnergy.id]: offloadEnergy as unknown as Scenario,
  [ping.id]: ping as unknown as Scenario,
};

export function getScenario(id: string): Scenario | undefined {
  return Object.prototype.hasOwnProperty.call(scenarios, id) ? scenarios[id] : undefined;
}
