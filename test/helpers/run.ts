/** Helpers for integration tests: run a scenario over the tests' NATS server with real agent processes. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { getScenario } from '../../scenarios/index.ts';
import type { JsonObject, RunInput } from '../../scenarios/types.ts';
import { parsePlacement, planWorkers, runScenario, type RunOptions } from '../../orchestrator/run.ts';
import { joinTimeoutMs, scaledMs } from '../../bus/timeouts.ts';

export const outDir = mkdtempSync(join(tmpdir(), 'mecsim-test-runs-'));

export function resolveCfg(scenarioId: string, input: Partial<RunInput>): JsonObject {
  const s = getScenario(scenarioId);
  if (!s) throw new Error(`no scenario ${scenarioId}`);
  return s.resolve({ seed: 1, slots: 1, options: {}, ...input });
}

/**
 * One run with spawned agents over the tests' server. Its round and join timeouts only catch a hang
 * (a reply later than the round's deadline would count missing and change the result), so they grow
 * with the machine's load and, for the join, with the processes to start (orchestrator/timeouts.ts).
 */
export async function runDistributed(scenarioId: string, cfg: JsonObject, placement = 'process', extra: Partial<RunOptions> = {}) {
  const scenario = getScenario(scenarioId)!;
  const agents = scenario.agents(cfg as never);
  const processes = planWorkers(agents, scenario.leaderId(cfg as never), parsePlacement(placement)).length;
  const joinMs = joinTimeoutMs({ agents: agents.length, processes, external: false });
  return runScenario({ scenario, cfg, placement: parsePlacement(placement), outDir, natsUrl: inject('natsUrl'), roundTimeoutMs: scaledMs(20_000), joinTimeoutMs: joinMs, report: false, ...extra }) as Promise<Record<string, any>>;
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
