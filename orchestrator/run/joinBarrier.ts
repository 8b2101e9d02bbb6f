/**
 * The join barrier: every agent of the run asks to join (`join` on its host's join subject), is
 * welcomed with its parameters, and says `ready` once subscribed; the run starts when all are.
 * A retried join (same nonce) gets the same welcome. With external agents, a join may ask for the
 * next free agent of a role (dynamic join), a host with none free waits as a spare (`retry`), and
 * hosts say `alive`: the supervisor takes a silent one for dead and frees its agents
 * (`free`), which rejoin — on a spare, or on the same host if it was only stalled.
 *
 * Every message is validated (bus/control.ts) and its sender checked: a host may join only as an
 * agent the plan gives it (spawned) or a free one (external), and say `ready` only for an agent it
 * was welcomed for. A bad one is dropped and counted.
 *
 * A packed host asks for many agents in one request (`joins`), is answered with the welcomes of as
 * many as one message carries (`welcomes`, in the order asked; it asks again for the rest), and says
 * they are ready in one message (`readies`). Each agent of those is checked as its own `join` or
 * `ready` would be: the request as a whole is refused if any agent it names may not be taken.
 *
 * A welcome is the join request's reply, so it cannot be cut into frames like a slot answer: a run
 * whose welcomes the server's max_payload cannot carry (the leader's holds the roster, about 29 bytes
 * an agent) is refused before any agent starts, saying what to do.
 */
import type { Msg } from '@nats-io/transport-node';
import { serverMaxPayload } from '../../bus/chunks.ts';
import { Speakers, type JoinBody, type JoinsBody, type Placement, type Welcome } from '../../bus/control.ts';
import { hostOfSubject, ORCH } from '../../bus/subjects.ts';
import { mechanismOf } from '../../scenarios/contract.ts';
import type { AgentSpec } from '../../scenarios/types.ts';
import type { Parts } from './context.ts';
import { RunError } from './plan.ts';

/** external agent hosts say `alive` this often; one silent for HEARTBEAT_MISSES beats is taken for dead */
export const HEARTBEAT_MS = Number(process.env.MECSIM_HEARTBEAT_MS ?? 2000);
export const HEARTBEAT_MISSES = 5;

/** The largest join-subject message accepted. */
const MAX_JOIN_BYTES = 1 << 16;

/** What the barrier asks of the supervisor. */
export interface BarrierHooks {
  /** when this agent's process was spawned (performance.now()), if it was */
  spawnedAt(id: string): number | undefined;
  /** a rejoining agent (restarted or replacement) is ready again */
  rejoined(id: string): void;
}

/** The external hosts that joined: their agents, when each last said `alive`, and the ones taken for dead. */
export class ExternalHosts {
  readonly agents = new Map<string, string[]>();
  readonly lastSeen = new Map<string, number>();
  readonly dead = new Set<string>();
  /** hosts alive now (each answers the shutdown with a `bye`) */
  readonly live = new Set<string>();

  add(host: string, id: string): void {
    this.live.add(host);
    this.agents.set(host, [...(this.agents.get(host) ?? []), id]);
    this.lastSeen.set(host, Date.now());
  }
}

export class JoinBarrier {
  /** agent id → ms from its spawn (external: its join request) to ready */
  readonly joined = new Map<string, number>();
  readonly welcomed = new Set<string>();
  /** agents freed by a dead process (or silent host): they join again, as rejoining agents */
  readonly rejoining = new Set<string>();
  readonly speakers: Speakers;
  readonly hosts = new ExternalHosts();
  private readonly byKey: Map<string, AgentSpec>;
  /** join nonce → agent id: a retried join gets the same welcome */
  private readonly byNonce = new Map<string, string>();
  /** joins nonce → the agents welcomed in its answer: a retried request gets the same welcomes */
  private readonly batchByNonce = new Map<string, string[]>();
  /** external agents: when each one's join request came (no spawn time to measure from) */
  private readonly joinRequestAt = new Map<string, number>();
  /** each follower's position in the roster (made at the first welcome) */
  private positions?: RosterPositions;
  private allJoined!: () => void;
  private readonly all: Promise<void>;
  private readonly joinPrefix: string;

  constructor(
    private readonly p: Parts,
    private readonly hooks: BarrierHooks,
  ) {
    this.speakers = new Speakers(p.info.leaderId);
    this.byKey = new Map(p.info.agents.map((a) => [`${a.role}:${a.index}`, a]));
    this.all = new Promise<void>((r) => (this.allJoined = r));
    this.joinPrefix = `${p.info.subj.join}.`;
  }

  /**
   * Listens on every host's join subject (and drops what comes on the bare one: it names no host).
   * Throws a RunError first if the server cannot carry the welcomes (see `checkWelcomesFit`).
   */
  subscribe(): void {
    this.checkWelcomesFit();
    const { nc } = this.p;
    const cb = (err: Error | null, msg: Msg) => (err ? undefined : this.onMessage(msg));
    nc.subscribe(this.p.info.subj.joinAll, { callback: cb });
    nc.subscribe(this.p.info.subj.join, { callback: cb });
  }

  /** Resolves when every agent is ready; rejects after `ms` naming the ones that are not. */
  async wait(ms: number): Promise<void> {
    const { agents } = this.p.info;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => {
        const missing = agents.filter((a) => !this.joined.has(a.id)).map((a) => a.id);
        rej(new RunError(`${missing.length} of ${agents.length} agents did not join within ${ms} ms: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`));
      }, ms);
    });
    try {
      await this.p.state.race(Promise.race([this.all, timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  /** A dead process's (or silent host's) agents: free to join again, as rejoining agents; an external host loses its say for them. */
  free(ids: string[]): void {
    for (const id of ids) {
      this.welcomed.delete(id);
      this.joined.delete(id);
      this.rejoining.add(id);
    }
    for (const [n, a] of this.byNonce) if (this.rejoining.has(a)) this.byNonce.delete(n);
    for (const [n, ids] of this.batchByNonce) if (ids.some((a) => this.rejoining.has(a))) this.batchByNonce.delete(n);
    if (this.p.info.external) this.speakers.revoke(ids);
  }

  private onMessage(msg: Msg): void {
    const { channel, info } = this.p;
    info.counters.received('join', msg.data.byteLength);
    const host = hostOfSubject(msg.subject, this.joinPrefix);
    const r = channel.readMsg(msg, ['join', 'joins', 'ready', 'readies', 'alive'], MAX_JOIN_BYTES, (kind, from) => this.speakers.check(kind, host, from));
    if (!r) return;
    if (r.kind === 'join') return this.onJoin(msg, host!, r.body);
    if (r.kind === 'joins') return this.onJoins(msg, host!, r.body);
    if (r.kind === 'ready') return this.onReady(msg.subject, r.from, r.body.id);
    if (r.kind === 'readies') return this.onReadies(msg.subject, host!, r.body.ids);
    if (r.body.worker !== host) return void channel.drop('forged-sender', msg.subject, r.from, `alive naming host ${r.body.worker} on the subject of ${host}`);
    this.onAlive(msg.subject, host!, r.from);
  }

  private welcomeOf(agent: AgentSpec): Welcome {
    const { scenario, cfg, leaderId, roster, external, opts } = this.p.info;
    const leader = agent.id === leaderId;
    return {
      id: agent.id,
      role: agent.role,
      index: agent.index,
      scenario: scenario.id,
      mechanism: mechanismOf(scenario, cfg),
      init: this.p.info.parts.agentInit(cfg, agent),
      leader: leaderId,
      position: leader ? undefined : this.positionOf(agent),
      roster: leader ? roster : undefined,
      placement: leader && !external ? this.placement() : undefined,
      roundTimeoutMs: opts.roundTimeoutMs ?? 30_000,
      maxBytes: 4 * 1024 * 1024,
      resume: leader ? this.p.state.leaderResume : undefined,
      rejoin: !leader && this.rejoining.has(agent.id) ? true : undefined,
      heartbeatMs: external ? HEARTBEAT_MS : undefined,
      restarted: leader && this.rejoining.has(agent.id) ? true : undefined,
      link: this.p.info.link?.welcomeFor(agent, roster),
    };
  }

  /** a follower's position in the leader's roster */
  private positionOf(agent: AgentSpec): number | undefined {
    return (this.positions ??= new RosterPositions(this.p.info.roster)).of(agent);
  }

  /** The planned host of every roster agent (spawned agents: the plan fixes it), for the leader's sender check. */
  private placement(): Placement {
    const hosts: string[] = [];
    const at = new Map<string, number>();
    const of = this.p.info.roster.map((a) => {
      const h = this.speakers.host(a.id) ?? '';
      let k = at.get(h);
      if (k === undefined) at.set(h, (k = hosts.push(h) - 1));
      return k;
    });
    return { hosts, of };
  }

  /**
   * The leader's welcome (its roster grows with the run) and one of each role's: each must fit in
   * the server's max_payload, or the run is refused before any agent starts rather than failing
   * at the join. (A restarted leader's welcome also carries its saved state: `reply` checks that one.)
   */
  private checkWelcomesFit(): void {
    const { agents, leaderId, byId } = this.p.info;
    const max = serverMaxPayload(this.p.nc);
    const oneOfEachRole = new Map<string, AgentSpec>([['', byId.get(leaderId)!]]);
    for (const a of agents) if (!oneOfEachRole.has(a.role)) oneOfEachRole.set(a.role, a);
    for (const agent of oneOfEachRole.values()) {
      const bytes = this.p.channel.encode('welcome', this.welcomeOf(agent)).byteLength;
      if (bytes > max) throw new RunError(this.tooLarge(agent, bytes, max), 2);
    }
  }

  /** Why a welcome of `bytes` cannot be sent, and what to do. */
  private tooLarge(agent: AgentSpec, bytes: number, max: number): string {
    const { leaderId, roster, opts } = this.p.info;
    const what = agent.id === leaderId ? `the leader ${agent.id}'s welcome, which carries the roster of its ${roster.length} followers,` : `the welcome of ${agent.id}`;
    const server = opts.natsUrl ? `the NATS server's max_payload (${max} bytes)` : `the private nats-server's max_payload (${max} bytes)`;
    const need = Math.ceil((bytes + 64 * 1024) / (1024 * 1024));
    return `${what} is ${bytes} bytes, more than ${server}; a welcome is the reply to a join request and is not cut into pieces. Run fewer agents, or run on a nats-server configured with \`max_payload: ${need}MB\` (and max_pending at least that) and pass it with --nats`;
  }

  private reply(msg: Msg, kind: 'welcome' | 'reject' | 'retry' | 'shutdown' | 'abort', body: Welcome | { reason: string } | Record<string, never>): void {
    const { channel, nc, state } = this.p;
    const data = channel.encode(kind, body as never);
    const max = serverMaxPayload(nc);
    // checked up front for a fresh run; a restarted leader's saved state can still outgrow it
    if (kind === 'welcome' && data.byteLength > max) return state.fail(new RunError(this.tooLarge(this.p.info.byId.get((body as Welcome).id)!, data.byteLength, max), 2));
    channel.publish(msg.reply!, kind, data);
  }

  /** What every join request (`join`, `joins`) is checked for first; true when it was answered or dropped here. */
  private settledFirst(msg: Msg, host: string, worker: string): boolean {
    const { channel, info, state } = this.p;
    // the answer goes to the joining host's own inbox, and nowhere else
    if (!msg.reply || !msg.reply.startsWith(`${info.subj.inbox(host)}.`)) return channel.drop('forged-sender', msg.subject, undefined, `join from host ${host} asking for its answer on ${msg.reply ?? '(nothing)'}`), true;
    if (host === ORCH) return this.reply(msg, 'reject', { reason: `host id ${ORCH} is the orchestrator's` }), true;
    if (worker !== host) return channel.drop('forged-sender', msg.subject, undefined, `join naming host ${worker} on the subject of ${host}`), true;
    // the run is over: the host is told what the hosts that joined were told on ctl.all (a spare
    // started as the run ended would otherwise wait for a slot until its join timeout)
    if (state.finished) return (state.failure === undefined ? this.reply(msg, 'shutdown', {}) : this.reply(msg, 'abort', { reason: state.failure.slice(0, 200) })), true;
    return false;
  }

  /** The agent `role` `index` if `host` may take it now, else why not. */
  private takeable(host: string, role: string, index: number): AgentSpec | string {
    const { runId } = this.p.info;
    const agent = this.byKey.get(`${role}:${index}`);
    if (!agent) return `run ${runId} has no agent ${role} ${index}`;
    if (this.welcomed.has(agent.id)) return `${agent.id} has already joined`;
    if (!this.mayTake(host, agent.id)) return `${agent.id} is not hosted by ${host} in run ${runId}`;
    return agent;
  }

  /** `host` takes `agent`: it is welcomed (and, external, granted to the host and timed from here). */
  private take(host: string, agent: AgentSpec, body: { host: string; pid: number; worker: string }): void {
    this.welcomed.add(agent.id);
    if (!this.p.info.external) return;
    this.joinRequestAt.set(agent.id, performance.now());
    this.speakers.grant(host, [agent.id]);
    this.hosts.add(host, agent.id);
    this.p.info.log.info({ agent: agent.id, host: body.host, pid: body.pid, worker: body.worker }, 'external agent joined');
  }

  private onJoin(msg: Msg, host: string, body: JoinBody): void {
    const { runId, agents, byId, external } = this.p.info;
    if (this.settledFirst(msg, host, body.worker)) return;
    const { role, nonce } = body;
    const again = nonce !== undefined ? this.byNonce.get(nonce) : undefined;
    if (again !== undefined) {
      // the agent's first request was answered too late (or lost): answer the retry the same way
      if (this.joined.has(again)) return this.reply(msg, 'reject', { reason: `${again} has already joined` });
      if (this.speakers.host(again) === host) return this.reply(msg, 'welcome', this.welcomeOf(byId.get(again)!));
    }
    let index = body.index;
    if (index === -1) {
      // Dynamic join: the next free agent of that role.
      const free = agents.find((a) => a.role === role && !this.welcomed.has(a.id) && this.mayTake(host, a.id));
      if (!free) {
        if (!agents.some((a) => a.role === role)) return this.reply(msg, 'reject', { reason: `run ${runId} has no ${role} agents` });
        if (!external) return this.reply(msg, 'reject', { reason: `host ${host} is not one of run ${runId}'s processes` });
        // every agent of the role has joined: the caller waits as a spare, and takes over the agents
        // of a host that dies (external agents) — or gives up at its join timeout
        return this.reply(msg, 'retry', { reason: `no free ${role} slot in run ${runId} (waiting as a spare)` });
      }
      index = free.index;
    }
    const agent = this.takeable(host, role, index);
    if (typeof agent === 'string') return this.reply(msg, 'reject', { reason: agent });
    this.take(host, agent, body);
    if (nonce !== undefined) this.byNonce.set(nonce, agent.id);
    this.reply(msg, 'welcome', this.welcomeOf(agent));
  }

  /**
   * Many agents of one host: each checked as its own `join` would be (any that may not be taken
   * refuses the request), then welcomed, as many as one answer carries, in the order asked.
   */
  private onJoins(msg: Msg, host: string, body: JoinsBody): void {
    if (this.settledFirst(msg, host, body.worker)) return;
    const { byId } = this.p.info;
    const again = this.batchByNonce.get(body.nonce);
    if (again !== undefined) {
      // the first answer came too late (or was lost): the same welcomes again
      const joined = again.find((id) => this.joined.has(id));
      if (joined !== undefined) return this.reply(msg, 'reject', { reason: `${joined} has already joined` });
      if (again.every((id) => this.speakers.host(id) === host)) return void this.replyWelcomes(msg, again.map((id) => byId.get(id)!));
    }
    const asked: AgentSpec[] = [];
    const seen = new Set<string>();
    for (const { role, index } of body.agents) {
      const agent = this.takeable(host, role, index);
      if (typeof agent === 'string') return this.reply(msg, 'reject', { reason: agent });
      if (seen.has(agent.id)) return this.reply(msg, 'reject', { reason: `${agent.id} is asked for twice` });
      seen.add(agent.id);
      asked.push(agent);
    }
    const answered = this.replyWelcomes(msg, asked);
    for (const agent of answered) this.take(host, agent, body);
    this.batchByNonce.set(body.nonce, answered.map((a) => a.id));
  }

  /**
   * Answers with the welcomes of the longest prefix of `agents` that fits in the server's
   * max_payload (at least the first: each fits, checked before the run started); returns that prefix.
   */
  private replyWelcomes(msg: Msg, agents: AgentSpec[]): AgentSpec[] {
    const { channel, nc } = this.p;
    const max = serverMaxPayload(nc);
    const welcomes = agents.map((a) => this.welcomeOf(a));
    for (let n = agents.length; ; n = Math.ceil(n / 2)) {
      const data = channel.encode('welcomes', { welcomes: welcomes.slice(0, n) });
      if (data.byteLength <= max) {
        channel.publish(msg.reply!, 'welcomes', data);
        return agents.slice(0, n);
      }
      // one welcome that does not fit (checked before the run, so a restarted leader's saved state grew)
      if (n === 1) return this.p.state.fail(new RunError(this.tooLarge(agents[0], data.byteLength, max), 2)), [];
    }
  }

  /** A spawned host may join only as the agents the plan gives it; an external host as any free agent. */
  private mayTake(host: string, id: string): boolean {
    return this.p.info.external || this.speakers.host(id) === host;
  }

  private onReady(subject: string, from: string, id: string): void {
    const { info, channel } = this.p;
    if (from !== id) return void channel.drop('forged-sender', subject, from, `ready for ${id} from ${from}`);
    if (!this.welcomed.has(id) || this.joined.has(id)) return void channel.drop('unexpected-sender', subject, id, 'ready without join');
    const since = this.hooks.spawnedAt(id) ?? this.joinRequestAt.get(id);
    // keyed by the plan's own id string, not the message's copy of it (one string an agent, not two)
    this.joined.set(info.byId.get(id)?.id ?? id, since !== undefined ? performance.now() - since : 0);
    const host = info.external ? this.speakers.host(id) : undefined;
    if (host) this.hosts.lastSeen.set(host, Date.now());
    if (this.rejoining.delete(id)) return this.hooks.rejoined(id);
    info.opts.onProgress?.({ phase: 'join', joined: this.joined.size, total: info.agents.length });
    if (this.joined.size === info.agents.length) this.allJoined();
  }

  /** Several of `host`'s agents ready: each checked as its own `ready` would be. */
  private onReadies(subject: string, host: string, ids: string[]): void {
    for (const id of ids) {
      const holder = this.speakers.host(id);
      if (holder !== host) this.p.channel.drop('forged-sender', subject, host, `ready for ${id} from host ${host}, which ${holder ? `is not its host (${holder} is)` : 'holds no such agent'}`);
      else this.onReady(subject, id, id);
    }
  }

  private onAlive(subject: string, host: string, from: string): void {
    const { info, state, channel } = this.p;
    if (!this.hosts.agents.has(host)) return void channel.drop('unexpected-sender', subject, from, 'alive from a host that hosts no agent of this run');
    if (this.hosts.dead.has(host)) {
      // taken for dead too early (a stalled process, a paused container): if no spare has taken
      // its agents yet, it gets them back; otherwise its word no longer counts
      const ids = (this.hosts.agents.get(host) ?? []).filter((id) => this.rejoining.has(id) && !this.welcomed.has(id));
      const r = state.restarts.find((x) => x.worker === host && x.rejoinMs === undefined);
      if (!r || ids.length !== r.ids!.length) return void channel.drop('stale', subject, from, `alive from ${host}, whose agents a spare has taken over`);
      this.hosts.dead.delete(host);
      this.hosts.live.add(host);
      for (const id of ids) {
        this.rejoining.delete(id);
        this.welcomed.add(id);
        this.joined.set(id, 0);
      }
      this.speakers.grant(host, ids);
      state.restarts.splice(state.restarts.indexOf(r), 1);
      info.log.warn({ host }, `external agent host ${host} is alive after all: it keeps its agents`);
    }
    this.hosts.lastSeen.set(host, Date.now());
  }
}

/**
 * Each follower's position in the roster. The roster is sorted by role, then index; where each role's
 * indices run on without a gap (every built-in scenario's), a position is its role's first position
 * plus its index, and nothing is kept per agent (a map of 100,000 ids was about 40 bytes an agent of
 * the orchestrator's peak, whose line is 4,096); otherwise a map of ids.
 */
export class RosterPositions {
  private readonly first = new Map<string, number>();
  private readonly byId?: Map<string, number>;

  constructor(private readonly roster: AgentSpec[]) {
    let runs = true;
    roster.forEach((a, i) => {
      const f = this.first.get(a.role);
      if (f === undefined) this.first.set(a.role, i - a.index);
      else if (f !== i - a.index) runs = false;
    });
    if (!runs) this.byId = new Map(roster.map((a, i) => [a.id, i]));
  }

  of(agent: AgentSpec): number | undefined {
    if (this.byId) return this.byId.get(agent.id);
    const f = this.first.get(agent.role);
    const at = f === undefined ? -1 : f + agent.index;
    return this.roster[at]?.id === agent.id ? at : undefined;
  }
}
