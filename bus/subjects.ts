/**
 * Run-scoped subject names. Everything a run sends lives under `mecsim.<run>.`, so several runs
 * can share one NATS cluster, and per-role permissions can be written as subject patterns.
 *
 * | subject                              | family  | publisher          | subscribers              |
 * | ------------------------------------ | ------- | ------------------ | ------------------------ |
 * | mecsim.<run>.join                    | join    | every agent        | orchestrator             |
 * | mecsim.<run>.ctl.<agent>             | ctl     | orchestrator       | that agent               |
 * | mecsim.<run>.ctl.all                 | ctl     | orchestrator       | every agent              |
 * | mecsim.<run>.bc.<role>               | bcast   | the leader         | every agent of that role |
 * | mecsim.<run>.to.<agent>              | direct  | the leader         | that agent               |
 * | mecsim.<run>.rep.<leader>.<agent>    | reply   | that agent         | the leader               |
 * | mecsim.<run>.inbox.<agent>.*         | inbox   | replies to requests| that agent (req/reply)   |
 */
export const ROOT = 'mecsim';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** A run id or agent id must be a single, wildcard-free subject token. */
export function assertToken(what: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`${what} "${value}" must be 1–64 characters of [A-Za-z0-9_-]`);
  return value;
}

export function subjects(run: string) {
  assertToken('run id', run);
  const base = `${ROOT}.${run}`;
  return {
    base,
    all: `${base}.>`,
    join: `${base}.join`,
    ctl: (agent: string) => `${base}.ctl.${agent}`,
    ctlAll: `${base}.ctl.all`,
    bcast: (role: string) => `${base}.bc.${role}`,
    direct: (agent: string) => `${base}.to.${agent}`,
    reply: (leader: string, agent: string) => `${base}.rep.${leader}.${agent}`,
    replyWildcard: (leader: string) => `${base}.rep.${leader}.*`,
    inbox: (agent: string) => `${base}.inbox.${agent}`,
  };
}

export type Family = 'join' | 'ctl' | 'bcast' | 'direct' | 'reply' | 'inbox' | 'other';
export const FAMILIES: Family[] = ['join', 'ctl', 'bcast', 'direct', 'reply', 'inbox', 'other'];
const FAMILY_BY_TOKEN: Record<string, Family> = { join: 'join', ctl: 'ctl', bc: 'bcast', to: 'direct', rep: 'reply', inbox: 'inbox' };

/** The family of a subject (third token), for counters. */
export function familyOf(subject: string): Family {
  const a = subject.indexOf('.');
  const b = subject.indexOf('.', a + 1);
  if (a < 0 || b < 0) return 'other';
  const c = subject.indexOf('.', b + 1);
  const tok = subject.slice(b + 1, c < 0 ? undefined : c);
  return FAMILY_BY_TOKEN[tok] ?? 'other';
}

/** The last token of a subject (the sender of a reply, the target of a direct message). */
export function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}
