/**
 * Scenario `stackelberg` — resource purchasing (GURP) and pricing (GSRP) between one edge server
 * (`mec-0`, leader) and N users (`ue-i`). Spec: shared/spec/stackelberg.md (seed 003).
 *
 * Read top to bottom: model.ts (parameters, utility, best response), mechanisms.ts (the server's
 * pricing protocols as message rounds), reference.ts (the centralized global optimum), and below:
 * configuration, the agents' roles, and the reference side with the baselines.
 */
import { stream } from '../common/rng.ts';
import { ConfigError, type AgentSpec, type Json, type JsonObject, type RunInput, type Scenario, type SlotOutcome } from '../types.ts';
import { gsrpSearch, gsrpStep } from './mechanisms.ts';
import { bestResponse, drawUser, outcomeAt, unitsForDeadline, utility, type ServerParams, type UserParams } from './model.ts';
import { referenceOptimum, stepRule } from './reference.ts';

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

function num(v: unknown, key: string, ok: (x: number) => boolean, what: string): number {
  const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) throw new ConfigError(key, `must be ${what}, not ${JSON.stringify(v)}`);
  return x;
}

function resolveServer(c: JsonObject | undefined, o: RunInput['options']): StackelbergConfig['server'] {
  const src = { ...(c ?? {}) } as Record<string, unknown>;
  for (const k of ['f', 'm', 'X', 'p0', 'step', 'patience', 'epsilon']) if (o[k] !== undefined) src[k] = o[k];
  const f = num(src.f ?? 4e9, 'server.f', (x) => x > 0, 'a positive CPU frequency in Hz');
  const m = num(src.m ?? 1, 'server.m', (x) => x > 0, 'a positive maintenance cost');
  const step = num(src.step ?? 0.1, 'server.step', (x) => x > 0, 'a positive price step');
  const X = src.X === null || src.X === undefined || src.X === 'null' ? null : num(src.X, 'server.X', (x) => x > 0, 'a positive capacity in units, or null');
  const p0 = num(src.p0 ?? m + step, 'server.p0', (x) => x > m, `a price above m = ${m}`);
  const patience = num(src.patience ?? 3, 'server.patience', (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  const epsilon = num(src.epsilon ?? 1e-6, 'server.epsilon', (x) => x > 0 && x < 0.5, 'in (0, 0.5)');
  return { f, m, X, p0, step, patience, epsilon };
}

function resolveUser(u: unknown, i: number): StackelbergConfig['users'][number] {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new ConfigError(`users[${i}]`, 'must be an object {theta, s, c, r, tmax}');
  const o = u as Record<string, unknown>;
  const pos = (k: string, what: string) => num(o[k], `users[${i}].${k}`, (x) => x > 0, what);
  return { theta: pos('theta', 'a positive satisfaction'), s: pos('s', 'a positive request size in bits'), c: pos('c', 'a positive processing density in cycles/bit'), r: pos('r', 'a positive uplink rate in bit/s'), tmax: pos('tmax', 'a positive deadline in s') };
}

/** Users of a slot: slot 0 as configured; later slots draw new requests from the seed stream. */
export function usersAt(cfg: StackelbergConfig, slot: number): UserParams[] {
  return slot === 0 ? cfg.users : cfg.users.map((_, i) => drawUser(cfg.seed, i, slot, 'slot'));
}

/** A user's own view of its parameters in a slot (it holds only its init). */
function userAt(init: JsonObject, slot: number): UserParams {
  return slot === 0 ? (init.user as unknown as UserParams) : drawUser(Number(init.seed), Number(init.index), slot, 'slot');
}

export const stackelberg: Scenario<StackelbergConfig> = {
  id: 'stackelberg',
  title: 'resource purchasing (GURP) and pricing (GSRP) between an edge server and its users',
  spec: 'shared/spec/stackelberg.md',
  mechanisms: [
    { id: 'gsrp-search', summary: 'bracketing + golden-section search on observed profits (rounds ~ log 1/ε)' },
    { id: 'gsrp-step', summary: "the seed's GSRP: the price rises by a fixed step until the profit has fallen `patience` times" },
  ],
  defaultMechanism: 'gsrp-search',
  defaultUsers: 6,
  options: [
    { name: 'step', arg: '<Δ>', description: 'gsrp-step price step', default: 0.1 },
    { name: 'patience', arg: '<n>', description: 'gsrp-step: stop after the profit fell this many rounds in a row', default: 3 },
    { name: 'epsilon', arg: '<ε>', description: 'gsrp-search: relative bracket width to stop at', default: 1e-6 },
    { name: 'p0', arg: '<price>', description: 'first price (default m + step)' },
    { name: 'capacity', arg: '<units>', description: 'server capacity X in units (default unlimited)' },
  ],

  resolve(input) {
    const c = input.config ?? {};
    const mechanism = (input.mechanism ?? (c.mechanism as string | undefined) ?? 'gsrp-search') as StackelbergConfig['mechanism'];
    if (!MECHANISMS.includes(mechanism)) throw new ConfigError('--mechanism', `must be one of ${MECHANISMS.join(', ')}`);
    const opts = { ...input.options };
    if (opts.capacity !== undefined) opts.X = opts.capacity;
    const server = resolveServer(c.server as JsonObject | undefined, opts);
    let users: StackelbergConfig['users'];
    if (c.users !== undefined) {
      if (!Array.isArray(c.users) || c.users.length === 0) throw new ConfigError('users', 'must be a non-empty list of users');
      if (input.users !== undefined && input.users !== c.users.length) throw new ConfigError('--users', `${input.users} conflicts with the ${c.users.length} users listed in --config`);
      users = c.users.map(resolveUser);
    } else {
      const n = input.users ?? 6;
      if (!Number.isInteger(n) || n < 1) throw new ConfigError('--users', `must be an integer ≥ 1, not ${n}`);
      users = Array.from({ length: n }, (_, i) => drawUser(input.seed, i, 0) as StackelbergConfig['users'][number]);
    }
    if (!Number.isInteger(input.slots) || input.slots < 1) throw new ConfigError('--slots', `must be an integer ≥ 1, not ${input.slots}`);
    return { scenario: 'stackelberg', mechanism, seed: input.seed, slots: input.slots, server, users };
  },

  agents: (cfg) => [{ id: 'mec-0', role: 'mec', index: 0 }, ...cfg.users.map((_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))],
  leaderId: () => 'mec-0',
  agentInit: (cfg, a): JsonObject => (a.role === 'mec' ? { mechanism: cfg.mechanism, server: cfg.server } : { seed: cfg.seed, index: a.index, f: cfg.server.f, user: cfg.users[a.index] }),

  createLeader(init) {
    const server = init.server as unknown as ServerParams;
    const run = init.mechanism === 'gsrp-step' ? gsrpStep : gsrpSearch;
    return { runSlot: (ctx) => run(ctx, server) };
  },

  createFollower(init) {
    const f = Number(init.f);
    let slot = -1;
    let theta = 0;
    let k = Infinity;
    return {
      handle(kind, body, meta) {
        if ((kind !== 'price' && kind !== 'final') || typeof body.p !== 'number' || !(body.p > 0)) return undefined;
        if (meta.slot !== slot) {
          slot = meta.slot;
          const u = userAt(init, slot);
          theta = u.theta;
          k = unitsForDeadline(u, f);
        }
        const x = bestResponse(theta, k, body.p);
        const reply: JsonObject = { x, u: utility(theta, k, x, body.p) };
        if (body.cap === true) Object.assign(reply, { theta, k: Number.isFinite(k) ? k : -1 });
        return reply;
      },
    };
  },

  createReference(cfg) {
    let previousPrice: number | undefined;
    return {
      slot(slot, distributed: SlotOutcome) {
        const users = usersAt(cfg, slot);
        const thetas = users.map((u) => u.theta);
        const ks = users.map((u) => unitsForDeadline(u, cfg.server.f));
        const ref = referenceOptimum(thetas, ks, cfg.server);
        const eq = distributed.equilibrium as unknown as { price: number; profit: number; purchases: number[]; utilities: number[] };
        const priceGap = Math.abs(eq.price - ref.price) / ref.price;
        const profitGap = ref.profit > 0 ? Math.abs(eq.profit - ref.profit) / ref.profit : Math.abs(eq.profit);
        let compare: { ok: boolean; gap: number; note?: string };
        if (cfg.mechanism === 'gsrp-search') {
          const ok = priceGap <= SEARCH_TOLERANCE * 1.0000001 && profitGap <= SEARCH_TOLERANCE;
          compare = { ok, gap: Math.max(priceGap, profitGap), note: ok ? undefined : ref.unimodal ? 'the search missed the optimum of a unimodal profit' : `Π has ${ref.localMaxima} local maxima: the search found a local one` };
        } else {
          // gsrp-step must end on the price the step rule gives; its gap to the optimum is the step's cost
          const rule = stepRule(thetas, ks, cfg.server);
          const ok = Math.abs(eq.price - rule.price) <= 1e-9 * rule.price && Math.abs(eq.profit - rule.profit) <= 1e-9 * Math.max(1, Math.abs(rule.profit));
          compare = { ok, gap: Math.max(priceGap, profitGap), note: `step rule price ${rule.price}; gap to the global optimum ${profitGap.toExponential(2)} in profit` };
        }
        const baselines = stackelbergBaselines(cfg, slot, thetas, ks, users, eq.price, previousPrice);
        previousPrice = eq.price;
        const reference: JsonObject = { price: ref.price, purchases: ref.purchases, profit: ref.profit, utilities: ref.utilities, unimodal: ref.unimodal, localMaxima: ref.localMaxima };
        return { reference, baselines, compare };
      },
    };
  },

  sweep(cfg, key, value) {
    if (!(Number.isFinite(value) && value > 0)) throw new ConfigError('--sweep', `${key} values must be positive numbers`);
    if (key === 'r' || key === 'theta' || key === 's' || key === 'c' || key === 'tmax') return { ...cfg, users: cfg.users.map((u) => ({ ...u, [key]: value })) };
    if (key === 'f' || key === 'm' || key === 'X') return { ...cfg, server: { ...cfg.server, [key]: value } };
    throw new ConfigError('--sweep', `stackelberg sweeps r, theta, s, c, tmax (applied to every user) or f, m, X (the server), not "${key}"`);
  },

  describeSlot(d, r) {
    const e = d.equilibrium as Record<string, number & number[]>;
    const ref = r.reference as Record<string, number>;
    const buyers = (e.purchases as number[]).filter((x) => x > 0).length;
    return `price ${e.price.toPrecision(9)} (reference ${ref.price.toPrecision(9)})  profit ${e.profit.toPrecision(9)} (reference ${ref.profit.toPrecision(9)})  buyers ${buyers}/${(e.purchases as number[]).length}`;
  },
};

/** Pricing and purchasing baselines of the spec, for the same users. */
export function stackelbergBaselines(cfg: StackelbergConfig, slot: number, thetas: number[], ks: number[], users: UserParams[], eqPrice: number, previousPrice: number | undefined): JsonObject {
  const server = cfg.server;
  const pmax = Math.max(server.m, ...thetas.map((t, i) => (Number.isFinite(ks[i]) ? t / ks[i] : server.m)));
  const gsrp = outcomeAt(eqPrice, thetas, ks, server);
  // pricing baselines
  const randomPrice = stream(cfg.seed, 'baseline', 'random-price', slot).uniform(server.m, pmax);
  let historicalPrice = previousPrice;
  if (historicalPrice === undefined) {
    const other = users.map((_, i) => drawUser(cfg.seed, i, 0, 'historical'));
    historicalPrice = referenceOptimum(other.map((u) => u.theta), other.map((u) => unitsForDeadline(u, server.f)), server).price;
  }
  const random = outcomeAt(randomPrice, thetas, ks, server);
  const historical = outcomeAt(historicalPrice, thetas, ks, server);
  // purchasing baselines at the equilibrium price
  const g = stream(cfg.seed, 'baseline', 'random-purchase', slot);
  const xhat = thetas.map((t, i) => (Number.isFinite(ks[i]) ? Math.max(0, t / eqPrice - ks[i]) : 0));
  const randomBuy = xhat.map((x) => g.uniform(0, 2 * x));
  const meanStar = gsrp.purchases.reduce((a, b) => a + b, 0) / gsrp.purchases.length;
  const meanS = users.reduce((a, u) => a + u.s, 0) / users.length;
  const kappa = meanS > 0 ? meanStar / meanS : 0;
  const fixedBuy = users.map((u) => kappa * u.s);
  const uOf = (xs: number[]) => xs.map((x, i) => utility(thetas[i], ks[i], x, eqPrice));
  const uRandom = uOf(randomBuy);
  const uFixed = uOf(fixedBuy);
  const tie = (a: number, b: number) => a >= b - 1e-9 * Math.max(1, Math.abs(b));
  const result: Record<string, Json> = {
    pricing: {
      random: { price: randomPrice, profit: random.profit },
      historical: { price: historicalPrice, profit: historical.profit, source: previousPrice === undefined ? 'reference price of a population drawn from the seed’s historical stream' : 'previous slot’s equilibrium price' },
      gsrpBeatsBoth: tie(gsrp.profit, random.profit) && tie(gsrp.profit, historical.profit),
    },
    purchasing: {
      random: { purchases: randomBuy, utilities: uRandom },
      fixed: { kappa, purchases: fixedBuy, utilities: uFixed },
      gurpBeatsBothForEveryUser: gsrp.utilities.every((u, i) => tie(u, uRandom[i]) && tie(u, uFixed[i])),
    },
  };
  return result;
}
