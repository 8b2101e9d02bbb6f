/**
 * Processes that handle many messages a round compile their hot code differently from V8's default
 * (baseline code at the first call, the optimizing compiler on the main thread and inlining less),
 * keep a young generation of a fixed size, (a leader of many followers) collect
 * their old generation sooner, and collect their heap once before their first round. Each changes
 * when code is compiled or memory collected, never what is computed.
 *
 * The orchestrator passes these flags to the leader's process and to workers hosting at least
 * MANY_AGENTS agents, and the benchmark all but BASELINE_AT_FIRST_CALL, NO_LOOP_PEELING and
 * LEADER_INTERRUPT_BUDGET to its raw floor processes (each measured where it is fastest); a process
 * of one follower sees one message a round and keeps V8's defaults. MECSIM_V8_TIERING=default leaves
 * V8's defaults everywhere.
 */
/**
 * At most this many bytecodes inlined into one optimized function (V8's default is 920). A packed
 * worker's hot path is a deep chain of small calls (a broadcast's read, each agent's check, handler,
 * row and batch), and so is the leader's for each reply; the optimizing compiler otherwise inlines it
 * whole into one large function, compiled again at each deoptimization. In a short run that compiling,
 * on V8's background threads but counted in the process's CPU, was the largest part of it (perf,
 * one-slot run at N = 1000: about 60 ms of a packed worker's 120 ms since ready, and 40 of the
 * leader's 150). With 300, in interleaved runs of the price-search scenario at N = 1000 (packed:250):
 * agent CPU since ready 436–469 ms against 566 (one slot, 3–4 runs each), 541 against 695 ms after
 * the first slot of three; over 39 slots after the first, 3,832 against 3,858 ms (the steady state
 * no slower).
 *
 * V8's own interrupt budget (when a function counts as hot) is kept. A budget of 16,000 (a quarter
 * of V8's) once saved agent CPU in one-slot runs, when the whole path was inlined and took long to
 * optimize; with the cap it compiled more than it saved — the functions run once a round went on
 * tiering up for twenty slots (600 compilations in a 40-slot run at N = 1000) — and V8's budget used
 * less (interleaved, N = 1000: after the first of three slots 484 against 673 ms, one slot 581
 * against 642; N = 10,000, one slot: 1,020 against 1,042).
 */
export const MAX_INLINED_CUMULATIVE = 300;
/**
 * An agent process of many agents (and the leader) compiles each function to V8's baseline code
 * (Sparkplug) at its first call rather than after it has run interpreted for a while. Baseline code
 * is made in one pass over the bytecode, with no optimizing, and runs the bytecode's operations
 * without decoding them; the optimizing compiler later takes the hot functions as before. A run's
 * first slots are where mecsim's per-agent path runs before it is optimized (checks, handler, rows,
 * batches, the leader's checks and aggregation: a few dozen functions), and there it ran interpreted.
 * Interleaved runs of the price-search scenario (packed:250 / packed:2500, 3–6 pairs): agent CPU
 * since ready 410 -> 357 ms at N = 1000 and 1,268 -> 936 ms at N = 10,000 (one slot), the mean round
 * 5.6 -> 5.0 and 17.2 -> 12.7 ms.
 *
 * The benchmark's floor processes do not get it: their code is a loop of a publish and a counter,
 * optimized within a few rounds, and compiling the whole client to baseline code up front cost them
 * more than it saved (the one-subscription-per-process floor at N = 1000: 6.6 ms of CPU a round
 * with it against 4.8–5.8 without). Each side runs with the flags that make it fastest.
 */
export const BASELINE_AT_FIRST_CALL = '--always-sparkplug';
/**
 * The optimizing compiler runs on the main thread, when V8 decides a function is hot, rather than as
 * a job on V8's background threads. On these machines (2 cores, five busy processes and nats-server)
 * the background jobs only moved the compiling onto threads that compete for the same cores, and cost
 * more in all: in interleaved runs of the price-search scenario, agent CPU since ready 368 -> 317 ms
 * at N = 1000 (5 pairs; after the first of three slots 291 -> 279 ms, 4 pairs) and 891 -> 822 ms at
 * N = 10,000 (3 pairs), the mean round no slower (4.9 -> 4.7 and 12.4 -> 11.7 ms). The floor's
 * processes get it too: it made them cheaper as well (the one-subscription-per-process floor at
 * N = 1000: 4.5–4.7 ms of CPU a round against 5.0–5.5).
 */
export const COMPILE_ON_MAIN_THREAD = '--no-concurrent-recompilation';
/**
 * The young generation's size, per semi-space, fixed rather than left to V8 to grow: a process that
 * takes at least MANY_MESSAGES messages a round (a worker of that many agents, the leader of that
 * many followers) keeps BUSY_SEMI_SPACE_MB from the start, any other at most YOUNG_SEMI_SPACE_MB
 * (V8's initial size). Both sides get it, agents' and floor's: it made each cheaper.
 *
 * Why fixed. A round's garbage dies within the round or the next (a request's answer in a worker,
 * a reply decoded by the leader). What V8 sees first is the join, when much of what is allocated
 * survives, and it grows the young generation for that; the pages of the grown semi-spaces are then
 * touched for the first time in the rounds, a minor page fault per 4 KB page allocated
 * (process.resourceUsage()), some 10–15 µs each on these VMs. A one-slot run at N = 1000: a
 * worker's ~84 KB a round took about 20 faults a round until the slot's first scavenge, its rounds
 * 0.55–0.7 ms of CPU before it and 0.25–0.3 after; at N = 10,000 with the 16 MB this constant once
 * was, the leader took about 140 faults a round in its first 16 rounds (about 1.5 ms of its 2.6 a
 * round), each worker about 50 a round in some rounds and 190–230 in others. A fixed young
 * generation is the same pages, touched once; a scavenge of dead garbage costs far less than
 * faulting in new ones.
 *
 * Measured with interleaved runs of the price-search scenario (agent CPU since ready):
 * - N = 1000 (YOUNG): lower in each of 6 one-slot pairs (about 150 -> 131 ms) and of 5 ten-slot pairs
 *   (667–716 -> 618–670 ms); N = 3000 (workers of 1500): 234–248 -> 203–215 ms, 4 pairs; N = 100 the
 *   same within the noise. The one-subscription-per-process floor at N = 1000: 2.71–3.29 -> 2.59–2.88
 *   ms of CPU a round, lower in each of 6 pairs.
 * - N = 10,000 (BUSY, 8 MB against the 16 MB minimum it replaced): one slot 406–428 -> 337–361 ms
 *   (4 pairs; the leader 157–164 -> 106–118), four slots lower in each of 3 pairs (1,058–1,329
 *   against 1,125–1,557). 4 MB was as good in one slot but no better in four, 2 MB worse for the
 *   leader. The shared floor at N = 10,000: lower in 3 of 4 pairs (8.9–11.8 against 10.7–12.6 ms).
 * - N = 100,000, one slot (3 undisturbed pairs): about 4 % more CPU (2,566–2,648 against
 *   2,425–2,588 ms), the time to equilibrium about 2 % shorter, the workers' peak RSS 15 MB lower:
 *   a round's garbage there is ten times larger, and 16 MB fitted it better. Kept at 8 for every busy
 *   process, the lines of the 100,000-agent row being far from their limits.
 * The 16 MB minimum had been chosen (3-slot runs, 2.4 -> 2.0 s for the leader) when replies were
 * decoded into a body each, before rows; V8's own growth was worse still. It changes when memory is
 * collected, never what is computed.
 */
export const BUSY_SEMI_SPACE_MB = 8;
export const YOUNG_SEMI_SPACE_MB = 1;
/**
 * A leader of at least MANY_MESSAGES followers grows its old generation by at most this percent of
 * what a full collection left alive (V8's own factor goes up to 300 %). Its round's replies live
 * until the next round's replace them, so they survive the young generation and are promoted; each
 * round then leaves the old generation one round of garbage, collected only when it reaches V8's
 * limit. At N = 100,000 (live heap about 95 MB after a full collection) the leader's peak RSS was
 * 422–470 MB with V8's factor and 284–301 MB with 50–100 %, its rounds as fast (one-slot runs, median
 * round 120–126 ms either way); in two-slot runs 100 % cost the leader about 4 % more CPU (7.5–7.9
 * against 7.3–7.6 s) for 323–334 MB instead of 519–548. It changes when memory is collected, never
 * what is computed.
 */
export const LEADER_HEAP_GROWING_PERCENT = 100;
/**
 * A leader of at least MANY_MESSAGES followers counts a function as hot after four times V8's
 * interrupt budget (V8's is 67,584 bytecodes). Its hot code is of two kinds: the loops over a round's
 * replies (hundreds of thousands of iterations a slot), which reach any budget within their first
 * round, and the code run once per message — the protocol parser, the rows reader's header and keys,
 * the reply readers — a few dozen times a round at 10,000 followers. With V8's budget the optimizing
 * compiler took the latter late in the first slot, on the main thread (COMPILE_ON_MAIN_THREAD), for
 * the few rounds left: a one-slot run at N = 10,000 compiled for 42 ms after ready, 22 ms with this
 * (--trace-opt). Interleaved one-slot runs at N = 10,000 (12 pairs): the leader's CPU since ready
 * 89–113 -> 72–88 ms; in 4-slot runs (3 pairs) 240–247 -> 224–232 ms in all, the three later slots
 * 139–143 -> 143–149 ms (that code is optimized a few slots later). At N = 1000 it changed little
 * (35–39 -> 34–36 ms, 5 pairs), so it stays with the busy leader.
 *
 * The benchmark's floor driver does not get it: at 10,000 replies a round its own per-message code
 * is the parser alone, and there it made the driver slower (76–100 -> 89–106 ms, 4 pairs). It changes
 * when code is compiled, never what is computed.
 */
export const LEADER_INTERRUPT_BUDGET = 4 * 67_584;
/**
 * An agent process that takes fewer than MANY_MESSAGES messages a round (a worker of fewer agents,
 * the leader of fewer followers) compiles without the optimizing compiler's loop peeling (which
 * copies a loop's first iteration out of it, so that what it checks once can be hoisted from the
 * rest). There a run's first slot is mostly the compiling of the per-agent path (--trace-opt, one
 * slot at N = 1000: 21–25 ms of each process's 50–57 ms since ready), and its loops are short.
 * Interleaved one-slot runs of the price-search scenario at N = 1000: agent CPU since ready lower in
 * each of 10 pairs (medians about 172 -> 157 ms, the leader's and each worker's alike); 20-slot runs
 * (4 pairs) 1,189–1,284 -> 1,129–1,372 ms, the steady state no slower. At N = 10,000 (9 one-slot and
 * 3 four-slot pairs) it made no difference the noise did not hide, so a busy process keeps V8's
 * default. The floor's processes keep it too: the one-subscription-per-process floor at N = 1000 was
 * as cheap either way (2.17–2.54 against 2.32–2.45 ms of CPU a round, 5 pairs). It changes how code
 * is compiled, never what is computed.
 */
export const NO_LOOP_PEELING = '--no-turbo-loop-peeling';
/**
 * A process given these flags collects its whole heap once, when its agents have joined and before
 * its first round (collectBeforeRounds), and the benchmark's floor processes do the same before
 * theirs. What a host builds while joining (its agents' runtimes, subscriptions, the leader's roster)
 * is still in the young generation then; otherwise the first rounds' scavenges copied it, twice,
 * before it was promoted. In one-slot runs of the price-search scenario at N = 10,000
 * (packed:2500, --trace-gc) that was 43 ms of the leader's scavenges and 22–30 ms of each worker's
 * in the slot; with the collection before it, 11 and 1–6 ms. Agent CPU since ready, 3 interleaved
 * pairs: 822–852 -> 640–702 ms at N = 10,000 (the leader's 313–318 -> 229–242), 272–299 -> 260–304
 * at N = 1000 (6 pairs, medians 284 -> 268). The collection itself is paid in the join: the
 * processes' CPU from start to end was the same within the noise (3,245–3,299 against 3,197–3,461 ms
 * at N = 10,000). It changes when memory is collected, never what is computed.
 */
export const COLLECT_BEFORE_ROUNDS = '--expose-gc';
export const MANY_MESSAGES = 2000;
/** a worker hosting at least this many agents gets the inlining flag */
export const MANY_AGENTS = 16;

/**
 * node flags for a process hosting `agents` agents (the leader's: `leader`, with `followers`
 * followers), or for the benchmark's floor process that plays it (`side: 'floor'`).
 */
export function tieringArgs(agents: number, leader: boolean, followers = 0, side: 'agents' | 'floor' = 'agents'): string[] {
  if (process.env.MECSIM_V8_TIERING === 'default') return [];
  if (!leader && agents < MANY_AGENTS) return [];
  const busy = (leader ? followers : agents) >= MANY_MESSAGES;
  const flags = [`--max-inlined-bytecode-size-cumulative=${MAX_INLINED_CUMULATIVE}`, COMPILE_ON_MAIN_THREAD, COLLECT_BEFORE_ROUNDS];
  if (side === 'agents') flags.push(BASELINE_AT_FIRST_CALL);
  if (!busy && side === 'agents') flags.push(NO_LOOP_PEELING);
  if (busy) flags.push(`--min-semi-space-size=${BUSY_SEMI_SPACE_MB}`, `--max-semi-space-size=${BUSY_SEMI_SPACE_MB}`);
  else flags.push(`--max-semi-space-size=${YOUNG_SEMI_SPACE_MB}`);
  if (busy && leader) flags.push(`--heap-growing-percent=${LEADER_HEAP_GROWING_PERCENT}`);
  if (busy && leader && side === 'agents') flags.push(`--interrupt-budget=${LEADER_INTERRUPT_BUDGET}`);
  return flags;
}

/** A full collection now, in a process started with COLLECT_BEFORE_ROUNDS; nothing in any other. */
export function collectBeforeRounds(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
}
