/**
 * The orchestrator's process grows its old generation by at most this percent of what a full
 * collection left alive, where V8's own factor goes up to 300 %. The orchestrator holds a run's
 * roster, its welcomes and its results, and between phases (joins, the slot's reference, the
 * results and the report) it leaves garbage that V8 collected only once the heap had grown to
 * several times what was alive. At N = 100,000 (`mecsim run` of the price-search scenario with
 * `--users 100000`, about 90 MB alive when the report starts) its peak RSS was 3,868–4,117 bytes
 * an agent with V8's factor (7 runs) and 3,364–3,475 with 60 % (3 runs), the run no slower
 * (16.2–17.3 s against 16.4–16.8 s in all, the orchestrator's own CPU 8.7–9.4 s against
 * 8.0–9.1 s, 2–3 runs each); 30 % saved no more, 100 % about half as much. The leader's process
 * does the same for the same reason (agents/tiering.ts). It changes when memory is collected,
 * never what is computed. MECSIM_V8_TIERING=default leaves V8's defaults here too.
 */
import { setFlagsFromString } from 'node:v8';

export const ORCHESTRATOR_HEAP_GROWING_PERCENT = 60;

/** Applies the policy to this process (V8 reads the factor at each full collection, so it holds from now on). */
export function collectSooner(): void {
  if (process.env.MECSIM_V8_TIERING === 'default') return;
  setFlagsFromString(`--heap-growing-percent=${ORCHESTRATOR_HEAP_GROWING_PERCENT}`);
}
