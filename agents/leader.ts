/**
 * The leader's runtime: answers the orchestrator's `slot` requests by running the scenario's
 * mechanism over the bus (bus/gather.ts carries the rounds), keeps the followers' state for a
 * restart, and replays a slot to restarted followers when the orchestrator asks (`resend`).
 */
import { randomInt } from 'node:crypto';
import { partsOf } from '../scenarios/contract.ts';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Chunker, serverMaxPayload } from '../bus/chunks.ts';
import type { Body } from '../bus/codec.ts';
import { MAX_SLOT_ANSWER_BYTES, ORCHESTRATOR, validate, type ControlChannel, type SlotDone, type SlotMetrics, type Welcome } from '../bus/control.ts';
import type { Counters } from '../bus/counters.ts';
import { Gatherer, type GatherTarget } from '../bus/gather.ts';
import { RoundReplies, SettledRound } from '../bus/roundReplies.ts';
import { leaderLink } from '../bus/linkHold.ts';
import { subjects } from '../bus/subjects.ts';
import { targetsOf } from '../scenarios/inprocess.ts';
import type { AgentSpec, JsonObject, Leader, LeaderContext, RoundRequest, RoundResult, Scenario } from '../scenarios/types.ts';
import { replyKind } from './follower.ts';
import { cpuMs, type HostCpu } from './hostCpu.ts';

export interface LeaderDeps {
  nc: NatsConnection;
  run: string;
  counters: Counters;
  channel: ControlChannel;
  log: Logger;
  /** told when a slot starts (the host's CPU marks) */
  cpu: HostCpu;
}

/** a broadcast round's targets: they depend only on the addressed role (the roster is fixed) */
interface BroadcastTargets {
  targets: AgentSpec[];
  roles: string[];
  expect: GatherTarget[];
  expectIndex: Map<string, number>;
  deliveries: number;
}

/** A slot's metrics as the rounds go: the counters of SlotMetrics and the rounds' first start and last close. */
class SlotMeter {
  readonly metrics: SlotMetrics = { rounds: 0, messages: 0, deliveries: 0, bytes: 0, timeToEquilibriumMs: 0, roundLatencyMs: [], missingReplies: 0, nilReplies: 0, messagesByKind: {}, leaderCpuMs: 0, roundKinds: [], resent: 0 };
  private readonly cpu0 = process.cpuUsage();
  private firstStart = 0;
  private lastClose = 0;

  round(kind: string, deliveries: number, r: Awaited<ReturnType<Gatherer['round']>>): void {
    const m = this.metrics;
    if (!this.firstStart) this.firstStart = r.startedAt;
    this.lastClose = r.closedAt;
    m.messages += r.published + r.received;
    m.bytes += r.bytesOut + r.bytesIn;
    m.deliveries += deliveries + r.received;
    m.roundLatencyMs.push(r.latencyMs);
    m.roundKinds.push(kind);
    m.missingReplies += r.missing.length;
    m.resent += r.resent;
    if (m.linkRetransmissions !== undefined) m.linkRetransmissions += r.linkResent;
    m.nilReplies += r.nil;
    m.messagesByKind[kind] = (m.messagesByKind[kind] ?? 0) + r.published;
    const re = replyKind(kind);
    m.messagesByKind[re] = (m.messagesByKind[re] ?? 0) + r.received - r.nil;
    if (r.nil) m.messagesByKind.nil = (m.messagesByKind.nil ?? 0) + r.nil;
  }

  finish(): SlotMetrics {
    this.metrics.timeToEquilibriumMs = this.lastClose - this.firstStart;
    this.metrics.leaderCpuMs = cpuMs(process.cpuUsage(this.cpu0));
    return this.metrics;
  }
}

/**
 * A slot's answer as it is published on the orchestrator's slot inbox: the encoded message when it
 * fits in the server's max_payload, else its frames (bus/chunks.ts). Kept, so a repeated request for
 * the slot gets the same bytes again: the same message id, so the orchestrator completes one message
 * from pieces of both copies.
 */
export class SlotAnswer {
  private constructor(
    readonly slot: number,
    readonly kind: 'slot-done' | 'slot-failed',
    readonly frames: Uint8Array[],
  ) {}

  /** The answer to publish for `data` (`kind`, encoded), cut by `chunker` if it is larger than `maxPayload`. */
  static of(chunker: Chunker, slot: number, kind: 'slot-done' | 'slot-failed', data: Uint8Array, maxPayload: number): SlotAnswer {
    return new SlotAnswer(slot, kind, chunker.frames(data, maxPayload));
  }

  /** Publishes every frame (one when it fits), each counted under the answer's kind. */
  send(channel: ControlChannel, subject: string): void {
    for (const f of this.frames) channel.publish(subject, this.kind, f);
  }
}

export class LeaderRuntime {
  private readonly subj: ReturnType<typeof subjects>;
  private readonly roster: AgentSpec[];
  private readonly rosterIndex: Map<string, number>;
  private readonly roleCount = new Map<string, number>();
  private readonly leader: Leader;
  private readonly gatherer: Gatherer;
  /** followers that keep state across slots send it at each slot's start: kept for a restart */
  private readonly followerState = new Map<string, { slot: number; snapshot: Body }>();
  private readonly broadcastTargets = new Map<string, BroadcastTargets>();
  /** per request kind, every follower's last reply (a missing reply reuses it) */
  private readonly lastReply = new Map<string, RoundReplies>();
  private currentSlot = 0;
  /** the slot running now (a repeated request for it waits for the same answer) */
  private running: number | undefined;
  /** the last slot's answer: a repeated request for it is answered again, with the same bytes */
  private answered: SlotAnswer | undefined;
  /** message ids start at random: a restarted leader's never repeat those its predecessor sent */
  private readonly chunker = new Chunker(randomInt(0, 0x1_0000_0000));
  /** a restarted leader first tells every follower that the slot in progress runs again from its start */
  private announceRerun: boolean;

  constructor(
    private readonly d: LeaderDeps,
    scenario: Scenario,
    private readonly w: Welcome,
  ) {
    this.subj = subjects(d.run);
    this.roster = internRoles(w.roster ?? []);
    this.rosterIndex = new Map(this.roster.map((a, i) => [a.id, i]));
    for (const a of this.roster) this.roleCount.set(a.role, (this.roleCount.get(a.role) ?? 0) + 1);
    this.leader = partsOf(scenario, w.mechanism).createLeader(w.init, w.resume?.snapshot);
    if (w.resume) d.log.info({ slot: w.resume.slot }, 'leader restarted: resuming from the state saved after slot ' + w.resume.slot);
    this.announceRerun = w.restarted === true;
    this.gatherer = new Gatherer(d.nc, d.run, w.id, d.counters, w.maxBytes);
    this.gatherer.onState = (from, slot, body) => this.onState(from, slot, body);
    if (w.link) this.gatherer.link = leaderLink(w.link, w, this.roster, (e) => d.log.error({ err: String(e) }, 'a held reply failed'));
    this.gatherer.start(this.roster, w.placement);
  }

  /** Subscribes to the leader's control subject (slot, resend). */
  subscribe(): Subscription {
    return this.d.nc.subscribe(this.subj.ctl(this.w.id), { callback: (err, msg) => (err ? undefined : this.onControl(msg)) });
  }

  private onState(from: string, slot: number, body: Body): void {
    if (!this.rosterIndex.has(from)) return;
    const v = validate('state', body);
    if (!v.ok) return this.d.counters.drop('bad-body', this.subj.replyWildcard(this.w.id), from, v.reason);
    this.followerState.set(from, { slot, snapshot: v.body.snapshot as Body });
  }

  private onControl(msg: Msg): void {
    const r = this.d.channel.readMsg(msg, ['slot', 'resend'], this.w.maxBytes, (kind, from) => (from === ORCHESTRATOR ? undefined : `${kind} from ${from}: only the orchestrator sends it`));
    if (!r) return;
    if (r.kind === 'resend') {
      this.replay(r.body.ids, r.body.slot);
      // confirmed, so the orchestrator does not ask the leader that would replace us to replay them again
      this.d.channel.send(this.subj.orchReplayed, 'replayed', { ids: r.body.ids }, { slot: this.currentSlot, from: this.w.id });
      return;
    }
    const slot = r.body.slot;
    // the orchestrator asks again when it may have lost our answer: answer again, never run a slot twice
    if (this.answered?.slot === slot) return this.answered.send(this.d.channel, this.subj.orchSlots);
    if (this.running === slot) return;
    if (this.running !== undefined) return this.d.counters.drop('unexpected-sender', msg.subject, r.from, `slot ${this.running} is still running`);
    this.running = slot;
    this.d.cpu.slotStarted(slot);
    this.runSlot(slot)
      .then((done) => this.finish(slot, 'slot-done', done))
      .catch((e) => {
        this.d.log.error({ err: (e as Error).stack, slot }, 'leader failed');
        this.finish(slot, 'slot-failed', { message: String((e as Error).message).slice(0, 4000) });
      });
  }

  private finish(slot: number, kind: 'slot-done' | 'slot-failed', body: SlotDone | { message: string }): void {
    let data = this.d.channel.encode(kind, body as never, { slot, from: this.w.id });
    if (data.byteLength > MAX_SLOT_ANSWER_BYTES) {
      const message = `the answer for slot ${slot} is ${data.byteLength} bytes (${(body as SlotDone).trajectory?.length ?? 0} trajectory rows), more than the orchestrator accepts (${MAX_SLOT_ANSWER_BYTES} bytes): choose mechanism settings that take fewer rounds per slot`;
      this.d.log.error({ slot, bytes: data.byteLength }, message);
      kind = 'slot-failed';
      data = this.d.channel.encode(kind, { message }, { slot, from: this.w.id });
    }
    // the server's limit now (a reconnect may have reached another server of a cluster)
    this.answered = SlotAnswer.of(this.chunker, slot, kind, data, serverMaxPayload(this.d.nc));
    this.running = undefined;
    this.answered.send(this.d.channel, this.subj.orchSlots);
  }

  /** restarted followers are back: give each its state at the slot's start, replay the slot, re-send the round in flight */
  private replay(ids: string[], slotNow: number): void {
    const { channel, log } = this.d;
    for (const id of ids) {
      const agent = this.roster[this.rosterIndex.get(id) ?? -1];
      if (!agent) continue;
      const st = this.followerState.get(id);
      // (a leader restarted in this slot may not have been asked for it yet: the orchestrator says which it is)
      const from = st ? st.slot : Math.max(this.currentSlot, slotNow);
      const to = this.subj.direct(id);
      channel.send(to, 'restore', st ? { snapshot: st.snapshot as JsonObject } : {}, { slot: from, from: this.w.id, noreply: true });
      const n = this.gatherer.replayTo(id, agent.role, from);
      if (n < 0) log.error({ agent: id, from }, `cannot replay slot ${from} to the restarted ${id}: the log keeps only the current and the previous slot`);
      else log.warn({ agent: id, from, messages: n }, `replayed ${n} messages since slot ${from} to the restarted ${id}`);
      channel.send(to, 'replayed', {}, { slot: from, from: this.w.id, noreply: true });
    }
    this.gatherer.resendMissing();
  }

  /** A broadcast round's targets, built once per role, not per round (at 10,000 agents: 10,000 objects and a map a round). */
  private targetsFor(req: RoundRequest): BroadcastTargets {
    const key = req.to === undefined ? '' : (req.to as string);
    let t = this.broadcastTargets.get(key);
    if (!t) {
      const targets = targetsOf(this.roster, req);
      const expect = targets.map((a) => ({ id: a.id, role: a.role, slotIndex: this.rosterIndex.get(a.id)! }));
      const roles = req.to === undefined ? [...this.roleCount.keys()] : [key];
      t = { targets, roles, expect, expectIndex: new Map(expect.map((e) => [e.id, e.slotIndex])), deliveries: roles.reduce((s, role) => s + (this.roleCount.get(role) ?? 0), 0) };
      this.broadcastTargets.set(key, t);
    }
    return t;
  }

  private async runSlot(slot: number): Promise<SlotDone> {
    this.currentSlot = slot;
    if (this.announceRerun) {
      this.announceRerun = false;
      const data = this.d.channel.encode('rerun', {}, { slot, from: this.w.id, noreply: true });
      for (const role of this.roleCount.keys()) this.d.channel.publish(this.subj.bcast(role), 'rerun', data);
    }
    const trajectory: SlotDone['trajectory'] = [];
    const meter = new SlotMeter();
    if (this.w.link) meter.metrics.linkRetransmissions = 0;
    const ctx: LeaderContext = {
      slot,
      roster: this.roster,
      record: (row) => trajectory.push({ slot, ...row }),
      round: <R = JsonObject>(req: RoundRequest) => this.round<R>(slot, meter, req),
    };
    const outcome = await this.leader.runSlot(ctx);
    return { slot, outcome, trajectory, metrics: meter.finish(), snapshot: this.leader.snapshot?.() };
  }

  private async round<R>(slot: number, meter: SlotMeter, req: RoundRequest): Promise<RoundResult<R>> {
    const round = meter.metrics.rounds + 1;
    meter.metrics.rounds = round;
    const direct = Array.isArray(req.to);
    const cached = direct ? undefined : this.targetsFor(req);
    const targets = cached ? cached.targets : targetsOf(this.roster, req);
    const roles = cached ? cached.roles : [];
    const noReplies = req.expectReplies === false;
    const expect = noReplies ? [] : cached ? cached.expect : targets.map((t) => ({ id: t.id, role: t.role, slotIndex: this.rosterIndex.get(t.id)! }));
    const r = await this.gatherer.round({
      kind: req.kind,
      body: req.body ?? {},
      roles,
      direct: direct ? targets.map((t) => ({ id: t.id, body: req.bodies?.[t.id] ?? req.body ?? {} })) : undefined,
      expect,
      expectIndex: cached && !noReplies ? cached.expectIndex : undefined,
      rosterSize: this.roster.length,
      slot,
      round,
      deadlineMs: this.w.roundTimeoutMs,
    });
    meter.round(req.kind, cached ? cached.deliveries : targets.length, r);
    // A missing (or failed) reply: use the sender's last reply to the same kind of request.
    let last = this.lastReply.get(req.kind);
    if (!last) this.lastReply.set(req.kind, (last = new RoundReplies(this.roster.length)));
    const table = r.table;
    table.settle(last, expect.length > 0 && req.reuseLast !== false);
    if (r.missing.length) this.d.log.warn({ slot, round, kind: req.kind, missing: r.missing.slice(0, 20), count: r.missing.length }, `round ${round}: ${r.missing.length} replies missing at the deadline; using their last strategy`);
    return new SettledRound<R>(table, r.missing);
  }
}

/** The roster with one string per role, not the decoder's copy per agent (100,000 copies of `ue` were 2.3 MB). */
function internRoles(roster: AgentSpec[]): AgentSpec[] {
  const roles = new Map<string, string>();
  for (const a of roster) {
    const role = roles.get(a.role);
    if (role === undefined) roles.set(a.role, a.role);
    else a.role = role;
  }
  return roster;
}
