/**
 * Run-scoped subject names. Everything a run sends lives under `mecsim.<r>.`, where `<r>` is the
 * run's subject token (runToken: 8 characters derived from the run id), so several runs can share
 * one NATS cluster, and per-role permissions can be written as subject patterns.
 *
 * Why a token and not the run id itself: the run id (`<scenario>-20261127-204843-s1-4g24`) is a
 * readable folder name of 35 characters, and a subject travels in every message — twice through the
 * server and through both clients' protocol parsers. At 1000 agents per round that was a measurable
 * share of the per-round time (the raw NATS floor with 42- vs 10-character prefixes: ~12 %).
 * summary.json records the run's subject root (`subjects`).
 *
 * | subject                            | family  | publisher               | subscribers              |
 * | ---------------------------------- | ------- | ----------------------- | ------------------------ |
 * | mecsim.<r>.join.<host>             | join    | that agent host         | orchestrator (join.*)    |
 * | mecsim.<r>.ctl.<agent>             | ctl     | orchestrator            | that agent               |
 * | mecsim.<r>.ctl.all                 | ctl     | orchestrator            | every agent host         |
 * | mecsim.<r>.bc.<role>               | bcast   | the leader              | every agent of that role |
 * | mecsim.<r>.to.<agent>              | direct  | the leader              | that agent               |
 * | mecsim.<r>.rep.<leader>.<role>.<host> | reply | that host, for its agents of that role | the leader |
 * | mecsim.<r>.inbox.orch.slots        | inbox   | the leader's host       | orchestrator             |
 * | mecsim.<r>.inbox.orch.replayed     | inbox   | the leader's host       | orchestrator             |
 * | mecsim.<r>.inbox.orch.failed.<host>| inbox   | that agent host         | orchestrator (failed.*)  |
 * | mecsim.<r>.inbox.orch.bye.<host>   | inbox   | that agent host         | orchestrator (bye.*)     |
 * | mecsim.<r>.inbox.<host>.*          | inbox   | orchestrator (join replies) | that host (req/reply) |
 * | mecsim.<r>.owner                   | other   | orchestrator (run id claim) | the run's orchestrator |
 *
 * A reply subject names the host and the role of the agents it answers for, not the agent (the
 * envelope's `from` does): a host's replies share one subject per role it hosts, so the server
 * routes a few subjects, not one per agent (at 10,000 agents, one subject each missed the server's
 * subject caches on every reply and took a quarter of each round). The permissions still pin a host
 * to its own reply subjects, and the leader checks that the envelope's agent is of that role and, in
 * a run whose placement is planned, on that host (bus/gather.ts).
 *
 * Every agent→orchestrator subject but the leader's answers names the publishing host, so the
 * generated permissions can confine each host to its own, and the orchestrator checks on receipt
 * that this host may speak for the agent an envelope names (bus/control.ts has every message kind).
 * The bare `mecsim.<r>.join` is no host's subject: the orchestrator drops (and counts) what arrives
 * there. `orch` is the orchestrator's host id: no agent host may use it.
 */
import { createHash } from 'node:crypto';

export const ROOT = 'mecsim';
/** the orchestrator's host id in subjects (`inbox.orch.…`): reserved, no agent host may take it */
export const ORCH = 'orch';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** A run id or agent id must be a single, wildcard-free subject token. */
export function assertToken(what: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`${what} "${value}" must be 1–64 characters of [A-Za-z0-9_-]`);
  return value;
}

/** The run's subject token: base32 (a–z, 2–7) of the first 40 bits of SHA-256(run id). */
export function runToken(run: string): string {
  const h = createHash('sha256').update(run).digest();
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(h[i]);
  let t = '';
  for (let i = 0; i < 8; i++) t += BASE32[Number((bits >> BigInt(35 - 5 * i)) & 31n)];
  return t;
}
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** the last run's subjects: every agent of a packed worker asks for the same run's (a hash and some twenty closures each) */
let lastSubjects: { run: string; subj: ReturnType<typeof makeSubjects> } | undefined;

export function subjects(run: string): ReturnType<typeof makeSubjects> {
  if (lastSubjects?.run === run) return lastSubjects.subj;
  const subj = makeSubjects(run);
  lastSubjects = { run, subj };
  return subj;
}

function makeSubjects(run: string) {
  assertToken('run id', run);
  const base = `${ROOT}.${runToken(run)}`;
  return {
    base,
    all: `${base}.>`,
    /** the join subjects' root; a host joins, says ready and alive on `hostJoin(host)` */
    join: `${base}.join`,
    hostJoin: (host: string) => `${base}.join.${host}`,
    joinAll: `${base}.join.*`,
    ctl: (agent: string) => `${base}.ctl.${agent}`,
    ctlAll: `${base}.ctl.all`,
    bcast: (role: string) => `${base}.bc.${role}`,
    direct: (agent: string) => `${base}.to.${agent}`,
    /** where `host` sends the replies of its agents of `role` to `leader` */
    reply: (leader: string, role: string, host: string) => `${base}.rep.${leader}.${role}.${host}`,
    replyWildcard: (leader: string) => `${base}.rep.${leader}.*.*`,
    /** every reply subject of `leader` up to the role's token */
    replyPrefix: (leader: string) => `${base}.rep.${leader}.`,
    inbox: (agent: string) => `${base}.inbox.${agent}`,
    /** the orchestrator's inboxes: the leader's slot answers and replay confirmations, hosts' failure reports and byes */
    orchSlots: `${base}.inbox.${ORCH}.slots`,
    orchReplayed: `${base}.inbox.${ORCH}.replayed`,
    orchFailed: (host: string) => `${base}.inbox.${ORCH}.failed.${host}`,
    orchFailedAll: `${base}.inbox.${ORCH}.failed.*`,
    orchBye: (host: string) => `${base}.inbox.${ORCH}.bye.${host}`,
    orchByeAll: `${base}.inbox.${ORCH}.bye.*`,
    /** the run's orchestrator answers here while it runs: a second one with the same run id is refused (orchestrator/runClaim.ts) */
    owner: `${base}.owner`,
  } as const;
}

export type Family = 'join' | 'ctl' | 'bcast' | 'direct' | 'reply' | 'inbox' | 'other';
export const FAMILIES: Family[] = ['join', 'ctl', 'bcast', 'direct', 'reply', 'inbox', 'other'];
const FAMILY_BY_TOKEN: Record<string, Family> = { join: 'join', ctl: 'ctl', bc: 'bcast', to: 'direct', rep: 'reply', inbox: 'inbox' };

/** The host id an agent→orchestrator subject names (`join.<host>`, `inbox.orch.failed.<host>`, …): its last token. */
export function hostOfSubject(subject: string, prefix: string): string | undefined {
  if (!subject.startsWith(prefix) || subject.length === prefix.length) return undefined;
  const host = subject.slice(prefix.length);
  return TOKEN.test(host) ? host : undefined;
}

/** The family of a subject (third token), for counters. */
export function familyOf(subject: string): Family {
  const a = subject.indexOf('.');
  const b = subject.indexOf('.', a + 1);
  if (a < 0 || b < 0) return 'other';
  const c = subject.indexOf('.', b + 1);
  const tok = subject.slice(b + 1, c < 0 ? undefined : c);
  return FAMILY_BY_TOKEN[tok] ?? 'other';
}
