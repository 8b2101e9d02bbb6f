/**
 * What the framework asks of a scenario beyond its type: which parts a mechanism runs with, the
 * roster's order, and the checks made once when a scenario is loaded (so a model author's mistake
 * is named at `mecsim run`, not found mid-run in an agent process). No I/O.
 */
import type { AgentSpec, JsonObject, Mechanism, MechanismParts, ReferenceSlot, RoleName, RoundResult, Scenario, SlotOutcome } from './types.ts';

/** A role's name: it appears in subjects, agent ids and `--role`, so it is a plain lower-case token. */
export const ROLE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

const PARTS = ['agents', 'leaderId', 'agentInit', 'createLeader', 'createFollower', 'createReference'] as const;

/** The mechanism's id a resolved config names (`mechanism`), or the scenario's default. */
export function mechanismOf(scenario: Scenario, cfg: JsonObject): string {
  return typeof cfg.mechanism === 'string' ? cfg.mechanism : scenario.defaultMechanism;
}

/** The scenario's entry for `mechanism` (undefined: its default), if it has one. */
function mechanismEntry(scenario: Scenario, mechanism: string | undefined): Mechanism | undefined {
  return scenario.mechanisms.find((x) => x.id === (mechanism ?? scenario.defaultMechanism));
}

/** The parts `mechanism` runs with: its own where it has them, the scenario's otherwise. */
export function partsOf(scenario: Scenario, mechanism: string | undefined): MechanismParts {
  const m = mechanismEntry(scenario, mechanism);
  if (!m) throw new Error(`scenario ${scenario.id} has no mechanism "${mechanism}"; it has ${scenario.mechanisms.map((x) => x.id).join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const k of PARTS) {
    const f = (m[k] ?? scenario[k]) as ((...a: unknown[]) => unknown) | undefined;
    if (!f) throw new Error(`scenario ${scenario.id}, mechanism ${m.id}: no ${k} (give it on the scenario or on the mechanism)`);
    out[k] = f.bind(m[k] ? m : scenario);
  }
  return out as unknown as MechanismParts;
}

/** The console's one-line summary of a slot for `mechanism`: its own, or else the scenario's (undefined: neither gives one). */
export function describeSlotOf(scenario: Scenario, mechanism: string | undefined): ((distributed: SlotOutcome, ref: ReferenceSlot) => string) | undefined {
  const m = mechanismEntry(scenario, mechanism);
  if (m?.describeSlot) return m.describeSlot.bind(m);
  return scenario.describeSlot?.bind(scenario);
}

/** The parts a resolved config's mechanism runs with. */
export function partsFor(scenario: Scenario, cfg: JsonObject): MechanismParts {
  return partsOf(scenario, mechanismOf(scenario, cfg));
}

/** Followers in roster order: by the scenario's order of roles, then by index. */
export function sortRoster(agents: AgentSpec[], roles: readonly RoleName[]): AgentSpec[] {
  const order = new Map(roles.map((r, i) => [r, i]));
  const rank = (r: RoleName) => order.get(r) ?? roles.length;
  return [...agents].sort((a, b) => rank(a.role) - rank(b.role) || a.index - b.index);
}

/**
 * Every problem with a scenario object that would otherwise show up later and elsewhere: a missing
 * field or part, a role that is not a token, a default mechanism it does not have. Empty: fine.
 */
export function scenarioProblems(s: unknown): string[] {
  if (typeof s !== 'object' || s === null) return ['it is not an object'];
  const x = s as Partial<Scenario> & Record<string, unknown>;
  const out: string[] = [];
  if (typeof x.id !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(x.id)) out.push('`id` must be a lower-case token (letters, digits, ".", "_", "-")');
  if (typeof x.title !== 'string') out.push('`title` must be a string');
  if (!Array.isArray(x.roles) || !x.roles.length) out.push('`roles` must list its agents\' roles, in roster order');
  else for (const r of x.roles) if (typeof r !== 'string' || !ROLE_NAME.test(r)) out.push(`role ${JSON.stringify(r)} is not a lower-case token of at most 32 characters`);
  if (!Array.isArray(x.mechanisms) || !x.mechanisms.length) out.push('`mechanisms` must list at least one mechanism');
  else if (!x.mechanisms.some((m) => m?.id === x.defaultMechanism)) out.push(`\`defaultMechanism\` ${JSON.stringify(x.defaultMechanism)} is not one of its mechanisms`);
  for (const f of ['configSchema', 'resolve'] as const) if (typeof x[f] !== 'function') out.push(`\`${f}\` must be a function`);
  if (!Array.isArray(x.options)) out.push('`options` must be a list (empty if it has none)');
  if (typeof x.defaultUsers !== 'number') out.push('`defaultUsers` must be a number');
  if (Array.isArray(x.mechanisms))
    for (const m of x.mechanisms)
      for (const k of PARTS) if (typeof (m?.[k] ?? x[k]) !== 'function') out.push(`mechanism ${m?.id}: \`${k}\` is missing (give it on the scenario or on the mechanism)`);
  return out;
}

/** A round's result from its replies in roster order (what a test that plays the runtime hands a leader). */
export function roundResult<R>(replies: (R | undefined)[], missing: string[] = []): RoundResult<R> {
  return { replies, missing, column: (key) => columnOf(replies, key) };
}

/** `key` of each of `replies` as a number, by RoundResult.column's rule */
export function columnOf(replies: readonly unknown[], key: string): number[] {
  const out = new Array<number>(replies.length);
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i];
    out[i] = typeof r === 'object' && r !== null ? replyNumber((r as Record<string, unknown>)[key]) : NaN;
  }
  return out;
}

/** a reply's value as a column holds it: the number if it is finite, else NaN */
export function replyNumber(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : NaN;
}
