/**
 * A scenario's own test harness, with no I/O: resolve a run's parameters as the CLI does, and run
 * the slot protocol in this process beside the reference (what `mecsim run` checks over NATS).
 * Exported to model authors by mod.ts.
 */
import { partsFor } from './contract.ts';
import { InProcessRun, type InProcessSlot } from './inprocess.ts';
import type { JsonObject, ReferenceSlot, RunInput, Scenario } from './types.ts';

/** The generic input of a run (what `mecsim run`'s flags give); every field optional. */
export interface RunInputs {
  mechanism?: string;
  /** default: the config's, else 1 */
  seed?: number;
  /** default: the config's, else the scenario's */
  slots?: number;
  users?: number;
  /** a config file's content, as `mecsim params` prints it */
  config?: JsonObject;
  /** the scenario's own options, by name */
  options?: RunInput['options'];
}

/** Every parameter of a run, resolved as `mecsim run` and `mecsim params` resolve them. */
export function resolveConfig(scenario: Scenario, inputs: RunInputs = {}): JsonObject {
  const config = inputs.config;
  return scenario.resolve({
    mechanism: inputs.mechanism,
    seed: inputs.seed ?? (typeof config?.seed === 'number' ? config.seed : 1),
    slots: inputs.slots ?? (typeof config?.slots === 'number' ? config.slots : scenario.defaultSlots ?? 1),
    users: inputs.users,
    config,
    options: inputs.options ?? {},
  });
}

export interface InProcessResult {
  cfg: JsonObject;
  /** each slot's protocol outcome and trajectory, and the reference's verdict on it */
  slots: (InProcessSlot & { reference: ReferenceSlot })[];
  /** the reference's run-level results (`ReferenceRun.finish`), e.g. claims */
  results?: JsonObject;
  /** every slot equal to its reference */
  ok: boolean;
}

/** The whole run in this process: the same leader and followers, message for message, and the same reference check. */
export async function runInProcess(scenario: Scenario, inputs: RunInputs = {}): Promise<InProcessResult> {
  const cfg = resolveConfig(scenario, inputs);
  const run = new InProcessRun(scenario, cfg);
  const reference = partsFor(scenario, cfg).createReference(cfg);
  const slots: InProcessResult['slots'] = [];
  for (let t = 0; t < Number(cfg.slots ?? 1); t++) {
    const s = await run.runSlot(t);
    slots.push({ ...s, reference: reference.slot(t, s.outcome) });
  }
  return { cfg, slots, results: reference.finish?.(), ok: slots.every((s) => s.reference.compare.ok) };
}
