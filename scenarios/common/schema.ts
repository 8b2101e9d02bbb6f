/**
 * Parameters: one schema per scenario for its config file, and one checker for values that may
 * come from a flag (a string) or a config file (already typed).
 *
 * A config file (`--config`, the form `mecsim params` prints) is checked against its scenario's
 * schema before the scenario resolves it: a value of the wrong type (`"slots": "3"`) or a key the
 * scenario does not know, at any level, is refused with the key's path and what is expected — never
 * ignored or replaced by a default. The schemas are TypeBox values, i.e. JSON Schema with TypeScript
 * types, so they can be published as they are. Checks that relate values (p0 > m, λR < C …) stay in
 * the scenarios' `resolve`, which reports them with `param()`'s message shape.
 */
import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, ValueErrorType, type TypeCheck, type ValueError } from '@sinclair/typebox/compiler';
import { ConfigError, type JsonObject, type RunInput } from '../types.ts';

/** The most agents of one kind a run may have: every agent's parameters live in the orchestrator's memory. */
export const MAX_AGENTS = 1_000_000;
/** The most slots of one run: every slot keeps a record in memory and a row in slots.csv. */
export const MAX_SLOTS = 1_000_000;
/** What to do instead of a run beyond MAX_AGENTS, said beside the limit. */
export const BEYOND_MAX_AGENTS = `a run holds every agent's parameters in memory; for a scaling study use \`mecsim sweep <scenario> --users 1000,10000,100000\``;

/**
 * A flag's comma-separated list of agent counts (`mecsim sweep --users`, `mecsim bench --sizes`):
 * positive integers in decimal, each at most MAX_AGENTS; throws an Error naming `flag` otherwise.
 */
export function countList(flag: string, text: string): number[] {
  const list = text.split(',').map((v) => v.trim());
  if (!list.every((v) => /^\d+$/.test(v) && Number(v) >= 1)) throw new Error(`${flag} must be a comma-separated list of positive integers, not "${text}"`);
  const big = list.find((v) => Number(v) > MAX_AGENTS);
  if (big !== undefined) throw new Error(`${flag}: ${big} is more than ${MAX_AGENTS} (${BEYOND_MAX_AGENTS})`);
  return list.map(Number);
}

/** A count of agents or servers: every one of them is an array entry, so the count is bounded. */
export const isCount = (v: number) => Number.isInteger(v) && v >= 1 && v <= MAX_AGENTS;
/** What `isCount` wants, for `param`'s message. */
export const COUNT = `an integer in [1, ${MAX_AGENTS}] (${BEYOND_MAX_AGENTS})`;

/**
 * A number from a flag (string) or a config file: finite and `ok`, else a ConfigError naming `key`
 * and `what` is expected. A config file's value is already a number here (the schema refused a string).
 */
export function param(key: string, x: unknown, ok: (v: number) => boolean, what: string): number {
  const v = typeof x === 'string' && x.trim() !== '' ? Number(x) : x;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ConfigError(key, `must be ${what}, not ${JSON.stringify(x)}`);
  return v;
}

/** Tests for `param`, so every scenario says "positive" or "≥ 0" the same way. */
export const positive = (v: number) => v > 0;
export const nonNegative = (v: number) => v >= 0;
export const intAtLeast = (lo: number) => (v: number) => Number.isInteger(v) && v >= lo;
export const intIn = (lo: number, hi: number) => (v: number) => Number.isInteger(v) && v >= lo && v <= hi;

/** A plain object (not null, not a list). */
export const isObject = (x: unknown): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x);

/** `x` as an object, or a ConfigError naming `key` and its keys (`shape`, e.g. `{C, lambda, D}`). */
export function objectParam(key: string, x: unknown, shape = ''): JsonObject {
  if (!isObject(x)) throw new ConfigError(key, `must be an object${shape ? ` ${shape}` : ''}`);
  return x;
}

/** One of `allowed`, or undefined when not given (undefined or null); else a ConfigError naming `key`. */
export function oneOf<T extends string>(key: string, x: unknown, allowed: readonly T[]): T | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'string' || !allowed.includes(x as T)) throw new ConfigError(key, `must be one of ${allowed.join(', ')}, not ${JSON.stringify(x)}`);
  return x as T;
}

/**
 * The mechanism of a scenario that also takes it under an alias (`--order`, `--auction`; `alias.key`:
 * the same in a config file). The CLI passes `--mechanism`, or else the config's mechanism, as
 * `input.mechanism`; a `--mechanism` typed on the command line wins, then the alias flag, then the
 * config's mechanism or alias key, then `dflt`. Contradictions are refused, naming the alias.
 */
export function mechanismWithAlias<T extends string>(input: RunInput, allowed: readonly T[], alias: { flag: string; key?: string }, dflt: T): T {
  const c = input.config ?? {};
  const fromConfig = oneOf('mechanism', c.mechanism, allowed);
  const fromConfigAlias = alias.key === undefined ? undefined : oneOf(alias.key, c[alias.key], allowed);
  if (fromConfig && fromConfigAlias && fromConfig !== fromConfigAlias) throw new ConfigError(alias.key!, `the config says mechanism ${fromConfig} but ${alias.key} ${fromConfigAlias}`);
  const mech = oneOf('--mechanism', input.mechanism, allowed);
  const cliMech = mech !== undefined && mech !== fromConfig ? mech : undefined;
  const fromFlag = oneOf(`--${alias.flag}`, input.options[alias.flag], allowed);
  if (cliMech && fromFlag && cliMech !== fromFlag) throw new ConfigError(`--${alias.flag}`, `conflicts with --mechanism ${cliMech}`);
  return cliMech ?? fromFlag ?? mech ?? fromConfigAlias ?? fromConfig ?? dflt;
}

/** A switch from a flag (`true`/`false`/`1`/`0`) or a config file (a boolean); `dflt` when not given. */
export function boolParam(key: string, x: unknown, dflt: boolean): boolean {
  if (x === undefined || x === null) return dflt;
  if (typeof x === 'boolean') return x;
  if (x === 'true' || x === '1' || x === 1) return true;
  if (x === 'false' || x === '0' || x === 0) return false;
  throw new ConfigError(key, `must be true or false, not ${JSON.stringify(x)}`);
}

/** The run seed (`--seed`): an integer, since every draw is named by it. */
export const seedParam = (x: unknown) => param('--seed', x, Number.isSafeInteger, 'an integer');
/** The number of slots (`--slots`). */
export const slotsParam = (x: unknown) => param('--slots', x, intIn(1, MAX_SLOTS), `an integer in [1, ${MAX_SLOTS}]`);

/**
 * How many users a run has: the config's list (`given`, which `--users` must not contradict), else
 * `--users`, else `dflt`. `list` is the config's list when it gave one.
 */
export function userCount(users: number | undefined, given: unknown, dflt: number): { list: unknown[] | undefined; n: number } {
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length === 0) throw new ConfigError('users', 'must be a non-empty list of users');
    if (users !== undefined && users !== given.length) throw new ConfigError('--users', `${users} conflicts with the ${given.length} users listed in --config`);
    return { list: given, n: given.length };
  }
  const n = users ?? dflt;
  if (!isCount(n)) throw new ConfigError('--users', `must be ${COUNT}, not ${n}`);
  return { list: undefined, n };
}

/** A number; `what` is said in the error (e.g. "a positive CPU frequency in Hz"). */
export const Num = (what: string, o: { minimum?: number; maximum?: number } = {}) => Type.Number({ description: what, ...o });
/** An integer; `what` is said in the error. */
export const Int = (what: string, o: { minimum?: number; maximum?: number } = {}) => Type.Integer({ description: what, ...o });
/** A count of agents: an integer in [1, MAX_AGENTS]. */
export const Count = (what: string) => Type.Integer({ description: `${what}, an integer in [1, ${MAX_AGENTS}]`, minimum: 1, maximum: MAX_AGENTS });
/** A number or null; `what` is said in the error. */
export const NumOrNull = (what: string) => Type.Union([Type.Number(), Type.Null()], { description: what });
/** true or false */
export const Bool = (what = 'true or false') => Type.Boolean({ description: what });
/** One of these strings. */
export const OneOf = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)), { description: `one of ${values.join(', ')}` });
/** An object with exactly these keys (each optional unless `required` lists it). */
export function Strict(props: TProperties, required: readonly string[] = []): TObject {
  const p: TProperties = {};
  for (const [k, s] of Object.entries(props)) p[k] = required.includes(k) ? s : Type.Optional(s);
  return Type.Object(p, { additionalProperties: false, description: `an object {${Object.keys(props).join(', ')}}` });
}
/** A list of `item`s. */
export const ListOf = (item: TSchema, what: string) => Type.Array(item, { description: what, maxItems: MAX_AGENTS });

/** A duration: a number of ms or a string with a unit (bus/link.ts parseDuration checks the value). */
const Duration = Type.Union([Type.Number({ minimum: 0 }), Type.String()], { description: 'a duration such as 20ms, 1.5s, 500us or a number of ms' });
const Loss = Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'a probability in [0, 1)' });

/**
 * The version of the file formats mecsim writes (config.json, summary.json) and reads (`--config`),
 * as published in schemas/. Every such file says it (`schemaVersion`); a change that makes an old
 * file invalid, or gives a key a new meaning, raises it.
 */
export const SCHEMA_VERSION = 1;

/** The configuration as mecsim writes it (config.json, `mecsim params`): `schemaVersion` first. */
export function stampConfig<T extends JsonObject>(cfg: T): JsonObject {
  const { schemaVersion: _ignored, ...rest } = cfg;
  return { schemaVersion: SCHEMA_VERSION, ...rest };
}

/**
 * The link model's section (bus/link.ts), the same for every scenario: its values' forms (delay
 * distributions, units, role names) are checked by the model itself, which names the key.
 */
export const LINK_SCHEMA = Strict({
  rtt: Duration,
  jitter: Duration,
  loss: Loss,
  rtoMin: Duration,
  classes: Type.Record(
    Type.String({ pattern: '^[^>\\s]+>[^>\\s]+$' }),
    Strict({ delay: Type.Union([Type.Number({ minimum: 0 }), Type.String()], { description: 'a delay such as 10ms, uniform(5ms,15ms), normal(10ms,2ms), lognormal(10ms,0.5) or pareto(10ms,2.5)' }), jitter: Duration, loss: Loss }),
    { description: 'an object {"A>B": {delay, jitter, loss}, …} with A and B roles or *' },
  ),
});

/**
 * A scenario's config-file schema: the keys every scenario has (schemaVersion, scenario, mechanism, seed, slots,
 * link) and its own, every key optional (what the file leaves out is drawn from the seed or defaulted).
 */
export function configSchema(scenario: string, mechanisms: readonly string[], props: TProperties): TObject {
  return Strict({
    // an editor finds the file's JSON Schema here (e.g. "../schemas/config/stackelberg.schema.json"); mecsim ignores it
    $schema: Type.String({ description: "the file's JSON Schema, for editors (ignored by mecsim)" }),
    schemaVersion: Type.Literal(SCHEMA_VERSION, { description: `${SCHEMA_VERSION} (the version of this file's format; optional)` }),
    scenario: Type.Literal(scenario, { description: `"${scenario}"` }),
    mechanism: OneOf(mechanisms),
    seed: Int('an integer (the run seed)', { minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
    slots: Int(`an integer in [1, ${MAX_SLOTS}]`, { minimum: 1, maximum: MAX_SLOTS }),
    link: LINK_SCHEMA,
    ...props,
  });
}

const compiled = new WeakMap<TObject, TypeCheck<TObject>>();

/**
 * Check a parsed config file against its schema; throws ConfigError naming the first offending key
 * (`server.f`, `users[3].theta`) and what is expected there.
 */
export function checkConfig(schema: TObject, config: JsonObject): void {
  let check = compiled.get(schema);
  if (!check) compiled.set(schema, (check = TypeCompiler.Compile(schema)));
  const first = check.Errors(config).First();
  if (first) throw new ConfigError(keyOf(first.path), explain(first));
}

/** `/users/3/theta` → `users[3].theta` */
function keyOf(pointer: string): string {
  let key = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    key += /^\d+$/.test(part) ? `[${part}]` : key ? `.${part}` : part;
  }
  return key || '(top level)';
}

function explain(e: ValueError): string {
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return `unknown key (known here: ${Object.keys((e.schema as TObject).properties).join(', ')})`;
  if (e.type === ValueErrorType.ObjectRequiredProperty) return `missing: ${describe(e.schema)} is required`;
  return `must be ${describe(e.schema)}, not ${JSON.stringify(e.value)}`;
}

function describe(s: TSchema): string {
  if (typeof s.description === 'string') return s.description;
  if (s.type === 'integer') return 'an integer';
  if (s.type === 'number') return 'a number';
  if (s.type === 'boolean') return 'true or false';
  if (s.type === 'string') return 'a string';
  if (s.type === 'null') return 'null';
  if (s.type === 'array') return `a list of ${describe(s.items as TSchema)}`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as TSchema[]).map(describe).join(' or ');
  return 'a valid value';
}
