/**
 * What every part of a run shares: who the run is (ids, subjects, agents, leader), where it logs
 * and counts, and the little state that several parts read — the slot in progress, whether the run
 * is over, the restarts so far — plus the run's one failure: the first part to call `fail` ends it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ControlChannel, Welcome } from '../../bus/control.ts';
import type { Counters } from '../../bus/counters.ts';
import type { subjects } from '../../bus/subjects.ts';
import type { AgentSpec, JsonObject, MechanismParts, Scenario } from '../../scenarios/types.ts';
import type { LinkPlan } from './linkPlan.ts';
import { RunError, type RunOptions } from './plan.ts';

export interface Restart {
  /** the process's host id (spawned) or the external host's key */
  worker: string;
  agents: number;
  leader: boolean;
  slot: number;
  reason: string;
  rejoinMs?: number;
  ids?: string[];
  at?: number;
}

/** The run's identity and agents: fixed once the run starts. */
export interface RunInfo {
  opts: RunOptions;
  scenario: Scenario;
  /** the parts of the scenario the run's mechanism runs with */
  parts: MechanismParts;
  cfg: JsonObject;
  runId: string;
  dir: string;
  subj: ReturnType<typeof subjects>;
  log: Logger;
  counters: Counters;
  agents: AgentSpec[];
  byId: Map<string, AgentSpec>;
  leaderId: string;
  /** the leader's followers, in roster order */
  roster: AgentSpec[];
  external: boolean;
  /** the link model (orchestrator/run/linkPlan.ts), when the config has a `link` section */
  link?: LinkPlan;
}

/** The state several parts read and write, and the run's failure. */
export class RunState {
  /** the slot in progress (-1: before the first; `slots` after the last) */
  currentSlot = -1;
  /** the run is over (completed or failed): exits and silence are no longer failures */
  finished = false;
  /** why the run failed, once it has (undefined: it has not, or it completed) */
  failure?: string;
  /** for a restarted leader's welcome: the state saved after the last completed slot */
  leaderResume: Welcome['resume'];
  readonly restarts: Restart[] = [];
  private reject!: (e: Error) => void;
  /** rejects with the run's first failure */
  readonly failed: Promise<never>;

  constructor() {
    this.failed = new Promise<never>((_, rej) => (this.reject = rej));
    this.failed.catch(() => undefined);
  }

  /** Ends the run with this error (the first one counts). */
  fail(e: unknown): void {
    this.reject(e instanceof RunError ? e : new RunError((e as Error).message));
  }

  /** `p`, or the run's failure if that comes first. */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failed]);
  }
}

/** What a part gets: the run's identity, its shared state, the orchestrator's connection and its control channel. */
export interface Parts {
  info: RunInfo;
  state: RunState;
  nc: NatsConnection;
  channel: ControlChannel;
}
