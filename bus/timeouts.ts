/**
 * Default timeouts that scale with the work and the machine.
 *
 * Why: a timeout that only detects a hang must not fire on a machine that is merely slow. A fixed
 * 30 s join barrier is ample for 61 agent processes on an idle 2-core machine (about 12 s), and was
 * not enough on the same machine shared with other busy sessions: "60 of 61 agents did not join
 * within 30000 ms", eight tests red. Starting an agent process is CPU work (Node, the agent bundle,
 * the NATS connection: about a third of a CPU-second each), so the time to join grows with the
 * number of processes, shrinks with the cores, and grows again with the other work the cores carry.
 *
 * What: `slowdown()` estimates how many times slower than idle a process runs now, from the
 * 1-minute load average and the cores (at least 1, at most MAX_SLOWDOWN: a load average that
 * counts a whole host's work against a container's cores must not make a timeout absurd).
 * `joinTimeoutMs()` is the join barrier's default: the expected start-up time on an idle machine
 * times a safety margin times the slowdown, never below the former fixed default (max(30 s, 20 ms ×
 * agents); 120 s for external agents, which people and containers start). `scaledMs()` stretches any other hang
 * detector (the tests' timeouts) by the same slowdown. An explicit `--join-timeout` is used as given.
 */
import { loadavg } from 'node:os';
import { usableCores } from './cores.ts';

/** What the timeouts depend on: the cores this process may use and the 1-minute load average. */
export interface Machine {
  cores: number;
  load: number;
}

/** The work a join barrier waits for. */
export interface JoinWork {
  /** agents that must join */
  agents: number;
  /** agent processes the orchestrator starts (0 with external agents) */
  processes: number;
  /** agents started elsewhere (`--agents external`) */
  external: boolean;
}

/** CPU ms to start one agent process on an idle core: Node, the agent bundle, the NATS connection (100 processes joined in 16-18 s on 2 idle cores) */
export const PROCESS_START_MS = 350;
/** ms per agent for its join, welcome and ready */
export const AGENT_JOIN_MS = 20;
/** the margin over the idle estimate */
export const SAFETY = 3;
/** the most a timeout is stretched for the machine's load */
export const MAX_SLOWDOWN = 10;
/** the join barrier's floor: spawned agents, and agents started elsewhere */
export const JOIN_FLOOR_MS = 30_000;
export const EXTERNAL_JOIN_FLOOR_MS = 120_000;
/** the load never stretches a default join barrier beyond this (an explicit --join-timeout may be longer) */
export const MAX_JOIN_MS = 30 * 60_000;

export function machineNow(): Machine {
  return { cores: usableCores(), load: loadavg()[0] };
}

/** How many times slower than on an idle machine a process runs now: a runnable process shares the cores with `load` others. */
export function slowdown(m: Machine = machineNow()): number {
  const s = (Math.max(0, m.load) + 1) / Math.max(1, m.cores);
  return Math.min(MAX_SLOWDOWN, Math.max(1, Number.isFinite(s) ? s : 1));
}

/** A hang detector's `ms`, stretched by the machine's slowdown. */
export function scaledMs(ms: number, m: Machine = machineNow()): number {
  return Math.ceil(ms * slowdown(m));
}

/** The default join barrier for `work` on machine `m` (ms). */
export function joinTimeoutMs(work: JoinWork, m: Machine = machineNow()): number {
  const floor = work.external ? EXTERNAL_JOIN_FLOOR_MS : JOIN_FLOOR_MS;
  const starters = Math.max(1, Math.min(m.cores, work.processes));
  const idleMs = (work.processes * PROCESS_START_MS) / starters + work.agents * AGENT_JOIN_MS;
  const scaled = Math.ceil(Math.max(floor, SAFETY * idleMs) * slowdown(m));
  // never shorter than the former fixed default, max(floor, 20 ms × agents)
  return Math.max(floor, work.agents * AGENT_JOIN_MS, Math.min(MAX_JOIN_MS, scaled));
}
