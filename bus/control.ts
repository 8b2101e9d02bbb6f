/**
 * The control protocol: every message the orchestrator and the agent hosts exchange to run a run
 * (joining, the slot clock, replay after a restart, shutdown), declared in one place with its body
 * type, publisher, subscriber and subject (the mechanism's own messages — a scenario's requests and
 * replies on `bc`, `to` and `rep` — are not control messages: bus/gather.ts carries those).
 *
 * | kind         | publisher           | subscriber            | subject                                    |
 * | ------------ | ------------------- | --------------------- | ------------------------------------------ |
 * | join         | agent host          | orchestrator          | join.<host> (request)                      |
 * | joins        | agent host          | orchestrator          | join.<host> (request: many agents at once) |
 * | welcome      | orchestrator        | the joining host      | inbox.<host>.… (the join's reply)          |
 * | welcomes     | orchestrator        | the joining host      | inbox.<host>.… (the joins' reply)          |
 * | reject       | orchestrator        | the joining host      | inbox.<host>.…                             |
 * | retry        | orchestrator        | the joining host      | inbox.<host>.… (wait as a spare)           |
 * | ready        | agent host          | orchestrator          | join.<host>                                |
 * | readies      | agent host          | orchestrator          | join.<host> (many agents ready at once)    |
 * | alive        | external agent host | orchestrator          | join.<host>                                |
 * | slot         | orchestrator        | leader                | ctl.<leader>                               |
 * | slot-done    | leader's host       | orchestrator          | inbox.orch.slots                           |
 * | slot-failed  | leader's host       | orchestrator          | inbox.orch.slots                           |
 * | resend       | orchestrator        | leader                | ctl.<leader>                               |
 * | replayed     | leader's host       | orchestrator          | inbox.orch.replayed (ids confirmed)        |
 * | replayed     | leader              | a restarted follower  | to.<agent> (notification, no ids)          |
 * | restore      | leader              | a restarted follower  | to.<agent> (notification)                  |
 * | rerun        | restarted leader    | followers             | bc.<role> (notification)                   |
 * | state        | follower's host     | leader                | rep.<leader>.<role>.<host>                 |
 * | shutdown     | orchestrator        | every host            | ctl.all                                    |
 * | shutdown     | orchestrator        | a host joining late   | inbox.<host>.… (the run completed)         |
 * | bye          | agent host          | orchestrator          | inbox.orch.bye.<host>                      |
 * | abort        | orchestrator        | every host            | ctl.all                                    |
 * | abort        | orchestrator        | a host joining late   | inbox.<host>.… (the run failed)            |
 * | heartbeat    | orchestrator        | every host (external) | ctl.all, every heartbeatMs                 |
 * | agent-failed | agent host          | orchestrator          | inbox.orch.failed.<host>                   |
 *
 * Every message is an envelope (bus/codec.ts); `decode` checks the envelope, and the validator of
 * its kind here checks the body's shape (types, finite numbers, array elements, string lengths) and
 * gives either the typed body or the reason it is dropped. Who may send what (`Speakers`): the
 * orchestrator's control only from `orchestrator`; slot answers and replay confirmations only from
 * the leader; join, ready, alive, agent-failed only from a host that may speak for the agent named
 * in `from` (spawned hosts: the plan; external hosts: the agents welcomed on their join subject);
 * joins, readies and bye only from the host its subject names (the join barrier checks each agent a
 * `joins` or `readies` names as it checks a `join` or a `ready`).
 *
 * `joins` asks for the welcomes of many agents of one host in one request, and `welcomes` answers
 * with the welcomes of as many of them, in the order asked, as one message can carry (at least the
 * first); the host asks again for the rest. `readies` says several of a host's agents are ready. A
 * packed host joins its agents so: at 100,000 agents, three messages an agent (join, welcome,
 * ready) were most of the join's work at the server, the orchestrator and the hosts.
 *
 * A slot answer grows with the slot's rounds: one larger than the server's max_payload is sent as
 * chunk frames (bus/chunks.ts) on the same subject and put back together before it is read. The
 * leader's welcome grows with the roster but is a request's reply, which cannot be cut: a run whose
 * welcomes the server cannot carry is refused before any agent starts (orchestrator/run/joinBarrier.ts).
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { decode, encodeEnvelope, type Body } from './codec.ts';
import type { AnyDropReason, Counters, CountersSnapshot, FamilyCount } from './counters.ts';
import { familyOf, type Family } from './subjects.ts';
import { ROLE_NAME } from '../scenarios/contract.ts';
import type { LinkWelcome } from './link.ts';
import type { AgentSpec, JsonObject, RoleName, SlotOutcome } from '../scenarios/types.ts';

// ---- bodies ----

export interface JoinBody {
  role: string;
  /** -1: the next free agent of the role (dynamic join) */
  index: number;
  pid: number;
  host: string;
  /** the host id (also in the subject) */
  worker: string;
  /** makes a retried join idempotent: the same nonce gets the same welcome */
  nonce?: string;
}

/** Many agents of one host asking to join at once (each as a `join` with that role and index would). */
export interface JoinsBody {
  pid: number;
  host: string;
  /** the host id (also in the subject) */
  worker: string;
  /** makes a retried request idempotent: the same nonce gets the same welcomes */
  nonce: string;
  agents: { role: string; index: number }[];
}

/** The most agents one `joins` names (and so one `welcomes` or `readies` carries). */
export const MAX_JOIN_BATCH = 512;

/** Which host each roster agent is on: roster agent i is on `hosts[of[i]]`. */
export interface Placement {
  hosts: string[];
  of: number[];
}

/** The orchestrator's answer to a join request. */
export interface Welcome {
  id: string;
  role: RoleName;
  index: number;
  scenario: string;
  /** the run's mechanism (the agent creates that mechanism's leader or follower) */
  mechanism?: string;
  init: JsonObject;
  leader: string;
  /** a follower's position in the leader's roster: its replies sent as a host's rows are named by it (bus/replyRows.ts) */
  position?: number;
  /** the leader's followers (only sent to the leader) */
  roster?: AgentSpec[];
  /**
   * The leader's only, in a run whose hosts are planned (spawned agents): the hosts, and for each
   * roster agent the position of its host among them. The leader takes a reply only from its agent's
   * host. Absent when agents join from anywhere (`--agents external`): then only the role is checked.
   */
  placement?: Placement;
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
  /** the run's link model (bus/link.ts), when it has one that delays or loses messages */
  link?: LinkWelcome;
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
  /** with a link model: requests re-sent by its retransmission timer (RTO from the modelled round trip); not in `messages` nor `resent` */
  linkRetransmissions?: number;
}

export interface SlotDone {
  slot: number;
  outcome: SlotOutcome;
  trajectory: Record<string, number | string | boolean | null>[];
  metrics: SlotMetrics;
  snapshot?: JsonObject;
}

export interface HostReport {
  host: string;
  pid: number;
  agents: number;
  cpuMs: number;
  cpuSinceReadyMs: number;
  /** since an agent of the host started slot 1 (agents/hostCpu.ts); absent if none did */
  cpuSinceSlot1Ms?: number;
  maxRssBytes: number;
}

export type Bye = HostReport & { counters: CountersSnapshot };

export interface ControlBodies {
  join: JoinBody;
  joins: JoinsBody;
  welcome: Welcome;
  welcomes: { welcomes: Welcome[] };
  reject: { reason: string };
  retry: { reason: string };
  ready: { id: string };
  readies: { ids: string[] };
  alive: { host: string; pid: number; worker: string };
  slot: { slot: number };
  'slot-done': SlotDone;
  'slot-failed': { message: string };
  resend: { ids: string[]; slot: number };
  /** to the orchestrator: the ids replayed; to a follower (a notification): none */
  replayed: { ids?: string[] };
  restore: { snapshot?: JsonObject };
  rerun: Record<string, never>;
  state: { snapshot: JsonObject };
  shutdown: Record<string, never>;
  bye: Bye;
  abort: { reason?: string };
  /**
   * The orchestrator is alive (external agents, every `everyMs` while the run lasts): external hosts
   * have no parent process to lose, so a host that hears no control for long takes the orchestrator
   * for gone and exits. The period is in the body for hosts that were not welcomed (spares).
   */
  heartbeat: { everyMs: number };
  'agent-failed': { message: string };
}

export type ControlKind = keyof ControlBodies;

// ---- shape checks ----

/** a check: the value's problem, or undefined when it has the shape */
type Check = (x: unknown) => string | undefined;

const MAX_ID = 64;
/** messages a peer explains itself with (a failure, a rejection) */
const MAX_TEXT = 4096;
/** the largest list a control body carries (a roster, a trajectory, a slot's round latencies) */
const MAX_LIST = 1 << 22;
/**
 * The largest slot answer (`slot-done`) the orchestrator accepts: a slot's trajectory can have
 * 100,000 rounds. One larger than the server's max_payload goes in frames (bus/chunks.ts).
 */
export const MAX_SLOT_ANSWER_BYTES = 256 * 1024 * 1024;

const isMap = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);

export const shape = {
  str:
    (max = MAX_ID, min = 1): Check =>
    (x) =>
      typeof x !== 'string' ? 'not a string' : x.length < min || x.length > max ? `a string of ${x.length} characters (${min}–${max})` : undefined,
  int:
    (min = 0, max = Number.MAX_SAFE_INTEGER): Check =>
    (x) =>
      typeof x !== 'number' || !Number.isInteger(x) ? 'not an integer' : x < min || x > max ? `${x} is out of range ${min}–${max}` : undefined,
  num:
    (min = -Infinity): Check =>
    (x) =>
      typeof x !== 'number' || !Number.isFinite(x) ? 'not a finite number' : x < min ? `${x} < ${min}` : undefined,
  /** a role's name (scenarios/contract.ts ROLE_NAME) */
  role: (): Check => (x) => (typeof x === 'string' && ROLE_NAME.test(x) ? undefined : 'not a role name (a lower-case token)'),
  bool: (): Check => (x) => (typeof x === 'boolean' ? undefined : 'not a boolean'),
  map: (): Check => (x) => (isMap(x) ? undefined : 'not a map'),
  oneOf:
    (...values: string[]): Check =>
    (x) =>
      typeof x === 'string' && values.includes(x) ? undefined : `not one of ${values.join(', ')}`,
  /** a scalar of a trajectory row or a table cell */
  scalar: (): Check => (x) => (x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) ? undefined : 'not a number, string, boolean or null'),
  list:
    (each: Check, max = MAX_LIST): Check =>
    (x) => {
      if (!Array.isArray(x)) return 'not an array';
      if (x.length > max) return `an array of ${x.length} (at most ${max})`;
      for (let i = 0; i < x.length; i++) {
        const e = each(x[i]);
        if (e) return `[${i}]: ${e}`;
      }
      return undefined;
    },
  /** a map whose every value passes `each` */
  values:
    (each: Check, max = 1 << 16): Check =>
    (x) => {
      if (!isMap(x)) return 'not a map';
      let n = 0;
      for (const k in x) {
        if (++n > max) return `more than ${max} entries`;
        const e = each(x[k]);
        if (e) return `${k.slice(0, 32)}: ${e}`;
      }
      return undefined;
    },
  /** a map with these fields (`?` after a name: optional; other fields are ignored) */
  fields:
    (spec: Record<string, Check>): Check =>
    (x) => {
      if (!isMap(x)) return 'not a map';
      for (const key in spec) {
        const optional = key.endsWith('?');
        const name = optional ? key.slice(0, -1) : key;
        const v = x[name];
        if (v === undefined) {
          if (optional) continue;
          return `${name} is missing`;
        }
        const e = spec[key](v);
        if (e) return `${name}: ${e}`;
      }
      return undefined;
    },
};

const s = shape;
const counts = s.fields({ msgs: s.int(), bytes: s.int() });
const outcome = s.fields({ equilibrium: s.map(), converged: s.bool(), 'notes?': s.list(s.str(1 << 16, 0), 1024), 'extra?': s.map() });
const metrics = s.fields({
  rounds: s.int(),
  messages: s.int(),
  deliveries: s.int(),
  bytes: s.int(),
  timeToEquilibriumMs: s.num(),
  roundLatencyMs: s.list(s.num()),
  missingReplies: s.int(),
  nilReplies: s.int(),
  messagesByKind: s.values(s.int()),
  leaderCpuMs: s.num(),
  roundKinds: s.list(s.str()),
  resent: s.int(),
  'linkRetransmissions?': s.int(),
});

const WELCOME = s.fields({
  id: s.str(),
  role: s.role(),
  index: s.int(),
  scenario: s.str(),
  'mechanism?': s.str(),
  init: s.map(),
  leader: s.str(),
  'position?': s.int(),
  'roster?': s.list(s.fields({ id: s.str(), role: s.role(), index: s.int() })),
  'placement?': s.fields({ hosts: s.list(s.str()), of: s.list(s.int()) }),
  roundTimeoutMs: s.int(1),
  maxBytes: s.int(1),
  'resume?': s.fields({ slot: s.int(), snapshot: s.map() }),
  'rejoin?': s.bool(),
  'restarted?': s.bool(),
  'heartbeatMs?': s.int(1),
  'link?': s.fields({ section: s.map(), seed: s.num(), leaderRole: s.str(), 'factor?': s.num(0), 'leaderFactor?': s.num(0), 'rosterFactors?': s.list(s.num(0)) }),
});

/** a list of 1 to MAX_JOIN_BATCH */
const batch = (each: Check): Check => (x) => (Array.isArray(x) && x.length === 0 ? 'an empty list' : s.list(each, MAX_JOIN_BATCH)(x));

const CHECKS: { [K in ControlKind]: Check } = {
  join: s.fields({ role: s.str(), index: s.int(-1), pid: s.int(), host: s.str(255, 0), worker: s.str(), 'nonce?': s.str(512) }),
  joins: s.fields({ pid: s.int(), host: s.str(255, 0), worker: s.str(), nonce: s.str(512), agents: batch(s.fields({ role: s.str(), index: s.int() })) }),
  welcome: WELCOME,
  welcomes: s.fields({ welcomes: batch(WELCOME) }),
  reject: s.fields({ reason: s.str(MAX_TEXT, 0) }),
  retry: s.fields({ reason: s.str(MAX_TEXT, 0) }),
  ready: s.fields({ id: s.str() }),
  readies: s.fields({ ids: batch(s.str()) }),
  alive: s.fields({ host: s.str(255, 0), pid: s.int(), worker: s.str() }),
  slot: s.fields({ slot: s.int() }),
  'slot-done': s.fields({ slot: s.int(), outcome, trajectory: s.list(s.values(s.scalar(), 4096)), metrics, 'snapshot?': s.map() }),
  'slot-failed': s.fields({ message: s.str(MAX_TEXT, 0) }),
  resend: s.fields({ ids: s.list(s.str()), slot: s.int() }),
  replayed: s.fields({ 'ids?': s.list(s.str()) }),
  restore: s.fields({ 'snapshot?': s.map() }),
  rerun: s.map(),
  state: s.fields({ snapshot: s.map() }),
  shutdown: s.map(),
  bye: s.fields({
    host: s.str(),
    pid: s.int(),
    agents: s.int(),
    cpuMs: s.num(0),
    cpuSinceReadyMs: s.num(0),
    'cpuSinceSlot1Ms?': s.num(0),
    maxRssBytes: s.num(0),
    counters: s.fields({ out: s.values(counts), in: s.values(counts), outByKind: s.values(counts), drops: s.values(s.int()), 'coalesced?': s.int() }),
  }),
  abort: s.fields({ 'reason?': s.str(MAX_TEXT, 0) }),
  heartbeat: s.fields({ everyMs: s.int(1) }),
  'agent-failed': s.fields({ message: s.str(MAX_TEXT, 0) }),
};

export const CONTROL_KINDS = Object.keys(CHECKS) as ControlKind[];

export function isControlKind(kind: string): kind is ControlKind {
  return Object.hasOwn(CHECKS, kind);
}

export type Validated<K extends ControlKind> = { ok: true; body: ControlBodies[K] } | { ok: false; reason: string };

/** The body of a `kind` message, typed, or why its shape is wrong. */
export function validate<K extends ControlKind>(kind: K, body: unknown): Validated<K> {
  const e = CHECKS[kind](body);
  return e ? { ok: false, reason: `${kind}: ${e}` } : { ok: true, body: body as ControlBodies[K] };
}

// ---- senders ----

/** the `from` of every message the orchestrator sends */
export const ORCHESTRATOR = 'orchestrator';

/** The sender rule of the orchestrator's own kinds (slot, resend, shutdown, abort, heartbeat, the join replies): why `from` may not send it, or undefined. */
export function orchestratorOnly(kind: ControlKind, from: string): string | undefined {
  return from === ORCHESTRATOR ? undefined : `${kind} from ${from}: only the orchestrator sends it`;
}

/**
 * Which host may speak for which agent, as the orchestrator knows it: spawned hosts from the plan,
 * external hosts from the agents it welcomed on their join subject (taken back when the host is
 * taken for dead). A message from a host for an agent it does not hold is dropped as forged.
 */
export class Speakers {
  private readonly hostOf = new Map<string, string>();
  private readonly hosts = new Set<string>();

  constructor(readonly leaderId: string) {}

  grant(host: string, agents: Iterable<string>): void {
    this.hosts.add(host);
    for (const a of agents) this.hostOf.set(a, host);
  }

  revoke(agents: Iterable<string>): void {
    for (const a of agents) this.hostOf.delete(a);
  }

  /** the host that holds `agent` now */
  host(agent: string): string | undefined {
    return this.hostOf.get(agent);
  }

  knowsHost(host: string): boolean {
    return this.hosts.has(host);
  }

  /**
   * Why a `kind` message from `from` on a subject naming `host` (undefined: a subject without one)
   * must be dropped, or undefined when that sender may send it. (A `join` names no agent yet: the
   * join barrier decides which agent the host may take.)
   */
  check(kind: ControlKind, host: string | undefined, from: string): string | undefined {
    switch (kind) {
      case 'slot-done':
      case 'slot-failed':
      case 'replayed':
        return from === this.leaderId ? undefined : `${kind} from ${from}: only the leader ${this.leaderId} sends it`;
      case 'join':
        return host ? undefined : 'a join on a subject that names no host';
      case 'joins':
      case 'readies':
        return host && from === host ? undefined : `${kind} from ${from} on the subject of host ${host ?? '(none)'}: only that host sends it`;
      case 'alive':
        // a host taken for dead holds no agent now, and its `alive` is how it may get them back
        return host && this.hosts.has(host) ? undefined : `alive from host ${host ?? '(none)'}, which hosts no agent of this run`;
      case 'ready':
      case 'agent-failed': {
        if (!host) return `${kind} on a subject that names no host`;
        const holder = this.hostOf.get(from);
        return holder === host ? undefined : `${kind} for ${from} from host ${host}, which ${holder ? `is not its host (${holder} is)` : 'holds no such agent'}`;
      }
      case 'bye':
        return host && from === host && this.hosts.has(host) ? undefined : `bye from ${from} on the subject of host ${host ?? '(none)'}`;
      default:
        return orchestratorOnly(kind, from);
    }
  }
}

// ---- the channel ----

export interface SendOptions {
  slot?: number;
  round?: number;
  /** the agent (or host) the message is from; default the channel's */
  from?: string;
  reply?: string;
  /** a notification: the receiver must not reply */
  noreply?: boolean;
}

/** A control message received, decoded, validated and typed. */
export interface Received<K extends ControlKind = ControlKind> {
  kind: K;
  slot: number;
  round: number;
  from: string;
  body: ControlBodies[K];
  noreply: boolean;
}

export type ReceivedOf<K extends ControlKind> = { [P in K]: Received<P> }[K];

/**
 * One side's control messages over one connection: `send` encodes, publishes and counts; `read`
 * decodes, checks the kind is one this subscription expects, validates the body and counts a drop
 * with its reason (never throws). The hot path (round requests and replies) does not come here.
 */
export class ControlChannel {
  constructor(
    private readonly nc: NatsConnection,
    readonly run: string,
    readonly counters: Counters,
    /** the default `from` */
    readonly from: string,
  ) {}

  /** The encoded bytes of a message (for a copy kept to answer a repeat). */
  encode<K extends ControlKind>(kind: K, body: ControlBodies[K], o: SendOptions = {}): Uint8Array {
    return encodeEnvelope(this.run, o.slot ?? 0, o.round ?? 0, o.from ?? this.from, kind, body as object, o.noreply === true);
  }

  send<K extends ControlKind>(subject: string, kind: K, body: ControlBodies[K], o: SendOptions = {}): Uint8Array {
    const data = this.encode(kind, body, o);
    this.publish(subject, kind, data, o.reply);
    return data;
  }

  /** Publish bytes already encoded (a kept answer sent again) and count them. */
  publish(subject: string, kind: string, data: Uint8Array, reply?: string, family: Family = familyOf(subject)): void {
    if (reply) this.nc.publish(subject, data, { reply });
    else this.nc.publish(subject, data);
    this.counters.sent(family, kind, data.byteLength);
  }

  /** Count bytes sent on a path that published them itself (a request). */
  counted(subject: string, kind: string, bytes: number): void {
    this.counters.sent(familyOf(subject), kind, bytes);
  }

  /**
   * The message decoded and validated as one of `kinds`; undefined (dropped, counted and logged)
   * when it is not. `who`, if given, is asked who may send it (a reason to drop, or undefined).
   */
  read<K extends ControlKind>(data: Uint8Array, subject: string, kinds: readonly K[], maxBytes: number, who?: (kind: K, from: string) => string | undefined): ReceivedOf<K> | undefined {
    const d = decode(data, this.run, maxBytes);
    if (!d.ok) return this.drop(d.reason, subject, d.from, d.detail);
    const { kind, from } = d.env;
    if (!(kinds as readonly string[]).includes(kind)) return this.drop('unknown-kind', subject, from, `${kind} (expected ${kinds.join(', ')})`);
    const k = kind as K;
    const v = validate(k, d.env.body);
    if (!v.ok) return this.drop('bad-body', subject, from, v.reason);
    const why = who?.(k, from);
    if (why) return this.drop('forged-sender', subject, from, why);
    return { kind: k, slot: d.env.slot, round: d.env.round, from, body: v.body, noreply: d.env.noreply === true } as ReceivedOf<K>;
  }

  /** `read` for a NATS message (its subject and bytes) */
  readMsg<K extends ControlKind>(m: Msg, kinds: readonly K[], maxBytes: number, who?: (kind: K, from: string) => string | undefined): ReceivedOf<K> | undefined {
    return this.read(m.data, m.subject, kinds, maxBytes, who);
  }

  drop(reason: AnyDropReason, subject: string, from: string | undefined, detail: string): undefined {
    this.counters.drop(reason, subject, from, detail);
    return undefined;
  }
}

export type { Body, FamilyCount };
