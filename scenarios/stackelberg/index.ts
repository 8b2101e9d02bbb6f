/**
 * Scenario `stackelberg` — resource purchasing (GURP) and pricing (GSRP) between one edge server
 * (`mec-0`, leader) and N users (`ue-i`). Model: docs/scenarios/stackelberg.md.
 *
 * Read top to bottom: model.ts (parameters, T_i, k_i, utility, best response, capacity, profit),
 * mechanisms.ts (the server's pricing protocols as message rounds), reference.ts (the centralized
 * global optimum), baselines.ts (pricing and purchasing baselines), and below: configuration, the
 * agents' roles, and the comparison with the reference.
 */
import { ConfigError, type AgentSpec, type JsonObject, type Leader, type LeaderContext, type MechanismParts, type ReferenceSlot, type RunInput, type Scenario, type SlotOutcome } from '../types.ts';
import { baselines } from './baselines.ts';
import { gsrpSearch, gsrpStep } from './mechanisms.ts';
import { bestResponse, drawUser, unitsForDeadline, userParams, utility, type ServerParams, type UserParams } from './model.ts';
import { referenceOptimum, stepGridBound, stepRule } from './reference.ts';
import { configSchema, Int, ListOf, Num, NumOrNull, objectParam, oneOf, param, seedParam, slotsParam, Strict, userCount } from '../common/schema.ts';
import { PAPER } from './paper.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export interface StackelbergConfig extends JsonObject {
  scenario: 'stackelberg';
  mechanism: 'gsrp-step' | 'gsrp-search';
  seed: number;
  slots: number;
  server: ServerParams & JsonObject;
  users: (UserParams & JsonObject)[];
}

const MECHANISMS = ['gsrp-search', 'gsrp-step'] as const;
/** tolerance of `gsrp-search` against the reference (relative, price and profit) */
export const SEARCH_TOLERANCE = 1e-6;

const SERVER_KEYS = ['f', 'm', 'X', 'p0', 'step', 'patience', 'epsilon'] as const;
const USER_KEYS = ['theta', 's', 'c', 'r', 'tmax'] as const;


/** Server parameters: CLI options override the config file, which overrides the spec's defaults. */
/** The config file's shape (types and keys; the ranges are checked by resolve). */
const CONFIG_SCHEMA = configSchema('stackelberg', MECHANISMS, {
  server: Strict({
    f: Num('a positive CPU frequency in Hz'),
    m: Num('a positive maintenance cost'),
    X: NumOrNull('a positive capacity in units, or null'),
    p0: Num('a price above m'),
    step: Num('a positive price step'),
    patience: Int('an integer ≥ 1'),
    epsilon: Num('a number in (0, 0.5)'),
  }),
  users: ListOf(Strict({ theta: Num('a positive satisfaction'), s: Num('a positive request size in bits'), c: Num('a positive processing density in cycles/bit'), r: Num('a positive uplink rate in bit/s'), tmax: Num('a positive deadline in s') }, USER_KEYS), 'a list of users {theta, s, c, r, tmax}'),
});

function resolveServer(c: unknown, o: RunInput['options']): StackelbergConfig['server'] {
  const src: Record<string, unknown> = c === undefined ? {} : { ...objectParam('server', c, '{f, m, X, p0, step, patience, epsilon}') };
  for (const k of Object.keys(src)) if (!(SERVER_KEYS as readonly string[]).includes(k)) throw new ConfigError(`server.${k}`, `unknown key (known: ${SERVER_KEYS.join(', ')})`);
  const key: Record<string, string> = {};
  for (const k of SERVER_KEYS) {
    key[k] = `server.${k}`;
    if (o[k] !== undefined) {
      src[k] = o[k];
      key[k] = `--${k}`;
    }
  }
  if (o.capacity !== undefined && o.X === undefined) {
    src.X = o.capacity;
    key.X = '--capacity';
  }
  const f = param(key.f, src.f ?? 4e9, (x) => x > 0, 'a positive CPU frequency in Hz');
  const m = param(key.m, src.m ?? 1, (x) => x > 0, 'a positive maintenance cost');
  const step = param(key.step, src.step ?? 0.1, (x) => x > 0, 'a positive price step');
  const X = src.X === null || src.X === undefined || src.X === 'null' ? null : param(key.X, src.X, (x) => x > 0, 'a positive capacity in units, or null');
  const p0 = param(key.p0, src.p0 ?? m + step, (x) => x > m, `a price above m = ${m}`);
  const patience = param(key.patience, src.patience ?? 3, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  const epsilon = param(key.epsilon, src.epsilon ?? 1e-6, (x) => x > 0 && x < 0.5, 'in (0, 0.5)');
  return { f, m, X, p0, step, patience, epsilon };
}

function resolveUser(u: unknown, i: number): StackelbergConfig['users'][number] {
  const o = objectParam(`users[${i}]`, u, '{theta, s, c, r, tmax}');
  for (const k of Object.keys(o)) if (!(USER_KEYS as readonly string[]).includes(k)) throw new ConfigError(`users[${i}].${k}`, `unknown key (known: ${USER_KEYS.join(', ')})`);
  const pos = (k: string, what: string) => param(`users[${i}].${k}`, o[k], (x) => x > 0, what);
  return {
    theta: pos('theta', 'a positive satisfaction'),
    s: pos('s', 'a positive request size in bits'),
    c: pos('c', 'a positive processing density in cycles/bit'),
    r: pos('r', 'a positive uplink rate in bit/s'),
    tmax: pos('tmax', 'a positive deadline in s'),
  };
}

/** Users of a slot: slot 0 as configured; later slots draw new requests from the seed stream. */
export function usersAt(cfg: StackelbergConfig, slot: number): UserParams[] {
  return slot === 0 ? cfg.users : cfg.users.map((_, i) => drawUser(cfg.seed, i, slot));
}

/**
 * A user's own view of its parameters in a slot (it holds only its init: slot-0 params and the seed).
 * Slot 0's decoded ones copied into userParams' shape, that of every later slot's.
 */
function userAt(init: JsonObject, slot: number): UserParams {
  if (slot !== 0) return drawUser(Number(init.seed), Number(init.index), slot);
  const u = init.user as unknown as UserParams;
  return userParams(u.theta, u.s, u.c, u.r, u.tmax);
}

/**
 * A user: answers `price`/`final` {p} with {x, u}, its GURP demand and utility (plus θ, k under a
 * capacity). A class, not a closure: a host runs thousands of users, and each closure was three
 * objects of its own (the handler, its context and the object holding it) read every round.
 */
class User {
  private readonly f: number;
  private slot = -1;
  /** not known before the first request (NaN, not 0: a field first given a small integer and then a fraction changes layout, and each user object then migrates at its first request) */
  private theta = NaN;
  private k = Infinity;

  constructor(private readonly init: JsonObject) {
    this.f = Number(init.f);
  }

  handle(kind: string, body: JsonObject, meta: { slot: number }): JsonObject | undefined {
    if ((kind !== 'price' && kind !== 'final') || typeof body.p !== 'number' || !Number.isFinite(body.p) || !(body.p > 0)) return undefined;
    if (meta.slot !== this.slot) {
      this.slot = meta.slot;
      const u = userAt(this.init, this.slot);
      this.theta = u.theta;
      this.k = unitsForDeadline(u, this.f);
    }
    const { theta, k } = this;
    const x = bestResponse(theta, k, body.p);
    const u = utility(theta, k, x, body.p);
    if (!Number.isFinite(x) || !Number.isFinite(u)) return undefined; // an absurd price (say 1e-307) overflows: no answer
    const reply: JsonObject = { x, u };
    if (body.cap === true) Object.assign(reply, { theta, k: Number.isFinite(k) ? k : -1 });
    return reply;
  }
}

type Eq = { price: number; profit: number; purchases: number[]; utilities: number[] };

/** what gsrp-search (and any slot where nobody can buy profitably) is compared with */
const OPTIMUM = 'the reference optimum';
/** what gsrp-step is compared with: a step walk is a rule, so it is checked against that rule, and the optimum is reported beside it */
const STEP_RULE = 'the gsrp-step rule computed centrally';

/** How the distributed outcome compares with the reference (see the scenario's `compare` doc below). */
export function compareSlot(cfg: StackelbergConfig, thetas: number[], ks: number[], eq: Eq, ref: ReturnType<typeof referenceOptimum>): ReferenceSlot['compare'] {
  const priceGap = Math.abs(eq.price - ref.price) / ref.price;
  const profitGap = ref.profit > 0 ? Math.abs(eq.profit - ref.profit) / ref.profit : Math.abs(eq.profit);
  if (!(ref.profit > 0)) {
    // nobody buys profitably at any price: every price is optimal, the profit must be 0
    return { ok: eq.profit === 0, gap: profitGap, against: OPTIMUM, note: 'no price yields a positive profit (no user can buy profitably)' };
  }
  const shape = ref.unimodal ? 'Π unimodal' : `Π has ${ref.localMaxima} local maxima`;
  if (cfg.mechanism === 'gsrp-search') {
    // within the spec's ε in price and in profit (the price gap gets a 1e-9 relative slack for rounding)
    const ok = priceGap <= SEARCH_TOLERANCE * (1 + 1e-9) && profitGap <= SEARCH_TOLERANCE;
    const what = ok ? 'reached the global optimum' : ref.unimodal ? 'MISSED the optimum of a unimodal Π' : 'stopped at a local maximum, not the global one';
    return { ok, gap: Math.max(priceGap, profitGap), against: OPTIMUM, note: `${shape}; the search ${what} (price gap ${priceGap.toExponential(2)}, profit gap ${profitGap.toExponential(2)})` };
  }
  // gsrp-step: must end on the price the step rule gives (computed centrally), and be at least as
  // good as the Δ-grid prices around the global optimum (its resolution bound); the gap is its cost.
  const rule = stepRule(thetas, ks, cfg.server);
  const bound = stepGridBound(thetas, ks, cfg.server, ref.price);
  const equalsRule = Math.abs(eq.price - rule.price) <= 1e-9 * rule.price && Math.abs(eq.profit - rule.profit) <= 1e-9 * Math.max(1, Math.abs(rule.profit));
  const boundGap = (ref.profit - bound.profit) / ref.profit;
  const withinBound = profitGap <= boundGap + 1e-9;
  return {
    ok: equalsRule && withinBound,
    gap: profitGap,
    against: STEP_RULE,
    optimum: { label: 'price', value: ref.price, gapPct: 100 * priceGap },
    note:
      `${shape}; step Δ = ${cfg.server.step}: profit gap to the optimum ${profitGap.toExponential(2)} (price gap ${priceGap.toExponential(2)}); ` +
      `resolution bound ${boundGap.toExponential(2)} (best of Π at the grid prices ${bound.below.toFixed(6)} and ${bound.above.toFixed(6)} around p* = ${ref.price.toFixed(6)})` +
      (equalsRule ? '' : `; DIFFERS from the step rule's price ${rule.price}`) +
      (withinBound ? '' : '; the walk stopped before passing p* (patience ran out on an earlier peak)'),
  };
}

/** a leader that walks the price with `walk` on the server its init carries */
function leaderOf(walk: (ctx: LeaderContext, server: ServerParams) => Promise<SlotOutcome>, init: JsonObject): Leader {
  const server = init.server as unknown as ServerParams;
  return { runSlot: (ctx) => walk(ctx, server) };
}

/** Every part is the scenario's except the leader, which is each mechanism's own. */
export const stackelberg: Scenario<StackelbergConfig> & Omit<MechanismParts<StackelbergConfig>, 'createLeader'> = {
  id: 'stackelberg',
  title: 'resource purchasing (GURP) and pricing (GSRP) between an edge server and its users',
  spec: 'docs/scenarios/stackelberg.md',
  paper: PAPER,
  bench,
  figures,
  units,
  roles: ['mec', 'ue'],
  // the two differ in the leader's price walk only: each gives its own leader, the rest is the scenario's
  mechanisms: [
    { id: 'gsrp-search', summary: 'bracketing + golden-section search on observed profits (rounds ~ log 1/ε)', createLeader: (init) => leaderOf(gsrpSearch, init) },
    { id: 'gsrp-step', summary: "the paper's GSRP: the price rises by a fixed step until the profit has fallen `patience` times", createLeader: (init) => leaderOf(gsrpStep, init) },
  ],
  defaultMechanism: 'gsrp-search',
  defaultUsers: 6,
  options: [
    { name: 'step', arg: '<Δ>', description: 'gsrp-step price step', default: 0.1 },
    { name: 'patience', arg: '<n>', description: 'gsrp-step: stop after the profit fell this many rounds in a row', default: 3 },
    { name: 'epsilon', arg: '<ε>', description: 'gsrp-search: relative bracket width to stop at', default: 1e-6 },
    { name: 'p0', arg: '<price>', description: 'first price (default m + step)' },
    { name: 'X', arg: '<units>', description: 'server capacity X in units (default unlimited)' },
    { name: 'capacity', arg: '<units>', description: 'same as --X' },
  ],

  configSchema: () => CONFIG_SCHEMA,

  resolve(input) {
    const c = input.config ?? {};
    const mechanism = oneOf('--mechanism', input.mechanism ?? c.mechanism, MECHANISMS) ?? 'gsrp-search';
    const server = resolveServer(c.server, input.options);
    const seed = seedParam(input.seed);
    const slots = slotsParam(input.slots);
    const { list, n } = userCount(input.users, c.users, 6);
    const users = list ? list.map(resolveUser) : Array.from({ length: n }, (_, i) => drawUser(seed, i, 0) as StackelbergConfig['users'][number]);
    return { scenario: 'stackelberg', mechanism, seed, slots, server, users };
  },

  agents: (cfg) => [{ id: 'mec-0', role: 'mec', index: 0 }, ...cfg.users.map((_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))],
  leaderId: () => 'mec-0',
  // the leader knows only the server; a user knows its slot-0 request, f and the seed (constant size)
  agentInit: (cfg, a): JsonObject => (a.role === 'mec' ? { mechanism: cfg.mechanism, server: cfg.server } : { seed: cfg.seed, index: a.index, f: cfg.server.f, user: cfg.users[a.index] }),

  /** each user is a `User` (above) */
  createFollower: (init) => new User(init),

  /**
   * Reference side, per slot: the analytic global optimum, the baselines, and `compare`:
   * - gsrp-search: ok iff the price and the profit are within 1e-6 relative of the global optimum
   *   (gap = the larger of the two); on a non-unimodal Π a miss is reported as a local maximum.
   * - gsrp-step: ok iff it ends on the price of the step rule computed centrally AND its profit is at
   *   least the best of Π at the two Δ-grid prices around p* (its resolution bound); gap = the profit gap.
   * - nobody can buy profitably: ok iff the profit is 0.
   * `against` says which: gsrp-search (and the no-profit case) is compared with the reference optimum;
   * gsrp-step with the step rule computed centrally, its `optimum` giving p* and the price gap in %.
   */
  createReference(cfg) {
    let previousPrice: number | undefined;
    return {
      slot(slot, distributed: SlotOutcome) {
        const users = usersAt(cfg, slot);
        const thetas = users.map((u) => u.theta);
        const ks = users.map((u) => unitsForDeadline(u, cfg.server.f));
        const ref = referenceOptimum(thetas, ks, cfg.server);
        const eq = distributed.equilibrium as unknown as Eq;
        const compare = compareSlot(cfg, thetas, ks, eq, ref);
        const base = baselines(cfg.seed, slot, cfg.server, users, eq.price, previousPrice);
        previousPrice = eq.price;
        const reference: JsonObject = {
          price: ref.price,
          purchases: ref.purchases,
          profit: ref.profit,
          utilities: ref.utilities,
          unimodal: ref.unimodal,
          localMaxima: ref.localMaxima,
          optimumKind: ref.kind,
        };
        return { reference, baselines: base, compare };
      },
    };
  },

  sweep(cfg, key, value) {
    if (!(Number.isFinite(value) && value > 0)) throw new ConfigError('--sweep', `${key} values must be positive numbers`);
    let next: StackelbergConfig | undefined;
    if (key === 'r' || key === 'theta' || key === 's' || key === 'c' || key === 'tmax') next = { ...cfg, users: cfg.users.map((u) => ({ ...u, [key]: value })) };
    // sweeping m moves the first price with it (p0 = m + Δ, the default), so p0 > m still holds
    if (key === 'm') next = { ...cfg, server: { ...cfg.server, m: value, p0: value + cfg.server.step } };
    if (key === 'f' || key === 'X') next = { ...cfg, server: { ...cfg.server, [key]: value } };
    // validate the swept configuration like any other (note: only slot 0 uses the swept users; later
    // slots draw new requests from the seed)
    if (next) return stackelberg.resolve({ seed: next.seed, slots: next.slots, options: {}, config: next });
    throw new ConfigError('--sweep', `stackelberg sweeps r, theta, s, c, tmax (applied to every user) or f, m, X (the server), not "${key}"`);
  },

  // the reference is the global optimum (whichever mechanism ran), so the line calls it that
  describeSlot(d, r) {
    const e = d.equilibrium as unknown as Eq;
    const ref = r.reference as unknown as Eq;
    const buyers = e.purchases.filter((x) => x > 0).length;
    const rounds = d.extra?.rounds;
    return `price ${e.price.toFixed(6)} (optimum ${ref.price.toFixed(6)})  profit ${e.profit.toFixed(4)} (optimum ${ref.profit.toFixed(4)})  buyers ${buyers}/${e.purchases.length}${typeof rounds === 'number' ? `  rounds ${rounds}` : ''}`;
  },
};
