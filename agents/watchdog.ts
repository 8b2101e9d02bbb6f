/**
 * The orchestrator watchdog of an external agent host. A spawned host exits when its IPC channel to
 * the orchestrator closes; a host started elsewhere (`--agents external`, `mecsim agent --join`) has
 * no parent to lose, so the orchestrator says `heartbeat` on `ctl.all` every heartbeatMs while the
 * run lasts, and a host that has heard nothing from it for `silenceLimitMs` takes it for gone (killed,
 * OOM, its machine lost) and exits instead of holding its agents for good.
 *
 * The watch is armed by a welcome that carries heartbeatMs, or by the first heartbeat heard (a spare
 * waiting for a slot gets no welcome). Until then nothing is watched: agents started before their
 * orchestrator wait for it up to their join timeout. The limit is generous (max(10 beats, 30 s),
 * stretched by the machine's load): a stalled but live orchestrator on a loaded machine is not dead.
 * A host that was stalled itself (a long computation) reads the messages queued meanwhile before it
 * may decide: silence must be seen on two checks in a row.
 */
import { scaledMs } from '../bus/timeouts.ts';

/** What the watchdog reads time through: the system's clock, or a fake one in tests. */
export interface Clock {
  now(): number;
  /** calls `fn` every `ms` until stopped (never keeping the process alive on its own) */
  every(ms: number, fn: () => void): { stop(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { stop: () => clearInterval(t) };
  },
};

/** silence of this many beats, and at least SILENCE_FLOOR_MS, before the load's stretch */
export const SILENCE_BEATS = 10;
export const SILENCE_FLOOR_MS = 30_000;

/**
 * How long a host waits on a silent orchestrator that beats every `heartbeatMs`: max(10 beats, 30 s),
 * or MECSIM_ORCH_SILENCE_MS (tests) in its place, stretched by the machine's load.
 */
export function silenceLimitMs(heartbeatMs: number, env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env.MECSIM_ORCH_SILENCE_MS);
  const base = Number.isFinite(given) && given > 0 ? given : Math.max(SILENCE_BEATS * heartbeatMs, SILENCE_FLOOR_MS);
  return scaledMs(base);
}

export interface WatchOptions {
  clock?: Clock;
  /** the silence limit for a period (default silenceLimitMs); asked at every check, as the load changes */
  limitMs?: (heartbeatMs: number) => number;
  /** the orchestrator has been silent `silentMs` (more than `limitMs`): called once */
  onSilent: (silentMs: number, limitMs: number) => void;
}

export class OrchestratorWatch {
  private readonly clock: Clock;
  private readonly limitOf: (heartbeatMs: number) => number;
  private heartbeatMs?: number;
  private lastHeard = 0;
  private ticker?: { stop(): void };
  /** the previous check found the limit passed: the next one decides */
  private suspect = false;
  private fired = false;

  constructor(private readonly o: WatchOptions) {
    this.clock = o.clock ?? systemClock;
    this.limitOf = o.limitMs ?? silenceLimitMs;
  }

  get armed(): boolean {
    return this.heartbeatMs !== undefined;
  }

  /** The orchestrator beats every `heartbeatMs` (a welcome said so, or a heartbeat): watch it, from now. */
  arm(heartbeatMs: number): void {
    this.heard();
    if (this.armed || this.fired) return;
    this.heartbeatMs = heartbeatMs;
    this.ticker = this.clock.every(Math.max(50, Math.min(1000, heartbeatMs)), () => this.check());
  }

  /** A message from the orchestrator arrived. */
  heard(): void {
    this.lastHeard = this.clock.now();
    this.suspect = false;
  }

  /** One check (the ticker's): true when the orchestrator was taken for gone now. */
  check(): boolean {
    if (!this.armed || this.fired) return false;
    const silentMs = this.clock.now() - this.lastHeard;
    const limitMs = this.limitOf(this.heartbeatMs!);
    if (silentMs <= limitMs) {
      this.suspect = false;
      return false;
    }
    // messages that arrived while this host itself was stalled are read before the next check
    if (!this.suspect) {
      this.suspect = true;
      return false;
    }
    this.fired = true;
    this.stop();
    this.o.onSilent(silentMs, limitMs);
    return true;
  }

  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }
}
