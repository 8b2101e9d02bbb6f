/**
 * A follower's runtime: one hosted agent's subscriptions (its role's broadcasts and its direct
 * subject), its scenario handler, and the state it needs to survive a restart of its own process or
 * of the leader's: the slot it is in, its state at that slot's start, and whether it waits for the
 * leader to replay its slot.
 *
 * A restarted leader announces that it runs the slot again (`rerun`): the follower goes back to its
 * state at the slot's start. A follower that keeps state across slots sends that state to the leader
 * at each slot's start (`state`), so a restarted process of this agent can be given it back
 * (`restore`) before the slot is replayed to it (`replayed` ends the replay).
 */
import { partsOf } from '../scenarios/contract.ts';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decode, ReplyEncoder, type Body, type Envelope } from '../bus/codec.ts';
import { validate, type ControlChannel, type Welcome } from '../bus/control.ts';
import type { Counters } from '../bus/counters.ts';
import { subscribeData } from '../bus/fastparse.ts';
import { ReplyBatches, type ReplyBatch, type RowSender } from '../bus/replyBatch.ts';
import { subjects } from '../bus/subjects.ts';
import type { Follower, FollowerContext, JsonObject, Scenario } from '../scenarios/types.ts';
import { arrivalsFor, type LinkArrivals } from '../bus/linkHold.ts';
import type { LastReplies } from './lastReply.ts';
import type { HostCpu } from './hostCpu.ts';

export interface FollowerDeps {
  nc: NatsConnection;
  run: string;
  hostId: string;
  counters: Counters;
  channel: ControlChannel;
  log: Logger;
  /** told when a slot starts (the host's CPU marks) */
  cpu: HostCpu;
  /** the host's replies, one message per reply subject and task */
  replies: ReplyBatches;
  /** the host's followers' last replies, a row each (agents/lastReply.ts) */
  lastReplies: LastReplies;
}

export class FollowerRuntime implements RowSender {
  private follower: Follower;
  private readonly ctx: FollowerContext;
  private readonly replySubject: string;
  /** the host's replies on that subject, sent together (bus/replyBatch.ts) */
  private readonly replies: ReplyBatch;
  readonly encoder: ReplyEncoder;
  /** the agent's position in the leader's roster, which names its replies sent as rows (-1: none given; they go as envelopes) */
  readonly position: number;
  /**
   * The welcome's fields the hot path reads, as fields of this object: a message touches this
   * runtime anyway, and at 2,500 agents a worker each further object read per message (the decoded
   * welcome) is another cache miss.
   */
  private readonly id: string;
  private readonly leader: string;
  private readonly maxBytes: number;
  private lastKind = '';
  private lastReplyKind = '';
  /** the last request answered and its reply, for a request the leader re-sends: this agent's row of the host's table */
  private readonly last: LastReplies;
  private readonly lastRow: number;
  /** the slot the agent is in (-1: none yet) */
  private slot = -1;
  /** its state at that slot's start (if it keeps any across slots) */
  private slotStart: JsonObject | undefined;
  /** a restarted agent answers nothing until the leader has replayed its slot */
  private awaitingReplay: boolean;
  /** its state at the slot's start was lost with the leader: it said so and stays silent */
  private stateLost = false;
  private readonly subj: ReturnType<typeof subjects>;
  /** the link model's arrivals from the leader (bus/linkHold.ts): requests held for their drawn delay, or lost */
  private readonly link?: LinkArrivals;

  constructor(
    private readonly d: FollowerDeps,
    private readonly scenario: Scenario,
    private readonly w: Welcome,
  ) {
    this.ctx = { id: w.id, role: w.role, index: w.index };
    this.follower = partsOf(scenario, w.mechanism).createFollower(w.init, this.ctx);
    this.subj = subjects(d.run);
    // the host's reply subject for this role (the envelope names the agent)
    this.replySubject = this.subj.reply(w.leader, w.role, d.hostId);
    this.replies = d.replies.for(this.replySubject);
    this.last = d.lastReplies;
    this.lastRow = d.lastReplies.add();
    this.encoder = new ReplyEncoder(d.run, w.id);
    this.position = w.position ?? -1;
    this.id = w.id;
    this.leader = w.leader;
    this.maxBytes = w.maxBytes;
    this.awaitingReplay = w.rejoin === true;
    const lw = w.link;
    if (lw) this.link = arrivalsFor(lw, { id: w.leader, role: lw.leaderRole, factor: lw.leaderFactor }, { id: w.id, role: w.role, factor: lw.factor }, (e) => d.log.error({ agent: w.id, err: String(e) }, 'a held request failed'));
  }

  /** Subscribes to the agent's direct subject (its role's broadcasts come through its host's one subscription). */
  subscribeDirect(): Subscription {
    const direct = this.subj.direct(this.w.id);
    // the subject is the subscription's: the hot path never builds or decodes a message subject
    return subscribeData(this.d.nc, direct, (data) => this.onDirect(data, direct));
  }

  private restart(snapshot: JsonObject | undefined): void {
    this.follower = partsOf(this.scenario, this.w.mechanism).createFollower(this.w.init, this.ctx, snapshot);
    this.last.forget(this.lastRow);
  }

  /** A message on the agent's own subject. */
  private onDirect(data: Uint8Array, subject: string): void {
    const { counters } = this.d;
    counters.received('direct', data.byteLength);
    const dec = decode(data, this.d.run, this.maxBytes);
    if (!dec.ok) return counters.drop(dec.reason, subject, dec.from, dec.detail);
    this.onEnvelope(dec.env, data.byteLength, subject);
  }

  /**
   * A message for this agent, decoded: from its direct subject, or a broadcast to its role (decoded
   * once by its host for every agent of the role there; `size` is the message's size in bytes).
   */
  onEnvelope(env: Envelope<unknown>, size: number, subject: string): void {
    const { counters } = this.d;
    if (env.from !== this.leader) return counters.drop('unexpected-sender', subject, env.from, `only ${this.leader} sends requests`);
    if (env.kind === 'restore' || env.kind === 'replayed' || env.kind === 'rerun') {
      if (!env.noreply) return counters.drop('unknown-kind', subject, env.from, `${env.kind} must be a notification`);
      const v = validate(env.kind, env.body);
      if (!v.ok) return counters.drop('bad-body', subject, env.from, v.reason);
      const apply = () => {
        if (env.kind === 'replayed') this.onReplayed();
        else if (env.kind === 'rerun') this.onRerun(env.slot);
        else this.onRestore(env.slot, (v.body as { snapshot?: JsonObject }).snapshot);
      };
      // not delayed by the link model, but never ahead of the requests it holds
      return this.link && !this.link.instant ? this.link.after(apply) : apply();
    }
    if (!this.link || this.link.instant) return this.onRequest(env, size, subject);
    if (!this.link.arrive(env.slot, env.round, env.kind, env.noreply === true, () => this.onRequest(env, size, subject))) counters.drop('link-lost', subject, env.from, `lost by the link model (slot ${env.slot} round ${env.round} ${env.kind})`);
  }

  /** A request (or notification) from the leader, as it reaches the agent. */
  private onRequest(env: Envelope<unknown>, size: number, subject: string): void {
    const { counters } = this.d;
    if (this.awaitingReplay && !env.noreply) return counters.drop('stale', subject, env.from, 'restarted agent: waiting for the leader to replay the slot');
    const again = this.last.replyTo(this.lastRow, env.slot, env.round, env.kind, size, this.encoder);
    if (again) return this.d.channel.publish(this.replySubject, 'resent', again, undefined, 'reply');
    if (env.slot !== this.slot) this.enterSlot(env.slot);
    let reply: JsonObject | undefined;
    try {
      reply = this.follower.handle(env.kind, env.body as JsonObject, { slot: env.slot, round: env.round, from: env.from });
      if (env.noreply) return; // a notification: nothing goes back
    } catch (e) {
      const message = e instanceof Error ? e.message : typeof e === 'string' ? e : 'non-Error thrown';
      counters.drop('handler-error', subject, env.from, message);
      if (env.noreply) return;
      this.d.log.error({ agent: this.w.id, kind: env.kind, err: e instanceof Error ? e.stack : message }, 'handler failed');
      this.answer(env.slot, env.round, env.kind, size, 'error', { message: message.slice(0, 200) });
      return;
    }
    if (reply === undefined) this.answer(env.slot, env.round, env.kind, size, 'nil', {});
    else this.answer(env.slot, env.round, env.kind, size, this.replyKindOf(env.kind), reply);
  }

  /** `re:<kind>`, the last one kept (a follower answers one kind of request round after round) */
  private replyKindOf(kind: string): string {
    if (kind !== this.lastKind) {
      this.lastKind = kind;
      this.lastReplyKind = replyKind(kind);
    }
    return this.lastReplyKind;
  }

  /** A new slot: its state at the start is kept, and sent to the leader for a restart of this process. */
  private enterSlot(slot: number): void {
    this.slot = slot;
    this.d.cpu.slotStarted(slot);
    this.slotStart = this.follower.snapshot?.();
    if (this.slotStart) this.d.channel.send(this.replySubject, 'state', { snapshot: this.slotStart }, { slot, from: this.w.id });
  }

  private answer(slot: number, round: number, requestKind: string, requestSize: number, kind: string, body: Body): void {
    const replies = this.replies;
    if (replies.addRow(this, slot, round, kind, body)) return this.last.keepRow(this.lastRow, slot, round, requestKind, requestSize, kind, replies.rowKeys, replies.rowValues);
    // the encoder's scratch bytes: copied into the host's batch and into `last` here, then let go
    const n = this.encoder.write(slot, round, kind, body);
    const out = this.encoder.bytes;
    this.replies.add(out, n);
    this.d.counters.sent('reply', kind, n);
    this.last.keep(this.lastRow, slot, round, requestKind, requestSize, out, n);
  }

  private onReplayed(): void {
    if (this.stateLost) return; // said so at the restore: stays silent, the orchestrator ends the run
    this.awaitingReplay = false;
  }

  private onRerun(slot: number): void {
    if (slot !== this.slot) return;
    this.d.log.warn({ agent: this.w.id, slot }, 'the restarted leader runs the slot again: back to the state at its start');
    this.restart(this.slotStart);
  }

  private onRestore(slot: number, snapshot: JsonObject | undefined): void {
    this.slotStart = snapshot;
    // A follower that keeps state across slots sends it to the leader at every slot's start, slot 0
    // included: a restore without it after slot 0 means the leader that had it died too. Starting
    // from the initial state would give a wrong answer, so the run is told it cannot go on.
    if (!snapshot && slot > 0 && typeof this.follower.snapshot === 'function') {
      this.stateLost = true;
      const message = `it keeps state across slots, and its state at the start of slot ${slot} was lost: its process and the leader's both died in that slot`;
      this.d.log.error({ agent: this.w.id, slot }, message);
      this.d.channel.send(this.subj.orchFailed(this.d.hostId), 'agent-failed', { message }, { slot, from: this.w.id });
      return;
    }
    this.restart(snapshot);
    this.slot = slot;
  }
}

/** `re:<kind>`, one string per kind (not a new one per reply) */
const replyKinds = new Map<string, string>();
export function replyKind(kind: string): string {
  let k = replyKinds.get(kind);
  if (k === undefined) {
    k = `re:${kind}`;
    if (replyKinds.size < 256) replyKinds.set(kind, k);
  }
  return k;
}
