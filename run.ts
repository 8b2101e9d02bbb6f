/**
 * `mecsim/run`: a scenario run from a program — real agent processes over NATS, compared slot by
 * slot with the scenario's reference, exactly as `mecsim run` does it — and in process.
 *
 *   import { runDistributed } from 'mecsim/run';
 *   const summary = await runDistributed('./my-scenario', { users: 8, placement: 'packed:4' });
 *   if (!summary.ok) throw new Error('differs from its reference');
 *
 * Apart from `mecsim` (mod.ts) because it starts processes and a NATS server: a scenario's own
 * module must never import it (the agents would then load the orchestrator).
 */
import { resolve } from 'node:path';
import { catalog } from './catalog/catalog.ts';
import { resolveConfig, type RunInputs } from './scenarios/harness.ts';
import type { Scenario } from './scenarios/types.ts';
import { parsePlacement, RunError, runScenario, type Placement } from './orchestrator/run.ts';

export { acquireNats, startNatsServer, NatsUnavailable, type NatsHandle } from './orchestrator/natsServer.ts';
export { RunError, type Placement } from './orchestrator/run.ts';
export { resolveConfig, runInProcess, type InProcessResult, type RunInputs } from './scenarios/harness.ts';

export interface DistributedOptions extends RunInputs {
  /** `process` (one process per agent), `packed:K` or `auto` (default) */
  placement?: string | Placement;
  /** a NATS server's URL; default: a private nats-server started and stopped for this run */
  natsUrl?: string;
  /** where the run's folder is written (default `runs`) */
  outDir?: string;
  runId?: string;
  roundTimeoutMs?: number;
  joinTimeoutMs?: number;
  /** write report.html (default true) */
  report?: boolean;
  signal?: AbortSignal;
}

/**
 * A scenario by reference: a built-in id, a folder or module path, or an installed npm package
 * (resolved from `cwd`, default the process's). The agent processes load the same module.
 */
export function loadScenario(ref: string, cwd = process.cwd()): Promise<Scenario> {
  return catalog.load(ref, cwd);
}

/**
 * One distributed run of a scenario: `ref` names it (see `loadScenario`), or is a scenario object
 * loaded that way — the agent processes load it from its module, so an object built in the caller's
 * memory only is refused. Resolves to its summary (`summary.json`: `ok` says whether every slot
 * equals its reference, `perSlot` has each slot's outcome, reference and comparison). Rejects with
 * RunError when the run fails.
 */
export async function runDistributed(ref: string | Scenario, o: DistributedOptions = {}): Promise<Record<string, any>> {
  const scenario = typeof ref === 'string' ? await loadScenario(ref) : ref;
  if (typeof ref !== 'string' && catalog.get(ref.id) !== ref) throw new RunError(`runDistributed: scenario ${ref.id} was not loaded from a module; pass its folder, file or package name (the agent processes load it from there), or load it first with loadScenario()`, 2);
  const cfg = resolveConfig(scenario, o);
  const placement = typeof o.placement === 'object' ? o.placement : parsePlacement(o.placement ?? 'auto');
  return runScenario({
    scenario,
    cfg,
    placement,
    outDir: resolve(o.outDir ?? 'runs'),
    runId: o.runId,
    natsUrl: o.natsUrl,
    roundTimeoutMs: o.roundTimeoutMs,
    joinTimeoutMs: o.joinTimeoutMs,
    report: o.report,
    signal: o.signal,
  }) as Promise<Record<string, any>>;
}
