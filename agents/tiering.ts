/**
 * Agent processes tier hot functions up to V8's optimizing compiler sooner than V8's default.
 *
 * An agent process does one thing many times — decode a message, answer it, encode the answer —
 * but a packed worker handles only a few hundred messages a round, so with V8's default interrupt
 * budget (67,584 bytecode-weighted ticks) its message path runs unoptimized for the first few slots:
 * in a one-slot stackelberg run at N = 1000 (43 rounds), ~20 % of all agent CPU. A budget of 16,000
 * (measured against 4,000, 8,000 and 32,000: the lowest total CPU) gets the same code optimized
 * sooner. This changes when code is compiled, never what it computes.
 *
 * The orchestrator passes the flag to every agent process it spawns and to the benchmark's raw floor
 * workers (so the comparison stays like for like); the Dockerfile's entry point passes it too.
 * agents/main.ts imports this module first, so an agent started by hand gets it as well.
 * MECSIM_V8_TIERING=default keeps V8's default everywhere.
 */
import { setFlagsFromString } from 'node:v8';

export const INTERRUPT_BUDGET = 16_000;

/**
 * The node flags the orchestrator starts agent processes (and the floor's workers) with. On the
 * command line the budget holds from the first function compiled; set from inside the process
 * (below, for agents started by hand) it holds only for what is compiled after it, which measured
 * about half the gain.
 */
export const V8_TIERING_ARGS: string[] = process.env.MECSIM_V8_TIERING === 'default' ? [] : [`--interrupt-budget=${INTERRUPT_BUDGET}`];

if (V8_TIERING_ARGS.length) setFlagsFromString(V8_TIERING_ARGS[0]);
