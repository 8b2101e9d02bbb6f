/**
 * The contract between a scenario (pure decision logic) and the runtimes that drive it.
 *
 * A scenario never touches the bus. Its leader logic is an async function that is handed a
 * `round` callback: the distributed runtime (agents/) implements that callback as one NATS
 * broadcast (or direct sends) plus a gather of replies with a deadline; the in-process runner
 * (scenarios/inprocess.ts) implements it with direct calls to the followers' handlers. Both
 * therefore execute the same protocol, message for message, which is what makes "the distributed
 * run equals the in-process run" a meaningful, exact test. The centralized `reference` solver is
 * independent of the protocol and is the correctness oracle.
 *
 * Determinism: replies are always handed to the leader in roster order (agent-index order), never
 * in arrival order, and every random draw comes from a seeded stream named by (seed, role, index,
 * slot) — never from the host, the placement or the join order.
 */

import type { TObject } from '@sinclair/typebox';
import type { Figure, RunData } from './common/figures.ts';

/** Plain data that msgpack and JSON both carry losslessly. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/**
 * A role's name, declared by its scenario (`Scenario.roles`): a lower-case token (letters, digits,
 * `-`), since it appears in subjects, agent ids and `mecsim agent --role`.
 */
export type RoleName = string;

/** One agent of a run. `id` is `${role}-${index}`, or the role's name alone for a singleton role. */
export interface AgentSpec {
  id: string;
  role: RoleName;
  index: number;
}

/** Raised for impossible or malformed parameters; `flag` names the CLI flag or config key. */
export class ConfigError extends Error {
  constructor(
    public readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** The generic CLI/config input common to every scenario; scenario-specific flags go in `options`. */
export interface RunInput {
  mechanism?: string;
  seed: number;
  slots: number;
  /** number of user agents (`--users`), if given */
  users?: number;
  /** parsed `--config file.json`, if given (already JSON.parse'd, not yet validated) */
  config?: JsonObject;
  /** scenario-specific CLI options, by option name (e.g. `mecs`, `load`, `auction`, `br`) */
  options: Record<string, string | number | boolean | undefined>;
}

/**
 * A reply to one round: the body each follower sent, in roster order; undefined if missing. Make one
 * with `roundResult` (scenarios/contract.ts) where a test plays the runtime.
 */
export interface RoundResult<R = JsonObject> {
  replies: (R | undefined)[];
  /** ids of the agents whose reply did not arrive before the deadline (their last strategy is used) */
  missing: string[];
  /**
   * Each reply's `key` as a number, in roster order: NaN where there is no reply or its `key` is not
   * a finite number; a new array each call. The same numbers as reading `replies`, without making
   * an object per reply: a leader of many followers that sums or compares one number per reply
   * reads it this way.
   */
  column(key: string): number[];
}

export interface RoundRequest {
  /** message kind, e.g. `price`, `final`, `fee`, `grant` */
  kind: string;
  /** the body sent to every target (broadcast); ignored for targets that have `bodies[id]` */
  body?: JsonObject;
  /**
   * Who receives it. Omitted: every follower (one broadcast message). A role: every agent of that
   * role (one broadcast). A list of agent ids: a direct message to each (in list order), e.g. a
   * sequential best-response order or per-agent grants.
   */
  to?: RoleName | string[];
  /** per-target bodies for direct sends (`to` is a list) */
  bodies?: Record<string, JsonObject>;
  /** whether replies are expected (default true). A notification round gathers nothing. */
  expectReplies?: boolean;
  /**
   * When a reply is missing at the deadline, use that agent's last reply to the same kind of
   * request (default true: "the sender's last strategy is used"). Set false for requests that
   * must not be repeated, e.g. a buyback request: a missing reply then stays undefined.
   */
  reuseLast?: boolean;
}

export interface LeaderContext {
  slot: number;
  /** every follower, sorted by (role, index); reply arrays follow this order */
  roster: AgentSpec[];
  /** one message round: send, then gather every expected reply or hit the deadline */
  round<R = JsonObject>(req: RoundRequest): Promise<RoundResult<R>>;
  /** append one row to this slot's per-round trajectory (becomes a CSV row) */
  record(row: Record<string, number | string | boolean | null>): void;
}

/**
 * What a leader returns at the end of a slot. `equilibrium` is the scenario's outcome (spec keys);
 * `converged` says whether its own criterion was met; `notes` carries anything worth reporting
 * (e.g. "profit not unimodal on the sampled prices").
 */
export interface SlotOutcome {
  equilibrium: JsonObject;
  converged: boolean;
  notes?: string[];
  /** extra scenario-specific per-slot values (e.g. iterations, loops) */
  extra?: JsonObject;
}

export interface FollowerContext {
  id: string;
  role: RoleName;
  index: number;
}

/**
 * A follower's message handler. Returns the reply body; or undefined when it has nothing to say
 * (e.g. no buyback needed this interval): the runtime then sends an empty `nil` acknowledgement so
 * the round closes without waiting for its deadline, and the leader sees `undefined` for it.
 * Must be deterministic in (its init, the messages it has received).
 */
export interface Follower {
  handle(kind: string, body: JsonObject, meta: { slot: number; round: number; from: string }): JsonObject | undefined;
  /**
   * Only for a follower that keeps state from one slot to the next (e.g. a warm start): that state,
   * serializable. The runtime takes it at each slot's start; a process restarted mid-run is created
   * again from it (`createFollower(init, ctx, snapshot)`) and then replayed the slot's messages.
   * State within a slot needs no snapshot: it is rebuilt by the replay.
   */
  snapshot?(): JsonObject;
}

/** The leader, created once per run; it may keep state across slots (e.g. a Lyapunov queue). */
export interface Leader {
  runSlot(ctx: LeaderContext): Promise<SlotOutcome>;
  /** serializable state to resume from after the last completed slot (optional) */
  snapshot?(): JsonObject;
}

/** What the reference side reports for one slot. */
export interface ReferenceSlot {
  /** the centralized solver's answer on the same parameters (spec keys, like `equilibrium`) */
  reference: JsonObject;
  /** baselines computed for the same parameters */
  baselines?: JsonObject;
  /** distributed vs reference: ok within the spec's tolerance; gap is a relative error */
  compare: {
    ok: boolean;
    gap: number;
    note?: string;
    /**
     * What the distributed slot was checked against, in words a reader can cite, e.g.
     * `"the reference optimum"` or `"the gsrp-step rule computed centrally"`. A mechanism that is
     * a rule (a step, a heuristic, a fixed price) is checked against the same rule computed
     * centrally, which says nothing about optimality; this field says so. Absent: the console and
     * the report say "the reference solver".
     */
    against?: string;
    /**
     * Set when `against` is a rule and not the optimum: the optimum's value of the compared
     * quantity and the rule's relative distance from it in percent (`100·|rule − optimum| /
     * |optimum|`), e.g. `{ label: 'price', value: 14.75, gapPct: 0.34 }`, printed as "the optimum
     * price is 14.75 (gap 0.34 %)".
     */
    optimum?: { label: string; value: number; gapPct: number };
  };
}

/** The centralized reference solver and baselines, run slot by slot beside the distributed run. */
export interface ReferenceRun {
  slot(slot: number, distributed: SlotOutcome): ReferenceSlot;
  /** run-level results after the last slot (long-run averages, claims …), merged into the summary */
  finish?(): JsonObject;
}

/**
 * The paper a scenario's model comes from, cited as fully as the source text allows: a field the
 * text does not give is left out, never guessed (`note` says what is missing and where a field
 * comes from).
 */
export interface PaperRef {
  title: string;
  authors?: string;
  venue?: string;
  year?: number;
  doi?: string;
  note?: string;
}

/**
 * One mechanism of a scenario. A scenario with one mechanism, or whose mechanisms differ only in
 * parameters, implements the parts on the scenario itself and lists its mechanisms by id and summary;
 * one whose mechanisms have their own agents, leader, followers or reference gives them here, and
 * the framework uses a mechanism's part where it has one and the scenario's otherwise (so the
 * scenario never branches on the mechanism's name).
 */
export interface Mechanism<Resolved extends JsonObject = JsonObject> extends ScenarioParts<Resolved> {
  id: string;
  summary: string;
  /** Optional: this mechanism's one-line summary of a slot, where its outcome is not the scenario's to describe (default: the scenario's `describeSlot`). */
  describeSlot?(distributed: SlotOutcome, ref: ReferenceSlot): string;
}

/**
 * The parts that run a mechanism, given on the scenario or per mechanism (`Mechanism`); each must
 * exist on the scenario or on every mechanism (checked when the scenario is loaded).
 */
export interface ScenarioParts<Resolved extends JsonObject = JsonObject> {
  /** every agent of the run, leader first */
  agents?(cfg: Resolved): AgentSpec[];
  /** the id of the leader agent */
  leaderId?(cfg: Resolved): string;
  /**
   * The small per-agent blob sent in the join reply (must not grow with N for a follower):
   * from it alone the agent derives its parameters for every slot.
   */
  agentInit?(cfg: Resolved, agent: AgentSpec): JsonObject;
  /** the leader, created once per run from its init (and a snapshot to resume from, if any) */
  createLeader?(init: JsonObject, resume?: JsonObject): Leader;
  /** a follower's handler, created once per agent per run (it may keep state across slots) */
  createFollower?(init: JsonObject, ctx: FollowerContext, resume?: JsonObject): Follower;
  /** the centralized reference solver and baselines, created once per run */
  createReference?(cfg: Resolved): ReferenceRun;
}

/** The parts of a scenario that one mechanism runs with: the mechanism's own, or the scenario's. */
export type MechanismParts<Resolved extends JsonObject = JsonObject> = Required<ScenarioParts<Resolved>>;

/**
 * A claim of the source paper, checked on a run: one shape for every scenario, so the report and
 * the console print claims as a table. `numbers` are what the verdict rests on, each with its unit.
 */
export interface Claim {
  id: string;
  /** the claim in words, e.g. "the equilibrium price rises with the users' budget" */
  statement: string;
  verdict: 'holds' | 'fails' | 'not-evaluable';
  numbers: ClaimNumber[];
  /** why not evaluable, or what the verdict depends on */
  note?: string;
}
export interface ClaimNumber {
  label: string;
  value: number | string | null;
  unit?: string;
}

/** One benchmarked variant of a scenario: a mechanism, or other options (default: the default mechanism). */
export interface BenchVariant {
  label?: string;
  mechanism?: string;
  options?: Record<string, string | number>;
  /** sizes for this variant (default: the scenario's `bench.sizes`) */
  sizes?: number[];
  /** placement (default: `--placement auto`'s, one process per follower up to 32, else one worker per core) */
  placement?: { kind: 'process' } | { kind: 'packed'; k: number };
}

/** What `mecsim bench` runs for a scenario; every part optional. */
export interface BenchPlan {
  /** sizes N when `--sizes` is not given (default 100, 1000) */
  sizes?: number[];
  /** the variants of a plain `bench` (default: the default mechanism) */
  variants?: BenchVariant[];
  /** the variants of `bench --scale` (default: `variants`) */
  scale?: BenchVariant[];
  /** how a size N enters the input (default: N users) */
  sizeInput?(n: number): { users?: number; options?: Record<string, number> };
  /** slots per benchmark run (default 1) */
  slots?: number;
  /** mechanisms whose rounds address one agent at a time: their floor is a one-to-one request/reply */
  oneToOne?: string[];
  /** extra columns of a row, computed from the run (e.g. time per phase) */
  extras?(run: BenchRun): Promise<Record<string, number | string>> | Record<string, number | string>;
  /** claims that need the rows of several runs (e.g. server load against N) */
  claims?(rows: BenchRowView[]): unknown[];
  /** benchmarked only when named on the command line (a diagnostic scenario) */
  onlyWhenNamed?: boolean;
}
/** What a bench row's `extras` are computed from. */
export interface BenchRun {
  config: JsonObject;
  summary: Record<string, any>;
  roundMs: number;
  slotMetrics: any[];
}
/** The part of a bench row a scenario's `bench.claims` reads. */
export interface BenchRowView {
  mechanism: string;
  users: number;
  leaderCpuMs: number;
  frameworkRoundMs: number;
}

export interface ScenarioOption {
  /** long flag name without dashes, e.g. `mecs` */
  name: string;
  /** value placeholder for help, e.g. `<n>`; omit for a boolean switch */
  arg?: string;
  description: string;
  default?: string | number | boolean;
}

/**
 * A scenario. `Resolved` is the fully resolved configuration (every parameter explicit), which is
 * what `mecsim params` prints and `--config` reads back.
 */
export interface Scenario<Resolved extends JsonObject = JsonObject> extends ScenarioParts<Resolved> {
  id: string;
  title: string;
  /** the scenario's model: its doc under docs/scenarios */
  spec?: string;
  /** the source paper, if the scenario has one */
  paper?: PaperRef;
  /**
   * The roles of its agents, in roster order: replies reach the leader in this order of roles, then
   * of index. Each a lower-case token (`RoleName`).
   */
  roles: readonly RoleName[];
  mechanisms: Mechanism<Resolved>[];
  defaultMechanism: string;
  /** scenario-specific CLI options accepted by `run` and `params` */
  options: ScenarioOption[];
  /** default number of user agents when neither --users nor --config gives them */
  defaultUsers: number;
  /** default number of slots when --slots is not given (1 if absent) */
  defaultSlots?: number;

  /**
   * The schema of a config file for `mechanism` (scenarios/common/schema.ts `configSchema`): every
   * key the file may have, with its type. The CLI checks a `--config` file against it before
   * `resolve`, so a value of the wrong type or an unknown key is refused, never ignored.
   */
  configSchema(mechanism: string): TObject;

  /**
   * Resolve the input into every parameter: explicit ones from `input.config`, the rest drawn from
   * the seed. Validates; throws ConfigError naming the flag or key on impossible input.
   */
  resolve(input: RunInput): Resolved;


  /** the scenario's own figures for a run's report (generic ones are added by the report) */
  figures?(run: RunData): (Figure | undefined)[];
  /** what `mecsim bench` runs for it */
  bench?: BenchPlan;
  /**
   * Units of its config keys and recorded values, for the report's tables and axes: by dotted key
   * with indices dropped (`users.r`), or by last part (`r`); e.g. `{ r: 'bit/s', price: 'money/unit' }`.
   * A quantity without a physical unit names what it counts (`count`, `rounds`) or is a `ratio`.
   */
  units?: Record<string, string>;

  /**
   * Optional: the configuration with one parameter set to `value` for a `--sweep key=v1,v2,…`
   * (e.g. stackelberg's `r` for every user, or `f`); throws ConfigError for an unknown key.
   */
  sweep?(cfg: Resolved, key: string, value: number): Resolved;

  /**
   * Optional: a factor on the link model's delays to and from `agent` (e.g. by its distance from
   * its server), positive; a message's delay is multiplied by its sender's and its receiver's
   * factors. Absent: every factor is 1. Used only when the run has a `link` section.
   */
  linkFactor?(cfg: Resolved, agent: AgentSpec): number;

  /**
   * Optional: a one-line human summary of one slot, for the console
   * (e.g. `price 12.3 (reference 12.3)  profit 456 (reference 456)`).
   */
  describeSlot?(distributed: SlotOutcome, ref: ReferenceSlot): string;
}

/** A scenario that gives every part itself (none per mechanism): what a one-mechanism scenario usually is. */
export type CompleteScenario<Resolved extends JsonObject = JsonObject> = Scenario<Resolved> & MechanismParts<Resolved>;
