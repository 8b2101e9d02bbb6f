/** Helpers for integration tests: run a scenario over the tests' NATS server with real agent processes. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { catalog } from '../../catalog/catalog.ts';
import { partsFor } from '../../scenarios/contract.ts';
import type { JsonObject, RunInput } from '../../scenarios/types.ts';
import { parsePlacement, planWorkers, runScenario, type RunOptions } from '../../orchestrator/run.ts';
import { joinTimeoutMs, scaledMs } from '../../bus/timeouts.ts';
import { runFileErrors } from './schemas.ts';

export const outDir = mkdtempSync(join(tmpdir(), 'mecsim-test-runs-'));

export function resolveCfg(scenarioId: string, input: Partial<RunInput>): JsonObject {
  const s = catalog.get(scenarioId);
  if (!s) throw new Error(`no scenario ${scenarioId}`);
  return s.resolve({ seed: 1, slots: 1, options: {}, ...input });
}

/**
 * One run with spawned agents over the tests' server. Its round and join timeouts only catch a hang
 * (a reply later than the round's deadline would count missing and change the result), so they grow
 * with the machine's load and, for the join, with the processes to start (orchestrator/timeouts.ts).
 */
export async function runDistributed(scenarioId: string, cfg: JsonObject, placement = 'process', extra: Partial<RunOptions> = {}) {
  const scenario = catalog.get(scenarioId)!;
  const parts = partsFor(scenario, cfg);
  const agents = parts.agents(cfg);
  const processes = planWorkers(agents, parts.leaderId(cfg), parsePlacement(placement), scenario.roles).length;
  const joinMs = joinTimeoutMs({ agents: agents.length, processes, external: false });
  const summary = (await runScenario({ scenario, cfg, placement: parsePlacement(placement), outDir, natsUrl: inject('natsUrl'), roundTimeoutMs: scaledMs(20_000), joinTimeoutMs: joinMs, report: false, ...extra })) as Record<string, any>;
  // every run an integration test makes also checks its files against the published schemas
  const invalid = runFileErrors(join(extra.outDir ?? outDir, String(summary.runId)));
  if (invalid.length) throw new Error(invalid.join('\n'));
  return summary;
}

/** pids of live processes whose command line mentions the run id */
export function processesOf(runId: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`--run ${runId}`))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((p) => p !== process.pid);
}

/**
 * Waits until the run's run.log matches `re` (a load-scaled minute at most); fails at once, with the
 * orchestrator's stderr, if the orchestrator has ended before.
 */
export function logWaiter(runLog: string, orchestrator: { ended: () => boolean; stderr: () => string }) {
  const logHas = (re: RegExp) => existsSync(runLog) && re.test(readFileSync(runLog, 'utf8'));
  return async (re: RegExp, what: string): Promise<void> => {
    const wait = scaledMs(60_000);
    for (const t0 = Date.now(); Date.now() - t0 < wait; ) {
      if (logHas(re)) return;
      if (orchestrator.ended()) throw new Error(`the run ended before ${what}:\n${orchestrator.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${what} in ${Math.round(wait / 1000)} s`);
  };
}
