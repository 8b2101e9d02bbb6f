/**
 * Processes that handle many messages a round tier hot functions up to V8's optimizing compiler
 * sooner than V8's default.
 *
 * A packed worker does one thing many times — decode a message, answer it, encode the answer — and
 * so does the leader for every reply. With V8's default interrupt budget (67,584 bytecode-weighted
 * ticks) that path runs unoptimized for the first few slots: in a one-slot price-search run at
 * N = 1000 (43 rounds), a budget of 16,000 used 14–28 % less agent CPU (3 interleaved A/B pairs;
 * 16,000 also beat 4,000, 8,000 and 32,000). It changes when code is compiled, never what it computes.
 *
 * Not for a process that hosts one follower: it sees one message a round, and the lower budget makes
 * V8 compile start-up code instead — 100 agents in `process` placement took 25.8 s to join instead
 * of 17.4 s. So the orchestrator passes the flag to the leader's process and to workers hosting at
 * least MANY_AGENTS agents, and to the benchmark's raw floor workers alike (like for like).
 * MECSIM_V8_TIERING=default leaves V8's default everywhere.
 */
export const INTERRUPT_BUDGET = 16_000;
/** a worker hosting at least this many agents gets the flag */
export const MANY_AGENTS = 16;

/** node flags for a process hosting `agents` agents (`leader`: the leader's process). */
export function tieringArgs(agents: number, leader: boolean): string[] {
  if (process.env.MECSIM_V8_TIERING === 'default') return [];
  return leader || agents >= MANY_AGENTS ? [`--interrupt-budget=${INTERRUPT_BUDGET}`] : [];
}
