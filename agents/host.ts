/**
 * An agent host: one NATS connection carrying one agent (placement `process`) or many (placement
 * `packed:K`). Every hosted agent is still its own subscriber with its own subjects and its own
 * parameters. The host turns a scenario's Leader / Follower objects into message handlers; the
 * plumbing here is shared by every scenario and role.
 */
import { hostname } from 'node:os';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decode, encodeEnvelope, encodeEnvelopeScratch, DEFAULT_MAX_BYTES, type Body, type Envelope } from '../bus/codec.ts';
import { Counters } from '../bus/counters.ts';
import { connectBus, type BusOptions } from '../bus/connection.ts';
import { publishFast } from '../bus/fastpublish.ts';
import { subscribeData } from '../bus/fastparse.ts';
import { LastReply } from './lastReply.ts';
import { Gatherer, NIL, type GatherTarget } from '../bus/gather.ts';
import { familyOf, subjects } from '../bus/subjects.ts';
import { getScenario } from '../scenarios/index.ts';
import { targetsOf } from '../scenarios/inprocess.ts';
import type { AgentSpec, Follower, JsonObject, Leader, LeaderContext, RoleName, RoundRequest, RoundResult, Scenario } from '../scenarios/types.ts';

export interface HostOptions {
  run: string;
  bus: BusOptions;
  /** the agents to host: role and index (index -1: ask the orchestrator for one) */
  agents: { role: RoleName; index: number }[];
  hostId: string;
  log: Logger;
  /** how long to keep trying to join (ms) */
  joinTimeoutMs?: number;
}

/** The orchestrator's answer to a join request. */
export interface Welcome {
  id: string;
  role: RoleName;
  index: number;
  scenario: string;
  init: JsonObject;
  leader: string;
  /** the leader's followers (only sent to the leader) */
  roster?: AgentSpec[];
  roundTimeoutMs: number;
  maxBytes: number;
  /** leader only, after a restart: the state saved after the last completed slot (from JetStream KV) */
  resume?: { slot: number; snapshot: JsonObject };
  /** a follower whose process was restarted during the run: it waits for the leader's replay */
  rejoin?: boolean;
  /** a leader whose process was restarted during the run: the slot it is asked for first runs again */
  restarted?: boolean;
  /** agents started elsewhere (`--agents external`): say `alive` on the join subject this often (ms) */
  heartbeatMs?: number;
}

export interface SlotMetrics {
  rounds: number;
  /** messages published for the mechanism (leader's requests + followers' replies) */
  messages: number;
  /** copies the server delivered (a broadcast to n agents is n deliveries) */
  deliveries: number;
  bytes: number;
  timeToEquilibriumMs: number;
  roundLatencyMs: number[];
  missingReplies: number;
  nilReplies: number;
  messagesByKind: Record<string, number>;
  /** CPU time the leader's process spent during the slot (user + system), ms */
  leaderCpuMs: number;
  /** the kind of each round, aligned with roundLatencyMs */
  roundKinds: string[];
  /** requests re-sent to agents whose reply was missing (lost messages, restarted agents); not in `messages` */
  resent: number;
}

export interface SlotDone {
  slot: number;
  outcome: import('../scenarios/types.ts').SlotOutcome;
  trajectory: Record<string, number | string | boolean | null>[];
  metrics: SlotMetrics;
  snapshot?: JsonObject;
}

/** join requests in flight per host */
const JOIN_CONCURRENCY = 64;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AgentHost {
  nc?: NatsConnection;
  readonly counters: Counters;
  private readonly subj: ReturnType<typeof subjects>;
  private readonly subs: Subscription[] = [];
  /** the last broadcast decoded by this host: agents packed here receive identical bytes, decoded once */
  private lastBcast?: { subject: string; data: Uint8Array; decoded: ReturnType<typeof decode> };
  private closing = false;
  /** resolves when the host has been told to shut down (or lost its connection for good) */
  readonly done: Promise<number>;
  private finishDone!: (code: number) => void;
  readonly hosted: { id: string; role: RoleName }[] = [];

  constructor(private readonly opts: HostOptions) {
    this.counters = new Counters(opts.log);
    this.subj = subjects(opts.run);
    this.done = new Promise((r) => (this.finishDone = r));
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    this.nc = await connectBus({ ...this.opts.bus, name: this.opts.bus.name ?? `mecsim-${this.opts.hostId}`, inboxPrefix: this.subj.inbox(this.opts.hostId) }, log);
    void this.nc.closed().then((err) => {
      if (!this.closing) {
        log.error({ err: err ? String(err) : undefined }, 'NATS connection closed for good');
        this.finishDone(3);
      }
    });
    this.subscribe(this.subj.ctlAll, (msg) => this.onControl(msg));
    // Every hosted agent sends its own join request; at most JOIN_CONCURRENCY are in flight per
    // host, so 2,500 agents packed in one worker do not flood the orchestrator (and time out).
    const queue = this.opts.agents.map((a, i) => ({ ...a, seq: i }));
    const next = async (): Promise<void> => {
      for (let a = queue.shift(); a; a = queue.shift()) await this.joinOne(a.role, a.index, a.seq);
    };
    await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, queue.length) }, next));
    this.cpuAtReady = process.cpuUsage();
  }

  private cpuAtReady?: NodeJS.CpuUsage;
  private heartbeat?: NodeJS.Timeout;

  private subscribe(subject: string, cb: (msg: Msg) => void): void {
    this.subs.push(this.nc!.subscribe(subject, { callback: (err, msg) => (err ? undefined : cb(msg)) }));
  }

  private publish(subject: string, kind: string, env: Omit<Envelope, 'v' | 'run' | 'kind'>, family = familyOf(subject)): void {
    const data = encodeEnvelope(this.opts.run, env.slot, env.round, env.from, kind, env.body);
    this.nc!.publish(subject, data);
    this.counters.sent(family, kind, data.byteLength);
  }

  private async joinOne(role: RoleName, index: number, seq: number): Promise<void> {
    const nc = this.nc!;
    const deadline = Date.now() + (this.opts.joinTimeoutMs ?? 60_000);
    // `nonce` makes a retried request idempotent: the orchestrator answers a repeat with the same welcome
    const body = { role, index, pid: process.pid, host: hostname(), worker: this.opts.hostId, nonce: `${hostname()}:${process.pid}:${this.opts.hostId}:${seq}` };
    const data = encodeEnvelope(this.opts.run, 0, 0, `${role}-${index < 0 ? 'new' : index}`, 'join', body);
    let welcome: Welcome | undefined;
    let spareSaid = false;
    for (let attempt = 0; !welcome; attempt++) {
      if (this.closing) return; // the run ended (or was aborted) while this agent waited as a spare
      try {
        this.counters.sent('join', 'join', data.byteLength);
        const reply = await nc.request(this.subj.join, data, { timeout: 10_000 });
        const d = decode<Welcome & { reason?: string }>(reply.data, this.opts.run, 64 * 1024 * 1024);
        if (!d.ok) throw new Error(`bad join reply: ${d.detail}`);
        if (d.env.kind === 'reject') throw new JoinRejected(String(d.env.body.reason));
        if (d.env.kind === 'retry') {
          if (!spareSaid) this.opts.log.info({ role, reason: d.env.body.reason }, 'waiting as a spare: this run has no free slot of this role yet');
          spareSaid = true;
          throw new Error(`the run has no free ${role} slot`);
        }
        welcome = d.env.body;
      } catch (e) {
        if (this.closing) return;
        if (e instanceof JoinRejected || Date.now() > deadline) throw new Error(`${role} ${index}: join failed: ${(e as Error).message}`);
        await sleep(Math.min(1000, 100 * (attempt + 1)));
      }
    }
    const scenario = getScenario(welcome.scenario);
    if (!scenario) throw new Error(`unknown scenario ${welcome.scenario} in join reply`);
    if (welcome.id === welcome.leader) this.becomeLeader(scenario, welcome);
    else this.becomeFollower(scenario, welcome);
    this.hosted.push({ id: welcome.id, role: welcome.role });
    if (welcome.heartbeatMs && !this.heartbeat) {
      // the orchestrator has no child process to watch: a host that stops saying `alive` is taken for
      // dead, and its agents are given to a replica that joins
      const body = { host: hostname(), pid: process.pid, worker: this.opts.hostId };
      const beat = () => {
        if (this.closing || !this.nc || this.nc.isClosed()) return;
        this.publish(this.subj.join, 'alive', { slot: 0, round: 0, from: welcome!.id, body });
      };
      this.heartbeat = setInterval(beat, welcome.heartbeatMs);
    }
    await nc.flush(); // subscriptions are live at the server before we say we are ready
    this.publish(this.subj.join, 'ready', { slot: 0, round: 0, from: welcome.id, body: { id: welcome.id } });
  }

  private becomeFollower(scenario: Scenario, w: Welcome): void {
    const { log } = this.opts;
    const ctx = { id: w.id, role: w.role, index: w.index };
    let follower: Follower = scenario.createFollower(w.init, ctx);
    const replySubject = this.subj.reply(w.leader, w.id);
    // the last request answered and its reply's bytes, for a request the leader re-sends
    const last = new LastReply();
    // The slot the agent is in, and its state at that slot's start (if it keeps any across slots).
    // A restarted leader announces that it runs the slot again (`rerun`): the follower goes back to
    // its state at the slot's start. A follower that keeps state across slots sends that state to
    // the leader at each slot's start (`state`), so a restarted process of this agent can be given it
    // back (`restore`) before the slot is replayed to it.
    let slot = -1;
    let slotStart: JsonObject | undefined;
    // an agent restarted during the run answers nothing until the leader has replayed its slot
    let awaitingReplay = w.rejoin === true;
    let stateLost = false;
    const restart = (snapshot: JsonObject | undefined) => {
      follower = scenario.createFollower(w.init, ctx, snapshot);
      last.forget();
    };
    // the family and subject are the subscription's: the hot path never builds or decodes a message subject
    const onMsg = (data: Uint8Array, family: 'bcast' | 'direct', subject: string) => {
      this.counters.received(family, data.byteLength);
      const d = this.decodeShared(data, w.maxBytes, family, subject);
      if (!d.ok) return this.counters.drop(d.reason, subject, d.from, d.detail);
      const env = d.env;
      if (env.from !== w.leader) return this.counters.drop('unexpected-sender', subject, env.from, `only ${w.leader} sends requests`);
      if (env.kind === 'restore' || env.kind === 'replayed' || env.kind === 'rerun') {
        if (!env.noreply) return this.counters.drop('unknown-kind', subject, env.from, `${env.kind} must be a notification`);
        if (env.kind === 'replayed') {
          if (stateLost) return; // said so at the restore: stays silent, the orchestrator ends the run
          awaitingReplay = false;
        }
        else if (env.kind === 'rerun') {
          if (env.slot === slot) {
            log.warn({ agent: w.id, slot }, 'the restarted leader runs the slot again: back to the state at its start');
            restart(slotStart);
          }
        } else {
          const snap = (env.body as { snapshot?: unknown }).snapshot;
          slotStart = snap && typeof snap === 'object' && !Array.isArray(snap) ? (snap as JsonObject) : undefined;
          // A follower that keeps state across slots sends it to the leader at every slot's start, slot 0
          // included: a restore without it after slot 0 means the leader that had it died too. Starting
          // from the initial state would give a wrong answer, so the run is told it cannot go on.
          if (!slotStart && env.slot > 0 && typeof follower.snapshot === 'function') {
            stateLost = true;
            const message = `it keeps state across slots, and its state at the start of slot ${env.slot} was lost: its process and the leader's both died in that slot`;
            log.error({ agent: w.id, slot: env.slot }, message);
            const data = encodeEnvelope(this.opts.run, env.slot, 0, w.id, 'agent-failed', { message });
            this.nc!.publish(`${this.subj.inbox('orch')}.failed`, data);
            this.counters.sent('inbox', 'agent-failed', data.byteLength);
            return;
          }
          restart(slotStart);
          slot = env.slot;
        }
        return;
      }
      if (awaitingReplay && !env.noreply) return this.counters.drop('stale', subject, env.from, 'restarted agent: waiting for the leader to replay the slot');
      const again = last.replyTo(env.slot, env.round, env.kind, data.byteLength);
      if (again) {
        this.nc!.publish(replySubject, again);
        this.counters.sent('reply', 'resent', again.byteLength);
        return;
      }
      if (env.slot !== slot) {
        slot = env.slot;
        slotStart = follower.snapshot?.();
        if (slotStart) {
          const data = encodeEnvelope(this.opts.run, slot, 0, w.id, 'state', { snapshot: slotStart });
          this.nc!.publish(replySubject, data);
          this.counters.sent('reply', 'state', data.byteLength);
        }
      }
      const answer = (kind: string, body: Body) => {
        // the encoder's scratch bytes: copied into the frame by publishFast and into `last` here, then let go
        const out = encodeEnvelopeScratch(this.opts.run, env.slot, env.round, w.id, kind, body);
        publishFast(this.nc!, replySubject, out);
        this.counters.sent('reply', kind, out.byteLength);
        last.keep(env.slot, env.round, env.kind, data.byteLength, out);
      };
      let reply: JsonObject | undefined;
      try {
        reply = follower.handle(env.kind, env.body as JsonObject, { slot: env.slot, round: env.round, from: env.from });
        if (env.noreply) return; // a notification: nothing goes back
      } catch (e) {
        const message = e instanceof Error ? e.message : typeof e === 'string' ? e : 'non-Error thrown';
        if (env.noreply) return void this.counters.drop('handler-error', subject, env.from, message);
        this.counters.drop('handler-error', subject, env.from, message);
        log.error({ agent: w.id, kind: env.kind, err: e instanceof Error ? e.stack : message }, 'handler failed');
        answer('error', { message: message.slice(0, 200) });
        return;
      }
      if (reply === undefined) answer('nil', {});
      else answer(replyKind(env.kind), reply);
    };
    const bcast = this.subj.bcast(w.role);
    const direct = this.subj.direct(w.id);
    this.subs.push(subscribeData(this.nc!, bcast, (data) => onMsg(data, 'bcast', bcast)));
    this.subs.push(subscribeData(this.nc!, direct, (data) => onMsg(data, 'direct', direct)));
  }

  /** Decode a message; a broadcast byte-identical to the previous one reuses its decoding. */
  private decodeShared(data: Uint8Array, maxBytes: number, family: 'bcast' | 'direct', subject: string): ReturnType<typeof decode> {
    const last = this.lastBcast;
    if (last && last.subject === subject && Buffer.compare(last.data, data) === 0) return last.decoded;
    const decoded = decode(data, this.opts.run, maxBytes);
    if (family === 'bcast') this.lastBcast = { subject, data: data.slice(), decoded };
    return decoded;
  }

  private becomeLeader(scenario: Scenario, w: Welcome): void {
    const { log } = this.opts;
    const roster = w.roster ?? [];
    const rosterIndex = new Map(roster.map((a, i) => [a.id, i]));
    const roleCount = new Map<string, number>();
    for (const a of roster) roleCount.set(a.role, (roleCount.get(a.role) ?? 0) + 1);
    const leader: Leader = scenario.createLeader(w.init, w.resume?.snapshot);
    if (w.resume) log.info({ slot: w.resume.slot }, 'leader restarted: resuming from the state saved after slot ' + w.resume.slot);
    const gatherer = new Gatherer(this.nc!, this.opts.run, w.id, this.counters, w.maxBytes);
    // followers that keep state across slots send it at each slot's start: kept for a restart
    const followerState = new Map<string, { slot: number; snapshot: Body }>();
    gatherer.onState = (from, slot, body) => {
      if (rosterIndex.has(from) && body.snapshot && typeof body.snapshot === 'object') followerState.set(from, { slot, snapshot: body.snapshot as Body });
    };
    gatherer.start(roster.map((a) => a.id));
    let currentSlot = 0;
    /** restarted followers are back: give each its state at the slot's start, replay the slot, re-send the round in flight */
    const replay = (ids: string[], slotNow: number) => {
      for (const id of ids) {
        const agent = roster[rosterIndex.get(id) ?? -1];
        if (!agent) continue;
        const st = followerState.get(id);
        // (a leader restarted in this slot may not have been asked for it yet: the orchestrator says which it is)
        const from = st ? st.slot : Math.max(currentSlot, slotNow);
        const send = (kind: string, body: Body) => {
          const data = encodeEnvelope(this.opts.run, from, 0, w.id, kind, body, true);
          this.nc!.publish(this.subj.direct(id), data);
          this.counters.sent('direct', kind, data.byteLength);
        };
        send('restore', st ? { snapshot: st.snapshot } : {});
        const n = gatherer.replayTo(id, agent.role, from);
        if (n < 0) log.error({ agent: id, from }, `cannot replay slot ${from} to the restarted ${id}: the log keeps only the current and the previous slot`);
        else log.warn({ agent: id, from, messages: n }, `replayed ${n} messages since slot ${from} to the restarted ${id}`);
        send('replayed', {});
      }
      gatherer.resendMissing();
    };
    const lastReply = new Map<string, (Body | undefined)[]>();
    /**
     * A broadcast round's targets depend only on the addressed role (the roster is fixed): built once
     * per role, not per round — at 10,000 agents that is 10,000 objects and a 10,000-entry map a round.
     */
    const broadcastTargets = new Map<string, { targets: AgentSpec[]; roles: string[]; expect: GatherTarget[]; expectIndex: Map<string, number>; deliveries: number }>();
    const targetsFor = (req: RoundRequest) => {
      const key = req.to === undefined ? '' : (req.to as string);
      let t = broadcastTargets.get(key);
      if (!t) {
        const targets = targetsOf(roster, req);
        const expect = targets.map((a) => ({ id: a.id, role: a.role, slotIndex: rosterIndex.get(a.id)! }));
        const roles = req.to === undefined ? [...roleCount.keys()] : [key];
        t = { targets, roles, expect, expectIndex: new Map(expect.map((e) => [e.id, e.slotIndex])), deliveries: roles.reduce((s, role) => s + (roleCount.get(role) ?? 0), 0) };
        broadcastTargets.set(key, t);
      }
      return t;
    };
    /**
     * The slot running now and where its answer goes: the reply subjects of the requests for it (the
     * orchestrator re-asks every few seconds on one subject, so a long slot is still answered once).
     */
    let running: { slot: number; replyTo: Set<string> } | undefined;
    /** the last slot's answer, encoded: a repeated request for it is answered again */
    let answered: { slot: number; kind: string; data: Uint8Array } | undefined;

    // a restarted leader first tells every follower that the slot in progress runs again from its start
    let announceRerun = w.restarted === true;
    const runSlot = async (slot: number): Promise<SlotDone> => {
      currentSlot = slot;
      if (announceRerun) {
        announceRerun = false;
        const data = encodeEnvelope(this.opts.run, slot, 0, w.id, 'rerun', {}, true);
        for (const role of roleCount.keys()) {
          this.nc!.publish(this.subj.bcast(role), data);
          this.counters.sent('bcast', 'rerun', data.byteLength);
        }
      }
      const trajectory: SlotDone['trajectory'] = [];
      const metrics: SlotMetrics = { rounds: 0, messages: 0, deliveries: 0, bytes: 0, timeToEquilibriumMs: 0, roundLatencyMs: [], missingReplies: 0, nilReplies: 0, messagesByKind: {}, leaderCpuMs: 0, roundKinds: [], resent: 0 };
      const cpu0 = process.cpuUsage();
      let firstStart = 0;
      let lastClose = 0;
      const ctx: LeaderContext = {
        slot,
        roster,
        record: (row) => trajectory.push({ slot, ...row }),
        round: async <R = JsonObject>(req: RoundRequest): Promise<RoundResult<R>> => {
          const round = ++metrics.rounds;
          const direct = Array.isArray(req.to);
          const cached = direct ? undefined : targetsFor(req);
          const targets = cached ? cached.targets : targetsOf(roster, req);
          const roles = cached ? cached.roles : [];
          const noReplies = req.expectReplies === false;
          const expect = noReplies ? [] : cached ? cached.expect : targets.map((t) => ({ id: t.id, role: t.role, slotIndex: rosterIndex.get(t.id)! }));
          const r = await gatherer.round({
            kind: req.kind,
            body: req.body ?? {},
            roles,
            direct: direct ? targets.map((t) => ({ id: t.id, body: req.bodies?.[t.id] ?? req.body ?? {} })) : undefined,
            expect,
            expectIndex: cached && !noReplies ? cached.expectIndex : undefined,
            rosterSize: roster.length,
            slot,
            round,
            deadlineMs: w.roundTimeoutMs,
          });
          if (!firstStart) firstStart = r.startedAt;
          lastClose = r.closedAt;
          metrics.messages += r.published + r.received;
          metrics.bytes += r.bytesOut + r.bytesIn;
          metrics.deliveries += cached ? cached.deliveries : targets.length;
          metrics.deliveries += r.received;
          metrics.roundLatencyMs.push(r.latencyMs);
          metrics.roundKinds.push(req.kind);
          metrics.missingReplies += r.missing.length;
          metrics.resent += r.resent;
          metrics.nilReplies += r.nil;
          metrics.messagesByKind[req.kind] = (metrics.messagesByKind[req.kind] ?? 0) + r.published;
          const re = replyKind(req.kind);
          metrics.messagesByKind[re] = (metrics.messagesByKind[re] ?? 0) + r.received - r.nil;
          if (r.nil) metrics.messagesByKind.nil = (metrics.messagesByKind.nil ?? 0) + r.nil;
          // A missing (or failed) reply: use the sender's last reply to the same kind of request.
          const last = lastReply.get(req.kind) ?? new Array(roster.length).fill(undefined);
          const replies = r.replies.map((x, i) => {
            if (x === NIL) return undefined;
            if (x === undefined) return expect.length && req.reuseLast !== false ? last[i] : undefined;
            last[i] = x;
            return x;
          });
          lastReply.set(req.kind, last);
          if (r.missing.length) log.warn({ slot, round, kind: req.kind, missing: r.missing.slice(0, 20), count: r.missing.length }, `round ${round}: ${r.missing.length} replies missing at the deadline; using their last strategy`);
          return { replies: replies as (R | undefined)[], missing: r.missing };
        },
      };
      const outcome = await leader.runSlot(ctx);
      metrics.timeToEquilibriumMs = lastClose - firstStart;
      const cpu = process.cpuUsage(cpu0);
      metrics.leaderCpuMs = (cpu.user + cpu.system) / 1000;
      return { slot, outcome, trajectory, metrics, snapshot: leader.snapshot?.() };
    };

    this.subscribe(this.subj.ctl(w.id), (msg) => {
      const d = decode(msg.data, this.opts.run, w.maxBytes);
      if (!d.ok) return this.counters.drop(d.reason, msg.subject, d.from, d.detail);
      if (d.env.kind === 'resend') {
        const { ids: raw, slot } = d.env.body;
        const ids = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : [];
        replay(ids, typeof slot === 'number' && Number.isInteger(slot) && slot >= 0 ? slot : 0);
        // confirmed, so the orchestrator does not ask the leader that would replace us to replay them again
        return this.respond(msg, 'replayed', currentSlot, w.id, { ids });
      }
      if (d.env.kind !== 'slot' || typeof d.env.body.slot !== 'number') return this.counters.drop('unknown-kind', msg.subject, d.env.from, d.env.kind);
      const slot = d.env.body.slot;
      // the orchestrator asks again when it may have lost our answer: answer again, never run a slot twice
      if (answered?.slot === slot) {
        if (msg.reply) {
          this.nc!.publish(msg.reply, answered.data);
          this.counters.sent('inbox', answered.kind, answered.data.byteLength);
        }
        return;
      }
      if (running?.slot === slot) return void (msg.reply && running.replyTo.add(msg.reply));
      if (running) return this.counters.drop('unexpected-sender', msg.subject, d.env.from, `slot ${running.slot} is still running`);
      const job = (running = { slot, replyTo: new Set(msg.reply ? [msg.reply] : []) });
      const finish = (kind: string, body: Body) => {
        const data = encodeEnvelope(this.opts.run, slot, 0, w.id, kind, body);
        answered = { slot, kind, data };
        running = undefined;
        for (const to of job.replyTo) {
          this.nc!.publish(to, data);
          this.counters.sent('inbox', kind, data.byteLength);
        }
      };
      runSlot(slot)
        .then((done) => finish('slot-done', done as unknown as Body))
        .catch((e) => {
          log.error({ err: (e as Error).stack, slot }, 'leader failed');
          finish('slot-failed', { message: (e as Error).message });
        });
    });
  }

  private respond(msg: Msg, kind: string, slot: number, from: string, body: Body): void {
    if (!msg.reply) return;
    const data = encodeEnvelope(this.opts.run, slot, 0, from, kind, body);
    this.nc!.publish(msg.reply, data);
    this.counters.sent('inbox', kind, data.byteLength);
  }

  private onControl(msg: Msg): void {
    const d = decode(msg.data, this.opts.run, 1 << 20);
    if (!d.ok) return this.counters.drop(d.reason, msg.subject, d.from, d.detail);
    if (d.env.kind === 'shutdown' && this.hosted.length === 0) {
      // a spare that never got an agent: nothing to report (the orchestrator counts the hosts that joined)
      void this.close(0);
    } else if (d.env.kind === 'shutdown') {
      const cpu = process.cpuUsage();
      const sinceReady = this.cpuAtReady ? process.cpuUsage(this.cpuAtReady) : cpu;
      this.respond(msg, 'bye', 0, this.opts.hostId, {
        host: this.opts.hostId,
        pid: process.pid,
        agents: this.hosted.length,
        cpuMs: (cpu.user + cpu.system) / 1000,
        cpuSinceReadyMs: (sinceReady.user + sinceReady.system) / 1000,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        counters: this.counters.snapshot() as unknown as Body,
      });
      void this.close(0);
    } else if (d.env.kind === 'abort') {
      void this.close(1);
    } else this.counters.drop('unknown-kind', msg.subject, d.env.from, d.env.kind);
  }

  async close(code: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    try {
      await this.nc?.flush();
      await this.nc?.drain();
    } catch {
      /* already closed */
    }
    this.finishDone(code);
  }
}

class JoinRejected extends Error {}

/** `re:<kind>`, one string per kind (not a new one per reply) */
const replyKinds = new Map<string, string>();
function replyKind(kind: string): string {
  let k = replyKinds.get(kind);
  if (k === undefined) {
    k = `re:${kind}`;
    if (replyKinds.size < 256) replyKinds.set(kind, k);
  }
  return k;
}

export { DEFAULT_MAX_BYTES };
