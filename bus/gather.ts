/**
 * Scatter-gather with a deadline, for a leader: one broadcast per addressed role (or one direct
 * message per target), then every expected reply is gathered concurrently until all are in or the
 * deadline passes. Replies are returned in roster order, whatever order they arrived in.
 *
 * The leader takes every reply on one wildcard subscription, `mecsim.<r>.rep.<leader>.*.*`: a host
 * sends the replies of its agents of one role on `rep.<leader>.<role>.<host>`, those of one task back
 * to back in one message (bus/replyBatch.ts; each envelope is taken and counted as if alone), and
 * the envelope's `from` names the agent, looked up among the roster's ids from the envelope's bytes (bus/senders.ts;
 * no string is built). A reply whose subject names no role of the roster (or, when the placement is
 * known, no host of the run), or whose `from` is no roster agent, is dropped and counted
 * (`unexpected-sender`); one whose agent is not of the subject's role, or not on the subject's host,
 * as `forged-sender`. The server's permissions pin each host to its own reply subjects, and the
 * leader's welcome says which host each agent is on (spawned agents: the plan fixes it), so a host
 * cannot answer for another host's agent. Agents that join from anywhere (`--agents external`) move
 * between hosts and share their role's credential: there the role is checked, as the server does.
 * One subscription, not one per agent: at 100,000 agents those held about 2 KB each in the leader and
 * made its join send 100,000 SUBs.
 *
 * Retransmission: core NATS delivers at most once, so a request (or its reply) is lost when the
 * agent's process dies and is restarted, or its server node dies and the client reconnects to
 * another. A lost message shows as replies that stop coming; a round that is merely slow (100,000
 * agents, a loaded machine, a cold start) shows as replies that keep coming. So the request is
 * re-sent directly (`to.<agent>`) to each missing agent — the same bytes, the same slot and round —
 * only once no reply at all has arrived for a quiet period of max(RETRY_MIN_MS, RETRY_FACTOR × the
 * slowest of the recent rounds), and after each retransmission the quiet period doubles, until the
 * deadline. Progress is sampled, not timed per reply (a clock read per reply is a cost at 10,000
 * replies a round): every quiet/RETRY_TICKS ms the count of replies received is compared with the
 * last sample's, so a re-send comes between one and 1 + 1/RETRY_TICKS quiet periods after the last
 * reply. A leader whose loop was stalled reads what its socket holds before it samples (one poll of
 * the socket first), and replies read then count as progress: a stall never looks like a loss. A follower answers a repeated request with its cached reply (see
 * agents/host.ts), so a retransmission never changes an answer; a second copy that arrives is
 * dropped and counted as `retransmit-echo`. Retransmissions are counted apart from the mechanism's
 * messages (`resent`), so message counts stay comparable with the in-process run.
 *
 * The deadline: a leader whose event loop was busy past a round's deadline (a long aggregation, GC,
 * a starved core) runs its deadline timer before it reads its socket (Node runs due timers before it
 * polls for I/O), so replies that had already arrived would be counted missing. When the deadline
 * fires, the gatherer therefore first flushes the connection (PING, then PONG): the server answers in
 * order, so when the PONG has been read every reply the server delivered before the deadline has been
 * read too, and only then are the missing counted. Rounds that end before their deadline never pay
 * for it. A reply read during the flush counts as received (it was in time or very nearly). If no PONG
 * comes within DEADLINE_FLUSH_MS (the connection is down), the round closes anyway, after one poll of
 * the socket. A retransmission likewise waits for one poll of the socket, so a stalled leader does
 * not re-send requests whose replies are already there.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encodeEnvelope, readReply, type Body, type Envelope, type ReplyHead } from './codec.ts';
import type { Placement } from './control.ts';
import { Counters } from './counters.ts';
import { valueEnd } from './fastpack.ts';
import { publishFast } from './fastpublish.ts';
import { subscribeDataWithSubject } from './fastparse.ts';
import { emptyRows, ROWS_KIND, rowBody, rowsOf, RowsReader, type Rows } from './replyRows.ts';
import { NIL, RoundReplies } from './roundReplies.ts';
import { SenderTable } from './senders.ts';
import { subjects } from './subjects.ts';
import type { RtoEstimator } from './link.ts';
import type { LinkArrivals } from './linkHold.ts';

const te = new TextEncoder();

export interface GatherTarget {
  id: string;
  role: string;
  /** position in the roster (reply arrays follow the roster) */
  slotIndex: number;
}

export interface GatherRequest {
  kind: string;
  body: object;
  /** broadcast to these roles (one message each), or direct sends to `direct` */
  roles?: string[];
  direct?: { id: string; body: object }[];
  /** every agent whose reply is awaited */
  expect: GatherTarget[];
  /** `expect` as id → roster position; pass the same map every round for the same targets (built here otherwise) */
  expectIndex?: Map<string, number>;
  rosterSize: number;
  slot: number;
  round: number;
  deadlineMs: number;
}

/** A round as gathered (a class: an object literal with a getter made a hidden class a round). */
export class GatherResult {
  /** agents whose reply did not arrive before the deadline */
  missing: string[] = [];
  /** agents that answered with a `nil` acknowledgement */
  nil = 0;
  /** replies received (including nil acknowledgements) */
  received = 0;
  /** messages published for this round */
  published = 0;
  bytesOut = 0;
  bytesIn = 0;
  /** wall time from the first publish to the last reply, ms */
  latencyMs = 0;
  /** the time the last reply arrived (performance.now()) */
  closedAt = 0;
  /** requests re-sent to agents whose reply was missing (not counted in `published`) */
  resent = 0;
  /** requests re-sent by the link model's retransmission timer (not counted in `published` nor `resent`) */
  linkResent = 0;

  constructor(
    /** the replies as gathered: rows kept as columns (bus/roundReplies.ts) */
    readonly table: RoundReplies,
    readonly startedAt: number,
  ) {}

  /** the replies by roster position (NIL for a `nil` acknowledgement): `table`'s, made when first read */
  get replies(): (Body | typeof NIL | undefined)[] {
    return this.table.replies();
  }
}

/**
 * The link model at the leader (bus/link.ts): each follower's replies arrive through its link
 * (held for their drawn delay, or lost), and a round re-sends a follower's request when its reply
 * is later than that follower's retransmission timeout (each its own, as each TCP connection has:
 * estimated from the modelled round trip and learnt from its replies), doubling each time.
 */
export interface GatherLink {
  arrivals: Map<string, LinkArrivals>;
  /** per roster position; none when the model loses nothing (no retransmission timer then) */
  rto?: RtoEstimator[];
}

/** the first retransmission waits at least this long (ms) … */
export const RETRY_MIN_MS = 2000;
/** … and at least this many times the slowest of the last RECENT rounds */
const RETRY_FACTOR = 8;
/** progress is sampled this many times per quiet period */
const RETRY_TICKS = 4;
const RECENT = 16;
/** at a round's deadline, wait at most this long (ms) for the PONG of the flush that reads what already arrived */
export const DEADLINE_FLUSH_MS = 2000;

interface Pending {
  req: GatherRequest;
  expected: Map<string, number>;
  /** per roster position, 1 if that agent's reply is awaited (when every target's slotIndex is its roster position), so a reply is placed without a lookup by id */
  expectedAt?: Uint8Array;
  /** per roster position: 1 once that agent's reply is in */
  got: Uint8Array;
  result: GatherResult;
  remaining: number;
  resolve: (r: GatherResult) => void;
  timer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  /** the bytes each target was sent: by role (broadcasts) or by agent id (direct) */
  sentBytes: Map<string, Uint8Array>;
  /** agents a request was re-sent to */
  resentTo?: Set<string>;
  /** replies received at the last progress sample, and when (performance.now()) that count last grew */
  sampled: number;
  progressAt: number;
  /** the deadline has passed: the connection is being flushed before the missing are counted */
  closing?: boolean;
  /** the link model's retransmission timer, and when each roster position's next retransmission is due (performance.now()) */
  linkTimer?: NodeJS.Timeout;
  linkDue?: Float64Array;
  /** … and its current timeout (the RTO, doubled at each retransmission) */
  linkWait?: Float64Array;
  /** the targets whose reply was still missing when the link timer last looked (it only ever shrinks) */
  linkMissing?: GatherTarget[];
}

export class Gatherer {
  private subs: Subscription[] = [];
  private pending?: Pending;
  /** the roster's ids, and the table that finds them from an envelope's bytes */
  private ids: string[] = [];
  private senders = new SenderTable([]);
  /** the roster's roles, each roster agent's, and the table that finds one in a reply subject */
  private roles: string[] = [];
  private roleOf = new Int32Array(0);
  private roleTable = new SenderTable([]);
  /** the run's hosts, each roster agent's, and the table that finds one in a reply subject (placement known); none when agents join from anywhere */
  private where?: { hosts: string[]; of: Int32Array; table: SenderTable };
  private prefixBytes = 0;
  private readonly subj: ReturnType<typeof subjects>;
  /** latencies of the last rounds (ms), for the retransmission delay */
  private readonly recent: number[] = [];
  /** rounds (`slot:round`) that had retransmissions: a late second copy of their replies is an echo */
  private readonly resentRounds: string[] = [];
  /** those of them re-sent for a fault, not only by the link model's timer (the echo's drop says which) */
  private readonly faultRounds: string[] = [];
  /** reply headers are read into this object, one reply at a time (no envelope allocated per reply) */
  private readonly head: ReplyHead = { slot: 0, round: 0, kind: '', body: {}, noreply: undefined, sender: -1, end: 0 };
  /** a host's rows (bus/replyRows.ts) are read into this object, one envelope at a time */
  private readonly rows: Rows = emptyRows();
  private readonly rowsReader = new RowsReader();
  /** per target list (the leader passes the same list for the same targets every round): its roster-position mask */
  private readonly masks = new WeakMap<GatherTarget[], Uint8Array | null>();
  /** the requests of the current and the previous slot, as sent (for replaying them to a restarted agent) */
  private readonly sentLog: { slot: number; round: number; sent: Map<string, Uint8Array> }[] = [];
  /** a follower's state at a slot's start (`state` messages), for a restarted process of that agent */
  onState?: (from: string, slot: number, snapshot: Body) => void;
  /** the run's link model, if it has one */
  link?: GatherLink;

  constructor(
    private readonly nc: NatsConnection,
    private readonly run: string,
    private readonly leaderId: string,
    private readonly counters: Counters,
    private readonly maxBytes: number,
  ) {
    this.subj = subjects(run);
  }

  /** Subscribe to the replies of every agent of `roster`, on the hosts `placement` puts them on (if known). */
  start(roster: { id: string; role: string }[], placement?: Placement): void {
    this.ids = roster.map((a) => a.id);
    this.senders = new SenderTable(this.ids);
    this.roles = [...new Set(roster.map((a) => a.role))];
    this.roleTable = new SenderTable(this.roles);
    this.roleOf = Int32Array.from(roster, (a) => this.roles.indexOf(a.role));
    if (placement) {
      if (placement.of.length !== roster.length) throw new Error(`the placement names the hosts of ${placement.of.length} agents, the roster has ${roster.length}`);
      this.where = { hosts: placement.hosts, of: Int32Array.from(placement.of), table: new SenderTable(placement.hosts) };
    }
    // the subscription's subject up to the role's token, as bytes
    this.prefixBytes = te.encode(this.subj.replyPrefix(this.leaderId)).length;
    this.subs.push(subscribeDataWithSubject(this.nc, this.subj.replyWildcard(this.leaderId), (data, start, end, subject, s0, s1) => this.onSubject(data, start, end, subject, s0, s1)));
  }

  /**
   * A message (data[start, end)) on a reply subject (subject[s0, s1), `….rep.<leader>.<role>.<host>`):
   * taken if the role is one of the roster's and (placement known) the host one of the run's.
   */
  private onSubject(data: Uint8Array, start: number, end: number, subject: Uint8Array, s0: number, s1: number): void {
    const r0 = s0 + this.prefixBytes;
    let dot = r0;
    while (dot < s1 && subject[dot] !== 0x2e) dot++;
    const role = dot < s1 ? this.roleTable.find(subject, r0, dot) : -1;
    const host = role < 0 || !this.where ? -1 : this.where.table.find(subject, dot + 1, s1);
    if (role < 0 || (this.where && host < 0)) {
      this.counters.received('reply', end - start);
      return this.counters.drop('unexpected-sender', new TextDecoder().decode(subject.subarray(s0, s1)), undefined, 'a reply subject of no role of the roster, or no host of the run');
    }
    // A host's replies come back to back in one message (bus/replyBatch.ts), each taken as if alone.
    // What does not start as an envelope's array (7 or 8 fields), or does not end as one msgpack
    // value, is taken with all that follows as one message, which decode() then drops: a message of
    // junk (an empty one too) costs one drop, not one per byte.
    const h = this.head;
    let at = start;
    do {
      // a host's rows, read where they stand. Tried first: at scale nearly every message is rows, and
      // the rows reader gives up on any other envelope within its first few bytes (its kind), where
      // readReply would first look its sender up.
      if (data[at] === 0x97 && this.rowsReader.read(data, at, end, this.run, this.maxBytes, subject, dot + 1, s1, this.rows)) {
        const e = this.rows.end;
        this.takeRows(role, host, e - at, subject, s0, s1);
        at = e;
        continue;
      }
      // the usual reply, read where it stands (readReply finds its end)
      if (data[at] === 0x97 && readReply(data, at, end, this.run, this.maxBytes, this.senders, h, true) && h.kind !== ROWS_KIND) {
        const e = h.end;
        this.counters.received('reply', e - at);
        this.take(role, host, e - at, subject, s0, s1);
        at = e;
        continue;
      }
      const e = data[at] === 0x97 || data[at] === 0x98 ? valueEnd(data, at, end) : -1;
      if (e < 0) return this.onReply(data, at, end, role, host, subject, s0, s1);
      this.onReply(data, at, e, role, host, subject, s0, s1);
      at = e;
    } while (at < end);
  }

  /** The subject roster agent `i`'s replies come on (`*` for its host when the placement is not known), for drop records. */
  private subjectOf(i: number): string {
    return this.subj.reply(this.leaderId, this.roles[this.roleOf[i]], this.where ? this.where.hosts[this.where.of[i]] : '*');
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    if (this.pending?.timer) clearTimeout(this.pending.timer);
    if (this.pending?.retryTimer) clearTimeout(this.pending.retryTimer);
    if (this.pending?.linkTimer) clearTimeout(this.pending.linkTimer);
    for (const a of this.link?.arrivals.values() ?? []) a.clear();
  }

  /**
   * Re-send the pending round's request to every agent whose reply is still missing, now (`link`: by
   * the link model's timer, to those of `only` whose own RTO has passed).
   */
  resendMissing(reason: 'fault' | 'link' = 'fault', only?: GatherTarget[]): number {
    const p = this.pending;
    if (!p) return 0;
    let n = 0;
    for (const t of only ?? p.req.expect) {
      if (p.got[t.slotIndex]) continue;
      const data = p.sentBytes.get(t.id) ?? p.sentBytes.get(t.role);
      if (!data) continue;
      this.nc.publish(this.subj.direct(t.id), data);
      this.counters.sent('direct', reason === 'link' ? 'link-resent' : 'resent', data.byteLength);
      (p.resentTo ??= new Set()).add(t.id);
      n++;
    }
    if (n) {
      if (reason === 'link') p.result.linkResent += n;
      else p.result.resent += n;
      const key = `${p.req.slot}:${p.req.round}`;
      if (this.resentRounds[this.resentRounds.length - 1] !== key) this.resentRounds.push(key);
      if (this.resentRounds.length > 64) this.resentRounds.shift();
      if (reason === 'fault' && this.faultRounds[this.faultRounds.length - 1] !== key) this.faultRounds.push(key);
      if (this.faultRounds.length > 64) this.faultRounds.shift();
    }
    return n;
  }

  /**
   * Replay to a restarted agent every request it was sent since the start of `fromSlot`, as
   * notifications (it rebuilds its state and answers none of them), in the order they were sent.
   * The round in flight is left out unless the agent had already answered it (resendMissing sends
   * it, expecting the answer). Returns how many messages were replayed, or -1 when the log no
   * longer reaches back to `fromSlot`.
   */
  replayTo(id: string, role: string, fromSlot: number): number {
    if (this.sentLog.length && this.sentLog[0].slot > fromSlot) return -1;
    const p = this.pending;
    const idx = p?.expected.get(id);
    let n = 0;
    for (const e of this.sentLog) {
      if (e.slot < fromSlot) continue;
      if (p && e.slot === p.req.slot && e.round === p.req.round && idx !== undefined && !p.got[idx]) continue;
      const data = e.sent.get(id) ?? e.sent.get(role);
      if (!data) continue;
      const d = decode(data, this.run, Infinity);
      if (!d.ok) continue;
      const copy = encodeEnvelope(this.run, d.env.slot, d.env.round, d.env.from, d.env.kind, d.env.body, true);
      this.nc.publish(this.subj.direct(id), copy);
      this.counters.sent('direct', 'replay', copy.byteLength);
      n++;
    }
    return n;
  }

  /**
   * Samples the round's progress every quiet/RETRY_TICKS ms: replies still coming (a slow round)
   * re-send nothing; none for `quiet` ms (a lost request or reply) re-send to the missing, after
   * which the quiet period doubles. Stops when a re-send could no longer come before the deadline.
   */
  private scheduleRetry(p: Pending, quiet: number): void {
    const deadlineAt = p.result.startedAt + p.req.deadlineMs;
    const tick = quiet / RETRY_TICKS;
    if (p.progressAt + quiet >= deadlineAt) return;
    p.retryTimer = setTimeout(() => {
      // after one poll of the socket: a stalled loop runs this timer before it reads replies already there
      setImmediate(() => {
        if (this.pending !== p || p.closing) return;
        const now = performance.now();
        if (p.result.received !== p.sampled) {
          p.sampled = p.result.received;
          p.progressAt = now;
        } else if (now - p.progressAt >= quiet - 1) {
          this.resendMissing();
          p.progressAt = now;
          quiet *= 2;
        }
        this.scheduleRetry(p, quiet);
      });
    }, tick);
  }

  /**
   * The link model's retransmissions of `p`: a follower's request goes again once its RTO has passed
   * without its reply, then after twice as long (RFC 6298 back-off), until the round's deadline. One
   * timer, for the earliest follower due.
   */
  private scheduleLinkRetry(p: Pending, rto: RtoEstimator[]): void {
    if (!p.linkDue || !p.linkWait) {
      p.linkDue = new Float64Array(p.req.rosterSize);
      p.linkWait = new Float64Array(p.req.rosterSize);
      for (const t of p.req.expect) {
        p.linkWait[t.slotIndex] = rto[t.slotIndex].rtoMs();
        p.linkDue[t.slotIndex] = p.result.startedAt + p.linkWait[t.slotIndex];
      }
    }
    const due = p.linkDue;
    const wait = p.linkWait;
    // each look scans only the targets still missing at the last one: a large round costs O(N) once
    const missing = (p.linkMissing = (p.linkMissing ?? p.req.expect).filter((t) => !p.got[t.slotIndex]));
    let next = Infinity;
    for (const t of missing) if (due[t.slotIndex] < next) next = due[t.slotIndex];
    if (next >= p.result.startedAt + p.req.deadlineMs) return;
    p.linkTimer = setTimeout(() => {
      if (this.pending !== p || p.closing) return;
      const now = performance.now();
      // a timer may fire up to 1 ms early (whole milliseconds)
      const late = p.linkMissing!.filter((t) => !p.got[t.slotIndex] && due[t.slotIndex] <= now + 1);
      this.resendMissing('link', late);
      for (const t of late) {
        wait[t.slotIndex] *= 2;
        due[t.slotIndex] = now + wait[t.slotIndex];
      }
      this.scheduleLinkRetry(p, rto);
    }, Math.max(0, next - performance.now()));
  }

  round(req: GatherRequest): Promise<GatherResult> {
    if (this.pending) throw new Error('a round is already in flight');
    const expected = req.expectIndex ?? new Map(req.expect.map((t) => [t.id, t.slotIndex]));
    const result = new GatherResult(new RoundReplies(req.rosterSize), performance.now());
    return new Promise<GatherResult>((resolve) => {
      const p: Pending = { req, expected, expectedAt: this.maskFor(req.expect, req.rosterSize), got: new Uint8Array(req.rosterSize), result, remaining: expected.size, resolve, sentBytes: new Map(), sampled: 0, progressAt: result.startedAt };
      this.pending = p;
      const send = (subject: string, family: 'bcast' | 'direct', key: string, body: object) => {
        const data = encodeEnvelope(this.run, req.slot, req.round, this.leaderId, req.kind, body, expected.size === 0);
        publishFast(this.nc, subject, data);
        this.counters.sent(family, req.kind, data.byteLength);
        p.sentBytes.set(key, data);
        result.published++;
        result.bytesOut += data.byteLength;
      };
      for (const role of req.roles ?? []) send(this.subj.bcast(role), 'bcast', role, req.body);
      for (const d of req.direct ?? []) send(this.subj.direct(d.id), 'direct', d.id, d.body);
      while (this.sentLog.length && this.sentLog[0].slot < req.slot - 1) this.sentLog.shift();
      this.sentLog.push({ slot: req.slot, round: req.round, sent: p.sentBytes });
      if (p.remaining === 0) return this.finish(p);
      p.timer = setTimeout(() => this.deadline(p), req.deadlineMs);
      this.scheduleRetry(p, Math.max(RETRY_MIN_MS, RETRY_FACTOR * Math.max(0, ...this.recent)));
      if (this.link?.rto) this.scheduleLinkRetry(p, this.link.rto);
    });
  }

  /**
   * The round's deadline: read everything the server delivered up to now (a flush's PONG comes after
   * it), then close the round. Replies that arrive meanwhile are taken; the last one closes it early.
   */
  private deadline(p: Pending): void {
    if (this.pending !== p || p.closing) return;
    p.closing = true;
    if (p.retryTimer) clearTimeout(p.retryTimer);
    p.retryTimer = undefined;
    if (p.linkTimer) clearTimeout(p.linkTimer);
    // a late PONG (connection down) must not hold the round: close it after one more poll of the socket
    p.timer = setTimeout(() => setImmediate(() => this.finish(p)), DEADLINE_FLUSH_MS);
    let flushed: Promise<void>;
    try {
      flushed = this.nc.flush();
    } catch {
      flushed = Promise.resolve();
    }
    flushed.then(
      () => this.finish(p),
      () => this.finish(p),
    );
  }

  private finish(p: Pending): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    if (p.retryTimer) clearTimeout(p.retryTimer);
    if (p.linkTimer) clearTimeout(p.linkTimer);
    const now = performance.now();
    if (p.remaining > 0) {
      for (const [id, idx] of p.expected) if (!p.got[idx]) p.result.missing.push(id);
      p.result.closedAt = now;
    }
    if (!p.result.closedAt) p.result.closedAt = now;
    p.result.latencyMs = p.result.closedAt - p.result.startedAt;
    // a round that needed retransmissions is not a typical round: it does not set the next delay
    if (!p.result.resent && !p.result.missing.length) {
      this.recent.push(p.result.latencyMs);
      if (this.recent.length > RECENT) this.recent.shift();
    }
    p.resolve(p.result);
  }

  /**
   * The targets' roster positions as a mask, when each target's slotIndex is its position in the
   * roster (as the leader's are) and they are many; else none, and replies are placed through the id
   * map. Made once per target list.
   */
  private maskFor(expect: GatherTarget[], rosterSize: number): Uint8Array | undefined {
    // a round to a few agents (one-to-one rounds) is placed through the map: a mask a round would cost O(roster)
    if (expect.length * 8 < rosterSize) return undefined;
    let mask = this.masks.get(expect);
    if (mask === undefined) {
      mask = new Uint8Array(rosterSize);
      for (const t of expect) {
        if (this.ids[t.slotIndex] !== t.id || t.slotIndex >= rosterSize) {
          mask = null;
          break;
        }
        mask[t.slotIndex] = 1;
      }
      this.masks.set(expect, mask);
    }
    return mask ?? undefined;
  }

  /**
   * A message, data[start, end), on the reply subject of the roster's role at position `role` and
   * (placement known) the run's host at position `host`: taken if its sender is a roster agent of
   * that role, on that host.
   */
  private onReply(data: Uint8Array, start: number, end: number, role: number, host: number, subject: Uint8Array, s0: number, s1: number): void {
    const bytes = end - start;
    const h = this.head;
    // a rows envelope is never an agent's reply, even from a host whose id is an agent's
    if (!readReply(data, start, end, this.run, this.maxBytes, this.senders, h) || h.kind === ROWS_KIND) {
      // any unusual bytes: decoded in full, their errors and drop reasons decode()'s own
      const on = () => new TextDecoder().decode(subject.subarray(s0, s1));
      const d = decode(data.subarray(start, end), this.run, this.maxBytes);
      // well-formed rows are counted row by row
      if (d.ok && d.env.kind === ROWS_KIND) return this.onRows(d.env, bytes, role, host, subject, s0, s1);
      this.counters.received('reply', bytes);
      if (!d.ok) return this.counters.drop(d.reason, on(), d.from, d.detail);
      const env = d.env;
      const from = te.encode(env.from);
      const i = this.senders.find(from, 0, from.length);
      if (i < 0) return this.counters.drop('unexpected-sender', on(), env.from, 'not in the roster');
      h.slot = env.slot;
      h.round = env.round;
      h.kind = env.kind;
      h.body = env.body;
      h.sender = i;
    } else this.counters.received('reply', bytes);
    this.take(role, host, bytes, subject, s0, s1);
  }

  /**
   * A rows envelope the fast reader did not take, decoded: taken if it comes from the subject's host
   * and is well formed (bus/replyRows.ts rowsOf), else dropped as one message.
   */
  private onRows(env: Envelope<Body>, bytes: number, role: number, host: number, subject: Uint8Array, s0: number, s1: number): void {
    const on = () => new TextDecoder().decode(subject.subarray(s0, s1));
    const hostToken = on().slice(this.subj.replyPrefix(this.leaderId).length).split('.')[1];
    const bad = env.from !== hostToken ? 'forged-sender' : rowsOf(env, this.rows);
    if (bad === undefined) return this.takeRows(role, host, bytes, subject, s0, s1);
    this.counters.received('reply', bytes);
    if (bad === 'forged-sender') return this.counters.drop('forged-sender', on(), env.from, `rows from ${env.from} on the reply subject of host ${hostToken}`);
    this.counters.drop('malformed', on(), env.from, bad);
  }

  /**
   * The rows in `this.rows` (`bytes` in all), from the host at position `host` on the reply subject of
   * `role`: each row taken as its agent's own reply would be (`take`), counted as one message. Rows
   * that answer the round in flight as expected go in one pass (`acceptRows`); from the first that
   * does not, each goes through `take`, which drops it or takes it as it must.
   */
  private takeRows(role: number, host: number, bytes: number, subject: Uint8Array, s0: number, s1: number): void {
    const rows = this.rows;
    const n = rows.count;
    const share = Math.floor(bytes / n);
    const h = this.head;
    const p = this.pending;
    let r = p && this.link === undefined && p.expectedAt && rows.slot === p.req.slot && rows.round === p.req.round && ordinary(rows.kind) ? this.acceptRows(p, p.expectedAt, role, host, bytes, share) : 0;
    for (; r < n; r++) {
      const b = rowBytes(bytes, n, share, r);
      this.counters.received('reply', b);
      const i = rows.at[r];
      if (i >= this.ids.length) {
        this.counters.drop('unexpected-sender', new TextDecoder().decode(subject.subarray(s0, s1)), undefined, `a row names roster position ${i}; the roster has ${this.ids.length}`);
        continue;
      }
      h.slot = rows.slot;
      h.round = rows.round;
      h.kind = rows.kind;
      h.body = rowBody(rows, r);
      h.sender = i;
      this.take(role, host, b, subject, s0, s1);
    }
  }

  /**
   * The rows of `this.rows`, which answer `p` (its slot and round, an ordinary kind, no link model),
   * taken in order while each is what `take` and `accept` would take without a word: its agent in
   * the roster, of the subject's role and host, awaited, and not in yet. Kept in the round's columns
   * (bus/roundReplies.ts), counted as `take` counts them. Returns the first row not taken.
   */
  private acceptRows(p: Pending, expectedAt: Uint8Array, role: number, host: number, bytes: number, share: number): number {
    const { count: n, at, keys, cols } = this.rows;
    const got = p.got;
    const roleOf = this.roleOf;
    const hostOf = this.where?.of;
    const table = p.result.table;
    const size = this.ids.length;
    let r = 0;
    let taken = 0;
    while (r < n) {
      const i = at[r];
      if (i >= size || roleOf[i] !== role || (hostOf !== undefined && hostOf[i] !== host) || expectedAt[i] !== 1 || got[i] !== 0) break;
      got[i] = 1;
      taken += rowBytes(bytes, n, share, r);
      r++;
      if (--p.remaining === 0) break;
    }
    if (r > 0 && table.takes(keys)) table.setRows(at, cols, 0, r);
    else for (let k = 0; k < r; k++) table.setBody(at[k], rowBody(this.rows, k));
    this.counters.received('reply', taken, r);
    p.result.received += r;
    p.result.bytesIn += taken;
    this.closeIfComplete(p);
    return r;
  }

  /** The reply in `head`, read from a message on the reply subject of `role` and `host`: taken if its sender is of that role, on that host. */
  private take(role: number, host: number, bytes: number, subject: Uint8Array, s0: number, s1: number): void {
    const h = this.head;
    const i = h.sender;
    const sender = this.ids[i];
    if (this.roleOf[i] !== role || (this.where && this.where.of[i] !== host)) {
      h.body = EMPTY_BODY;
      const where = this.where ? ` on ${this.where.hosts[this.where.of[i]]}` : '';
      return this.counters.drop('forged-sender', new TextDecoder().decode(subject.subarray(s0, s1)), sender, `envelope says ${sender} (a ${this.roles[this.roleOf[i]]}${where}), on another host's or role's reply subject`);
    }
    const { slot, round, kind, body } = h;
    h.body = EMPTY_BODY;
    if (kind === 'state') return void this.onState?.(sender, slot, body);
    const arrivals = this.link?.arrivals.get(sender);
    if (!arrivals || arrivals.instant) return this.accept(slot, round, kind, body, i, bytes);
    if (!arrivals.arrive(slot, round, kind, false, () => this.accept(slot, round, kind, body, i, bytes))) this.counters.drop('link-lost', this.subjectOf(i), sender, `lost by the link model (slot ${slot} round ${round} ${kind})`);
  }

  /** A decoded reply from the roster's agent at position `i`, as it reaches the leader. */
  private accept(slot: number, round: number, kind: string, body: Body, i: number, bytes: number): void {
    const p = this.pending;
    const sender = this.ids[i];
    if (!p || round !== p.req.round || slot !== p.req.slot) {
      const key = `${slot}:${round}`;
      if (this.resentRounds.includes(key)) return this.counters.drop(this.link && !this.faultRounds.includes(key) ? 'link-echo' : 'retransmit-echo', this.subjectOf(i), sender, `reply to slot ${slot} round ${round} after it closed (the request was re-sent)`);
      return this.counters.drop('stale', this.subjectOf(i), sender, `reply to slot ${slot} round ${round}, current ${p ? `slot ${p.req.slot} round ${p.req.round}` : 'none'}`);
    }
    const idx = p.expectedAt ? (p.expectedAt[i] === 1 ? i : undefined) : p.expected.get(sender);
    if (idx === undefined) return this.counters.drop('unexpected-sender', this.subjectOf(i), sender, 'not addressed in this round');
    if (p.got[idx] && p.resentTo?.has(sender)) return this.counters.drop(this.link && !p.result.resent ? 'link-echo' : 'retransmit-echo', this.subjectOf(i), sender, 'second copy of a reply to a re-sent request');
    if (p.got[idx]) return this.counters.drop('duplicate', this.subjectOf(i), sender, 'second reply in one round');
    p.got[idx] = 1;
    // Karn: only a reply to a request sent once measures the round trip
    if (this.link?.rto && !p.resentTo?.has(sender)) this.link.rto[idx].sample(performance.now() - p.result.startedAt);
    p.result.received++;
    p.result.bytesIn += bytes;
    if (kind === 'nil') {
      p.result.nil++;
      p.result.table.setNil(idx);
    } else if (kind === 'error') {
      // never String() a decoded value: a map with a `toString` key makes it throw (in a subscription callback)
      const message = (body as { message?: unknown }).message;
      this.counters.drop('handler-error', this.subjectOf(i), sender, typeof message === 'string' ? message : 'error');
    } else p.result.table.setBody(idx, body);
    p.remaining--;
    this.closeIfComplete(p);
  }

  /** The round closes at its last awaited reply. */
  private closeIfComplete(p: Pending): void {
    if (p.remaining > 0) return;
    p.result.closedAt = performance.now();
    this.finish(p);
  }
}

const EMPTY_BODY: Body = {};

/** row `r`'s part of the `bytes` of a message of `n` rows (`share`: floor(bytes / n)), counted as its size; the first takes the remainder */
function rowBytes(bytes: number, n: number, share: number, r: number): number {
  return r === 0 ? bytes - share * (n - 1) : share;
}

/** a reply kind `accept` takes as a plain reply (not a `nil`, an `error` or a follower's `state`) */
function ordinary(kind: string): boolean {
  return kind !== 'nil' && kind !== 'error' && kind !== 'state';
}
