/**
 * Scatter-gather with a deadline, for a leader: one broadcast per addressed role (or one direct
 * message per target), then every expected reply is gathered concurrently until all are in or the
 * deadline passes. Replies are returned in roster order, whatever order they arrived in.
 *
 * The leader subscribes once to `mecsim.<run>.rep.<leader>.*`; a reply's sender is the subject's
 * last token, which must equal the envelope's `from` (so one agent cannot answer for another when
 * server permissions pin each agent to its own reply subject).
 */
import type { NatsConnection, Msg, Subscription } from '@nats-io/transport-node';
import { decode, encodeEnvelope, type Body } from './codec.ts';
import { Counters } from './counters.ts';
import { lastToken, subjects } from './subjects.ts';

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
  rosterSize: number;
  slot: number;
  round: number;
  deadlineMs: number;
}

/** Stands in a reply array for an agent that answered with a `nil` acknowledgement. */
export const NIL = Symbol('nil');

export interface GatherResult {
  replies: (Body | typeof NIL | undefined)[];
  /** agents whose reply did not arrive before the deadline */
  missing: string[];
  /** agents that answered with a `nil` acknowledgement */
  nil: number;
  /** replies received (including nil acknowledgements) */
  received: number;
  /** messages published for this round */
  published: number;
  bytesOut: number;
  bytesIn: number;
  /** wall time from the first publish to the last reply, ms */
  latencyMs: number;
  /** the time the last reply arrived (performance.now()) */
  closedAt: number;
  startedAt: number;
}

interface Pending {
  req: GatherRequest;
  expected: Map<string, number>;
  /** per roster position: 1 once that agent's reply is in */
  got: Uint8Array;
  result: GatherResult;
  remaining: number;
  resolve: (r: GatherResult) => void;
  timer?: NodeJS.Timeout;
}

export class Gatherer {
  private sub?: Subscription;
  private pending?: Pending;
  private readonly subj: ReturnType<typeof subjects>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly run: string,
    private readonly leaderId: string,
    private readonly counters: Counters,
    private readonly maxBytes: number,
  ) {
    this.subj = subjects(run);
  }

  start(): void {
    this.sub = this.nc.subscribe(this.subj.replyWildcard(this.leaderId), { callback: (err, msg) => (err ? undefined : this.onReply(msg)) });
  }

  stop(): void {
    this.sub?.unsubscribe();
    if (this.pending?.timer) clearTimeout(this.pending.timer);
  }

  round(req: GatherRequest): Promise<GatherResult> {
    if (this.pending) throw new Error('a round is already in flight');
    const expected = new Map(req.expect.map((t) => [t.id, t.slotIndex]));
    const result: GatherResult = {
      replies: new Array(req.rosterSize).fill(undefined),
      missing: [],
      nil: 0,
      received: 0,
      published: 0,
      bytesOut: 0,
      bytesIn: 0,
      latencyMs: 0,
      closedAt: 0,
      startedAt: performance.now(),
    };
    return new Promise<GatherResult>((resolve) => {
      const p: Pending = { req, expected, got: new Uint8Array(req.rosterSize), result, remaining: expected.size, resolve };
      this.pending = p;
      const send = (subject: string, family: 'bcast' | 'direct', body: object) => {
        const data = encodeEnvelope(this.run, req.slot, req.round, this.leaderId, req.kind, body, expected.size === 0);
        this.nc.publish(subject, data);
        this.counters.sent(family, req.kind, data.byteLength);
        result.published++;
        result.bytesOut += data.byteLength;
      };
      for (const role of req.roles ?? []) send(this.subj.bcast(role), 'bcast', req.body);
      for (const d of req.direct ?? []) send(this.subj.direct(d.id), 'direct', d.body);
      if (p.remaining === 0) return this.finish(p);
      p.timer = setTimeout(() => this.finish(p), req.deadlineMs);
    });
  }

  private finish(p: Pending): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    const now = performance.now();
    if (p.remaining > 0) {
      for (const [id, idx] of p.expected) if (!p.got[idx]) p.result.missing.push(id);
      p.result.closedAt = now;
    }
    if (!p.result.closedAt) p.result.closedAt = now;
    p.result.latencyMs = p.result.closedAt - p.result.startedAt;
    p.resolve(p.result);
  }

  private onReply(msg: Msg): void {
    const bytes = msg.data.byteLength;
    this.counters.received('reply', bytes);
    const sender = lastToken(msg.subject);
    const d = decode(msg.data, this.run, this.maxBytes);
    if (!d.ok) return this.counters.drop(d.reason, msg.subject, d.from ?? sender, d.detail);
    const env = d.env;
    if (env.from !== sender) return this.counters.drop('forged-sender', msg.subject, env.from, `envelope says ${env.from}, subject says ${sender}`);
    const p = this.pending;
    if (!p || env.round !== p.req.round || env.slot !== p.req.slot) {
      return this.counters.drop('stale', msg.subject, env.from, `reply to slot ${env.slot} round ${env.round}, current ${p ? `slot ${p.req.slot} round ${p.req.round}` : 'none'}`);
    }
    const idx = p.expected.get(env.from);
    if (idx === undefined) return this.counters.drop('unexpected-sender', msg.subject, env.from, 'not addressed in this round');
    if (p.got[idx]) return this.counters.drop('duplicate', msg.subject, env.from, 'second reply in one round');
    p.got[idx] = 1;
    p.result.received++;
    p.result.bytesIn += bytes;
    if (env.kind === 'nil') {
      p.result.nil++;
      p.result.replies[idx] = NIL;
    } else if (env.kind === 'error') {
      // never String() a decoded value: a map with a `toString` key makes it throw (in a subscription callback)
      const message = (env.body as { message?: unknown }).message;
      this.counters.drop('handler-error', msg.subject, env.from, typeof message === 'string' ? message : 'error');
    } else p.result.replies[idx] = env.body;
    p.remaining--;
    if (p.remaining === 0) {
      p.result.closedAt = performance.now();
      this.finish(p);
    }
  }
}
