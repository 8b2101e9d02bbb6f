/**
 * A run's scenario-specific figures: its scenario's own `figures` (scenarios/<id>/figures.ts, or the
 * outside scenario's module the run recorded in summary.json `scenarioSource`). A field a run does
 * not have gives no figure, never an error. The generic figures are in report.ts.
 */
import { existsSync } from 'node:fs';
import { catalog } from '../catalog/catalog.ts';
import type { Figure, RunData } from '../scenarios/common/figures.ts';
import type { Scenario } from '../scenarios/types.ts';

/** The run's scenario: built in, or the outside module the run recorded; undefined if neither is at hand. */
export async function scenarioOf(run: RunData): Promise<Scenario | undefined> {
  const id = String(run.summary.scenario);
  let scenario = catalog.get(id);
  const file = run.summary.scenarioSource?.file;
  if (!scenario && typeof file === 'string' && existsSync(file)) scenario = await catalog.load(file).catch(() => undefined);
  return scenario;
}

export async function scenarioFigures(run: RunData): Promise<Figure[]> {
  const scenario = await scenarioOf(run);
  if (!scenario?.figures) return [];
  try {
    return scenario.figures(run).filter((x): x is Figure => x !== undefined);
  } catch {
    return []; // a summary of an older shape: the generic figures still stand
  }
}
