/**
 * An agent host: one NATS connection carrying one agent (placement `process`) or many (placement
 * `packed:K`). Every hosted agent has its own direct subject and its own parameters; the broadcasts
 * to a role reach the host once and are handed to each of its agents of that role
 * (agents/broadcast.ts), and their replies go on the host's reply subject for that role (the
 * envelope names the agent). The host joins its agents (agents/join.ts), runs each as a follower
 * (agents/follower.ts) or as the leader (agents/leader.ts), and answers the orchestrator's
 * `shutdown` (with a `bye` carrying its counters) and `abort` on `ctl.all`. A host of external
 * agents also watches the orchestrator's `heartbeat` there, and exits (EXIT_ORCHESTRATOR_SILENT)
 * when it has been silent too long (agents/watchdog.ts).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DEFAULT_MAX_BYTES } from '../bus/codec.ts';
import { ControlChannel, orchestratorOnly, type Welcome } from '../bus/control.ts';
import { Counters } from '../bus/counters.ts';
import { connectBus, type BusOptions } from '../bus/connection.ts';
import { assertToken, ORCH, subjects } from '../bus/subjects.ts';
import { catalog } from '../catalog/catalog.ts';
import type { Scenario } from '../scenarios/types.ts';
import type { RoleName } from '../scenarios/types.ts';
import { BroadcastFanout } from './broadcast.ts';
import { FollowerRuntime, type FollowerDeps } from './follower.ts';
import { ReplyBatches } from '../bus/replyBatch.ts';
import { Joiner, JOIN_BATCH, JOIN_BATCH_CONCURRENCY, JOIN_CONCURRENCY, runEndOf, type RunEnd } from './join.ts';
import { HostCpu } from './hostCpu.ts';
import { LastReplies } from './lastReply.ts';
import { collectBeforeRounds } from './tiering.ts';
import { LeaderRuntime } from './leader.ts';
import { OrchestratorWatch, type Clock } from './watchdog.ts';

export type { HostReport, SlotDone, SlotMetrics, Welcome } from '../bus/control.ts';

/** The exit code of a host that took its orchestrator for gone (heard nothing from it for too long). */
export const EXIT_ORCHESTRATOR_SILENT = 5;

export interface HostOptions {
  run: string;
  bus: BusOptions;
  /** the agents to host: role and index (index -1: ask the orchestrator for one) */
  agents: { role: RoleName; index: number }[];
  hostId: string;
  log: Logger;
  /** how long to keep trying to join (ms) */
  joinTimeoutMs?: number;
  /** the orchestrator watchdog's clock (tests) */
  clock?: Clock;
}

export class AgentHost {
  nc?: NatsConnection;
  readonly counters: Counters;
  private readonly subj: ReturnType<typeof subjects>;
  private readonly subs: Subscription[] = [];
  private channel?: ControlChannel;
  private joiner?: Joiner;
  /** per role: the host's one subscription to its broadcasts, handed to each hosted follower of the role */
  private readonly broadcasts = new Map<RoleName, BroadcastFanout>();
  /** one deps object for every hosted follower (not a copy each: the hot path reads it per message) */
  private followerDeps?: FollowerDeps;
  private closing = false;
  /** resolves when the host has been told to shut down (or lost its connection for good) */
  readonly done: Promise<number>;
  private finishDone!: (code: number) => void;
  readonly hosted: { id: string; role: RoleName }[] = [];
  private readonly cpu = new HostCpu();
  private readonly watch: OrchestratorWatch;

  constructor(private readonly opts: HostOptions) {
    this.counters = new Counters(opts.log);
    this.subj = subjects(opts.run);
    this.done = new Promise((r) => (this.finishDone = r));
    this.watch = new OrchestratorWatch({ clock: opts.clock, onSilent: (silentMs, limitMs) => this.onOrchestratorSilent(silentMs, limitMs) });
  }

  async start(): Promise<void> {
    const { log, hostId } = this.opts;
    // the host id is a token of this host's subjects (join.<host>, inbox.<host>, …); `orch` is the orchestrator's
    assertToken('host id', hostId);
    if (hostId === ORCH) throw new Error(`host id "${ORCH}" is the orchestrator's`);
    const nc = (this.nc = await connectBus({ ...this.opts.bus, name: this.opts.bus.name ?? `mecsim-${hostId}`, inboxPrefix: this.subj.inbox(hostId) }, log));
    void nc.closed().then((err) => {
      if (!this.closing) {
        log.error({ err: err ? String(err) : undefined }, 'NATS connection closed for good');
        this.finishDone(3);
      }
    });
    const channel = (this.channel = new ControlChannel(nc, this.opts.run, this.counters, hostId));
    this.joiner = new Joiner({ nc, run: this.opts.run, hostId, channel, log, joinTimeoutMs: this.opts.joinTimeoutMs ?? 60_000, closing: () => this.closing, heard: () => this.watch.heard(), ended: (end) => this.onRunEnded(end) });
    this.subs.push(nc.subscribe(this.subj.ctlAll, { callback: (err, msg) => (err ? undefined : this.onControl(msg)) }));
    const readies: Promise<void>[] = [];
    const lanes = this.batched() ? this.joinLanesBatched(readies) : this.joinLanes(readies);
    try {
      await Promise.all(lanes);
      await Promise.all(readies);
    } catch (e) {
      // closed meanwhile (shutdown, abort, a silent orchestrator): `done` says why
      if (!this.closing) throw e;
    }
    collectBeforeRounds();
    this.cpu.ready();
  }

  /**
   * Whether this host joins its agents many at a time (`joins`): a packed host whose agents are
   * all named (an external host asking for the next free agents joins them one by one).
   */
  private batched(): boolean {
    return this.opts.agents.length > 1 && this.opts.agents.every((a) => a.index >= 0);
  }

  /**
   * Every hosted agent sends its own join request; at most JOIN_CONCURRENCY are in flight per host,
   * so 2,500 agents packed in one worker do not flood the orchestrator (and time out). A lane goes
   * on to its next agent once the welcomed one has subscribed: its `ready` waits for the shared
   * flush on its own (pushed to `readies`), not holding the lane for that round trip.
   */
  private joinLanes(readies: Promise<void>[]): Promise<void>[] {
    const queue = this.opts.agents.map((a, i) => ({ ...a, seq: i }));
    // taken by position, not shift(): a 25,000-agent queue lives in V8's large-object space, where
    // every shift() moves all that remain (1.5 s of a worker's join at 100,000 agents)
    let taken = 0;
    const take = () => (taken < queue.length ? queue[taken++] : undefined);
    const next = async (): Promise<void> => {
      for (let a = take(); a; a = take()) {
        const joined = await this.joinOne(a.role, a.index, a.seq);
        if (!joined) continue;
        joined.ready.catch(() => undefined); // awaited after the lanes: not an unhandled rejection meanwhile
        readies.push(joined.ready);
      }
    };
    return Array.from({ length: Math.min(JOIN_CONCURRENCY, queue.length) }, next);
  }

  /**
   * The hosted agents asked for JOIN_BATCH at a time (`joins`), JOIN_BATCH_CONCURRENCY requests in
   * flight; each answer's agents are subscribed and said ready together (`readies`) after one flush.
   */
  private joinLanesBatched(readies: Promise<void>[]): Promise<void>[] {
    const { agents } = this.opts;
    let taken = 0;
    let seq = 0;
    const next = async (): Promise<void> => {
      while (taken < agents.length) {
        let rest = agents.slice(taken, (taken += JOIN_BATCH));
        while (rest.length) {
          const welcomes = await this.joiner!.joinMany(rest, seq++);
          if (!welcomes) return;
          for (const w of welcomes) this.hostAgent(w);
          const ready = this.joiner!.readyMany(welcomes.map((w) => w.id));
          ready.catch(() => undefined); // awaited after the lanes
          readies.push(ready);
          rest = rest.slice(welcomes.length);
        }
      }
    };
    return Array.from({ length: Math.min(JOIN_BATCH_CONCURRENCY, Math.ceil(agents.length / JOIN_BATCH)) }, next);
  }

  /** Joins one agent and subscribes it; `ready` resolves once it has said so (undefined: the host closed meanwhile). */
  private async joinOne(role: RoleName, index: number, seq: number): Promise<{ ready: Promise<void> } | undefined> {
    const welcome = await this.joiner!.join(role, index, seq);
    if (!welcome) return undefined;
    this.hostAgent(welcome);
    return { ready: this.joiner!.ready(welcome.id) };
  }

  /** A welcomed agent, run here: subscribed, and (external) kept alive by its host's heartbeat. */
  private hostAgent(welcome: Welcome): void {
    const scenario = catalog.get(welcome.scenario);
    if (!scenario) throw new Error(`the run is of scenario "${welcome.scenario}", which this agent does not know: it is not built in, so start the agent with --scenario <the folder, module or package given to mecsim run>`);
    this.run(scenario, welcome);
    this.hosted.push({ id: welcome.id, role: welcome.role });
    if (welcome.heartbeatMs) {
      this.joiner!.startHeartbeat(welcome.heartbeatMs, welcome.id);
      this.watch.arm(welcome.heartbeatMs);
    }
  }

  /** The welcomed agent's runtime: the leader's, or a follower's. */
  private run(scenario: Scenario, w: Welcome): void {
    const deps = { nc: this.nc!, run: this.opts.run, counters: this.counters, channel: this.channel!, log: this.opts.log, cpu: this.cpu };
    if (w.id === w.leader) return void this.subs.push(new LeaderRuntime(deps, scenario, w).subscribe());
    const follower = new FollowerRuntime((this.followerDeps ??= { ...deps, hostId: this.opts.hostId, replies: new ReplyBatches(this.nc!, { counters: this.counters, rows: { run: this.opts.run, host: this.opts.hostId }, lost: (e, n) => this.opts.log.warn({ err: String(e), replies: n }, 'replies not sent: the connection refused them (closing)') }), lastReplies: new LastReplies() }), scenario, w);
    this.subs.push(follower.subscribeDirect());
    let fanout = this.broadcasts.get(w.role);
    if (!fanout) this.broadcasts.set(w.role, (fanout = new BroadcastFanout(this.nc!, this.opts.run, this.counters, this.subj.bcast(w.role), w.maxBytes)));
    const sub = fanout.add(follower);
    if (sub) this.subs.push(sub);
  }

  private onControl(msg: Msg): void {
    const r = this.channel!.readMsg(msg, ['shutdown', 'abort', 'heartbeat'], 1 << 20, orchestratorOnly);
    if (!r) return;
    this.watch.heard();
    // a spare, which no welcome told the period, learns it here
    if (r.kind === 'heartbeat') return this.watch.arm(r.body.everyMs);
    this.onRunEnded(runEndOf(r));
  }

  /** The orchestrator says the run is over: a completed run's hosts say bye and exit 0, a failed one's exit 1. */
  private onRunEnded(end: RunEnd): void {
    // told twice (on ctl.all, and in answer to a join still asking): one bye
    if (this.closing) return;
    if (end.kind === 'abort') {
      this.opts.log.error({ reason: end.reason }, 'the orchestrator aborted the run');
      return void this.close(1);
    }
    // a spare that never got an agent: nothing to report (the orchestrator counts the hosts that joined)
    if (this.hosted.length > 0) this.bye();
    else this.opts.log.info('the run ended before this host was given an agent');
    void this.close(0);
  }

  /** Nothing from the orchestrator for longer than the watchdog's limit: it is gone, and so is this host. */
  private onOrchestratorSilent(silentMs: number, limitMs: number): void {
    if (this.closing) return;
    const s = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    this.opts.log.error({ silentMs, limitMs, agents: this.hosted.length }, `heard nothing from the orchestrator for ${s(silentMs)} (the limit is ${s(limitMs)}): taking it for gone and exiting`);
    void this.close(EXIT_ORCHESTRATOR_SILENT);
  }

  /** The answer to `shutdown`: what this host cost, and its counters. */
  private bye(): void {
    const { hostId } = this.opts;
    this.channel!.send(this.subj.orchBye(hostId), 'bye', {
      host: hostId,
      pid: process.pid,
      agents: this.hosted.length,
      ...this.cpu.report(),
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      counters: this.counters.snapshot(),
    });
  }

  async close(code: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.joiner?.stop();
    this.watch.stop();
    try {
      // flushed (the bye is out), then closed: a drain unsubscribes every subscription one write at a
      // time, which took most of a second of CPU for a worker of 2,500 agents
      await this.nc?.flush();
      await this.nc?.close();
    } catch {
      /* already closed */
    }
    this.finishDone(code);
  }
}

export { DEFAULT_MAX_BYTES };
