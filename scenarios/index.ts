/** The scenario registry: every scenario the CLI knows, by id. */
import type { Scenario } from './types.ts';
import { ping } from './ping/index.ts';
import { stackelberg } from './stackelberg/index.ts';
import { futuresSpot } from './futures-spot/index.ts';
import { budgetNash } from './budget-nash/index.ts';
import { wholesaleBuyback } from './wholesale-buyback/index.ts';
import { offloadEnergy } from './offload-energy/index.ts';

export const scenarios: Record<string, Scenario> = {
  [stackelberg.id]: stackelberg,
  [futuresSpot.id]: futuresSpot,
  [budgetNash.id]: budgetNash,
  [wholesaleBuyback.id]: wholesaleBuyback,
  [offloadEnergy.id]: offloadEnergy,
  [ping.id]: ping,
};

export function getScenario(id: string): Scenario | undefined {
  return Object.prototype.hasOwnProperty.call(scenarios, id) ? scenarios[id] : undefined;
}
