/**
 * Joining a run: each hosted agent asks the orchestrator for its place (`join`, a request on the
 * host's own join subject), is welcomed, rejected or told to wait as a spare (`retry`), and says
 * `ready` once its subscriptions are live. A host of external agents also says `alive` on its join
 * subject, as the welcome asks, so the orchestrator can tell a dead host from a quiet one.
 */
import { hostname } from 'node:os';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ORCHESTRATOR, type ControlChannel, type ControlKind, type ReceivedOf, type Welcome } from '../bus/control.ts';
import { subjects } from '../bus/subjects.ts';
import type { RoleName } from '../scenarios/types.ts';

/** join requests in flight per host */
export const JOIN_CONCURRENCY = 64;

/** agents a packed host asks for in one `joins` request, and such requests in flight */
export const JOIN_BATCH = 256;
export const JOIN_BATCH_CONCURRENCY = 4;

/** the largest welcome accepted (a leader's welcome carries the roster) */
const MAX_WELCOME_BYTES = 64 * 1024 * 1024;

export class JoinRejected extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface JoinDeps {
  nc: NatsConnection;
  run: string;
  hostId: string;
  channel: ControlChannel;
  log: Logger;
  /** how long to keep trying to join (ms) */
  joinTimeoutMs: number;
  /** the host is closing: stop asking */
  closing: () => boolean;
  /** an answer came from the orchestrator (it is alive) */
  heard?: () => void;
  /** the run was over when this host asked to join: the orchestrator's `shutdown` (completed) or `abort` (failed) */
  ended: (end: RunEnd) => void;
}

/** How a run ended, as the orchestrator tells its hosts: on ctl.all, or in answer to a join that came too late. */
export type RunEnd = { kind: 'shutdown' } | { kind: 'abort'; reason?: string };

/** The RunEnd an orchestrator's `shutdown` or `abort` says. */
export function runEndOf(r: { kind: 'shutdown' } | { kind: 'abort'; body: { reason?: string } }): RunEnd {
  return r.kind === 'abort' ? { kind: 'abort', reason: r.body.reason } : { kind: 'shutdown' };
}

/** Nothing listens on the join subject: no orchestrator of the run is connected to this server. */
class NoResponders extends Error {}

/**
 * Flushes shared by the agents of one host. A flush (PING, answered by PONG once the server has
 * processed everything sent before it) proves that every subscription made before the PING is live;
 * so the agents that ask while a flush is out wait for the next one, which starts as soon as that
 * one is answered and covers all of them. One round trip for many agents instead of one each
 * (25,000 agents in a worker at N = 100,000 made 25,000 PINGs).
 */
export class SharedFlush {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private inFlight = false;

  constructor(private readonly nc: Pick<NatsConnection, 'flush'>) {}

  /** Resolves once a flush started after this call has been answered. */
  after(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight = true;
    let flushed: Promise<void>;
    try {
      flushed = this.nc.flush();
    } catch (e) {
      flushed = Promise.reject(e);
    }
    flushed
      .then(
        () => batch.forEach((w) => w.resolve()),
        (e) => batch.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        this.inFlight = false;
        this.next();
      });
  }
}

/** A join request's answer: its bytes and the inbox subject it came on. */
export interface JoinAnswer {
  data: Uint8Array;
  subject: string;
}

interface Pending {
  resolve: (a: JoinAnswer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The join requests of one host and their answers. Each request gets its own reply subject,
 * `inbox.<host>.join.<n>` (n never reused), on one wildcard subscription of the host's own inbox;
 * an answer for a request that is no longer waiting (timed out, then asked again) is ignored, as
 * the NATS client's `request` ignores it. That `request` also makes, per call, a random token, a
 * race of a timer promise and the answer's, and an Error with its stack when the answered request
 * is cancelled: at 25,000 agents in a worker that was about a tenth of the worker's join CPU.
 * A "no responders" status (nobody listens on the join subject yet) fails the request, as the
 * client's does, and the caller asks again.
 */
export class JoinRequests {
  private readonly pending = new Map<number, Pending>();
  private sub?: Subscription;
  private next = 0;
  private readonly prefix: string;

  constructor(
    private readonly nc: NatsConnection,
    inbox: string,
  ) {
    this.prefix = `${inbox}.join.`;
  }

  /** Publishes `data` on `subject` (with `publish`, which counts it) and resolves with the answer, or rejects after `timeoutMs`. */
  request(subject: string, data: Uint8Array, timeoutMs: number, publish: (subject: string, data: Uint8Array, reply: string) => void): Promise<JoinAnswer> {
    this.sub ??= this.subscribe();
    const n = this.next++;
    const reply = `${this.prefix}${n}`;
    return new Promise<JoinAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(n)?.reject(new Error('timeout')), timeoutMs);
      this.pending.set(n, { resolve, reject, timer });
      try {
        publish(subject, data, reply);
      } catch (e) {
        this.settle(n)?.reject(e as Error);
      }
    });
  }

  private subscribe(): Subscription {
    const sub = this.nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? undefined : this.onMsg(msg)) });
    // the connection closed: nothing will answer the requests still waiting
    void sub.closed.then(() => {
      for (const n of [...this.pending.keys()]) this.settle(n)?.reject(new Error('connection closed'));
    });
    return sub;
  }

  private onMsg(msg: Msg): void {
    const n = Number(msg.subject.slice(this.prefix.length));
    const p = this.settle(n);
    if (!p) return;
    if (msg.data.byteLength === 0 && msg.headers?.code === 503) return p.reject(new NoResponders('no responders'));
    p.resolve({ data: msg.data, subject: msg.subject });
  }

  /** The waiting request `n`, no longer waiting (undefined: it was not). */
  private settle(n: number): Pending | undefined {
    const p = this.pending.get(n);
    if (!p) return undefined;
    this.pending.delete(n);
    clearTimeout(p.timer);
    return p;
  }
}

export class Joiner {
  private readonly subject: string;
  private heartbeat?: NodeJS.Timeout;
  private readonly flushes: SharedFlush;
  /** os.hostname() is a system call: asked once, not twice per agent's join */
  private readonly hostName = hostname();

  private readonly requests: JoinRequests;
  private readonly publishJoin = (subject: string, data: Uint8Array, reply: string) => this.d.channel.publish(subject, 'join', data, reply);
  private readonly publishJoins = (subject: string, data: Uint8Array, reply: string) => this.d.channel.publish(subject, 'joins', data, reply);

  constructor(private readonly d: JoinDeps) {
    const subj = subjects(d.run);
    this.subject = subj.hostJoin(d.hostId);
    this.flushes = new SharedFlush(d.nc);
    this.requests = new JoinRequests(d.nc, subj.inbox(d.hostId));
  }

  /**
   * Asks until welcomed (undefined: the host closed meanwhile). A retried request carries the same
   * `nonce`, so the orchestrator answers a repeat with the same welcome.
   */
  async join(role: RoleName, index: number, seq: number): Promise<Welcome | undefined> {
    const { channel, log, hostId } = this.d;
    const body = { role, index, pid: process.pid, host: this.hostName, worker: hostId, nonce: `${this.hostName}:${process.pid}:${hostId}:${seq}` };
    const data = channel.encode('join', body, { from: `${role}-${index < 0 ? 'new' : index}` });
    const who = index < 0 ? `${role} (the next free one)` : `${role} ${index}`;
    let spareSaid = false;
    return this.ask(data, this.publishJoin, ['welcome', 'retry'], who, (r) => {
      if (r.kind === 'welcome') return r.body;
      if (!spareSaid) log.info({ role, reason: r.body.reason }, 'waiting as a spare: this run has no free slot of this role yet');
      spareSaid = true;
      throw new Error(`the run has no free ${role} slot`);
    });
  }

  /**
   * Asks for the welcomes of several agents at once (`joins`), until answered (undefined: the host
   * closed meanwhile). The answer welcomes the first of them, as many as one message carries, in
   * order: the caller asks again for the rest. A retried request carries the same `nonce`.
   */
  async joinMany(agents: { role: RoleName; index: number }[], seq: number): Promise<Welcome[] | undefined> {
    const { channel, hostId } = this.d;
    const body = { pid: process.pid, host: this.hostName, worker: hostId, nonce: `${this.hostName}:${process.pid}:${hostId}:b${seq}`, agents };
    const data = channel.encode('joins', body, { from: hostId });
    const who = `${agents.length} agents from ${agents[0].role} ${agents[0].index} on`;
    return this.ask(data, this.publishJoins, ['welcomes'], who, (r) => {
      const ws = r.body.welcomes;
      // the agents asked for, in order: anything else is not an answer to this request
      if (ws.length > agents.length || ws.some((w, i) => w.role !== agents[i].role || w.index !== agents[i].index)) throw new Error('a joins answer that names other agents than the ones asked for');
      return ws;
    });
  }

  /**
   * One join request asked until it is answered with one of `kinds` (the value `take` makes of it),
   * rejected, or the run ended (undefined). A `take` that throws counts as a failed attempt.
   */
  private async ask<K extends 'welcome' | 'welcomes' | 'retry', T>(data: Uint8Array, publish: typeof this.publishJoin, kinds: K[], who: string, take: (r: ReceivedOf<K>) => T): Promise<T | undefined> {
    const { channel } = this.d;
    const deadline = Date.now() + this.d.joinTimeoutMs;
    const expected: ControlKind[] = [...kinds, 'reject', 'shutdown', 'abort'];
    for (let attempt = 0; ; attempt++) {
      if (this.d.closing()) return undefined; // the run ended (or was aborted) while this agent waited as a spare
      try {
        const reply = await this.requests.request(this.subject, data, 10_000, publish);
        const r = channel.read(reply.data, reply.subject, expected, MAX_WELCOME_BYTES, (kind, from) => (from === ORCHESTRATOR ? undefined : `${kind} from ${from}`));
        if (!r) throw new Error('bad join reply (dropped)');
        this.d.heard?.();
        if (r.kind === 'shutdown' || r.kind === 'abort') {
          this.d.ended(runEndOf(r));
          return undefined;
        }
        if (r.kind === 'reject') throw new JoinRejected(r.body.reason);
        return take(r as ReceivedOf<K>);
      } catch (e) {
        if (this.d.closing()) return undefined;
        if (e instanceof JoinRejected) throw new Error(`${who}: join failed: ${e.message}`);
        if (Date.now() > deadline) throw new Error(`${who}: join failed after ${Math.round(this.d.joinTimeoutMs / 100) / 10} s: ${e instanceof NoResponders ? `nothing answers on ${this.subject}: no orchestrator of run ${this.d.run} is connected to this NATS server (it has not started, or it has ended)` : (e as Error).message}`);
        await sleep(Math.min(1000, 100 * (attempt + 1)));
      }
    }
  }

  /** The agent's subscriptions are live at the server: say so. */
  async ready(id: string): Promise<void> {
    await this.flushes.after(); // subscriptions are live at the server before we say we are ready
    this.d.channel.send(this.subject, 'ready', { id }, { from: id });
  }

  /** Several agents' subscriptions are live at the server: say so in one message. */
  async readyMany(ids: string[]): Promise<void> {
    await this.flushes.after();
    this.d.channel.send(this.subject, 'readies', { ids }, { from: this.d.hostId });
  }

  /**
   * The orchestrator has no child process to watch: a host that stops saying `alive` is taken for
   * dead, and its agents are given to a replica that joins. Started once per host.
   */
  startHeartbeat(ms: number, from: string): void {
    if (this.heartbeat) return;
    const body = { host: this.hostName, pid: process.pid, worker: this.d.hostId };
    this.heartbeat = setInterval(() => {
      if (this.d.closing() || this.d.nc.isClosed()) return;
      this.d.channel.send(this.subject, 'alive', body, { from });
    }, ms);
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
  }
}
