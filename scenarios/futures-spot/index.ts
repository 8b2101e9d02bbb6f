/**
 * `futures-spot` — contract (futures) and spot markets for MEC resources through a broker
 * (model: docs/scenarios/futures-spot.md).
 *
 * Read in this order: model.ts (parameters, valuations, registration decision, futures allocation,
 * server profit) → auctions.ts (complete-information greedy, McAfee double auction, property checks,
 * exact optimal assignment) → protocol.ts (the broker's fee iteration as message rounds, the mec and
 * ue handlers) → reference.ts (the same iteration centrally, both auctions, the checks).
 *
 * Mechanisms are the spot auctions, `complete` and `incomplete`; `--auction` is accepted as an alias
 * of `--mechanism`. The resolved configuration carries both keys (`mechanism` and `auction`).
 */
import { type CompleteScenario, ConfigError, type AgentSpec, type Json, type JsonObject, type RunInput, type Scenario } from '../types.ts';
import { AUCTIONS, DEFAULTS, drawServer, drawUser, type Auction, type FuturesSpotConfig, type ServerParams, type UserParams } from './model.ts';
import { createBroker, createMec, createUe, type IterationSummary, type LeaderInit, type MecInit, type UeInit } from './protocol.ts';
import { createFuturesSpotReference, feesOf } from './reference.ts';
import { configSchema, Count, Int, intIn, ListOf, mechanismWithAlias, nonNegative, Num, objectParam, OneOf, param, positive, seedParam, slotsParam, Strict } from '../common/schema.ts';
import { Type } from '@sinclair/typebox';
import { PAPER } from './paper.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export type { FuturesSpotConfig } from './model.ts';
export { checkSpotRecord, referenceIteration, checkSummary } from './reference.ts';

const SERVER = Strict({ R: Int('an integer ≥ 0 (units)'), kappa: Num('a number ≥ 0'), a: Num('a number ≥ 0'), zeta: Num('a number > 0') });
const USER = Strict({ D: Int('an integer ≥ 1 (units)'), v: Num('a number ≥ 0'), rho: ListOf(Num('a number ≥ 0'), 'a list of M numbers ≥ 0') });
/** The config file's shape (types and keys; the ranges are checked by resolve). A null server or user is drawn from the seed. */
const CONFIG_SCHEMA = configSchema('futures-spot', AUCTIONS, {
  auction: OneOf(AUCTIONS),
  M: Int('an integer in [1, 10000]'),
  N: Count('the number of users'),
  P: Num('a number ≥ 0'),
  l: Num('a number ≥ 0'),
  c0: Num('a number ≥ 0'),
  tau: Num('a number > 0'),
  maxIterations: Int('an integer in [1, 100000]'),
  phiA: Num('a number ≥ 0 (the sellers\' fee per unit sold)'),
  phiB: Num('a number ≥ 0 (the buyers\' fee per unit bought)'),
  servers: ListOf(Type.Union([SERVER, Type.Null()], { description: 'an object {R, kappa, a, zeta} or null' }), 'a list of servers {R, kappa, a, zeta}'),
  users: ListOf(Type.Union([USER, Type.Null()], { description: 'an object {D, v, rho} or null' }), 'a list of users {D, v, rho}'),
});

/** the spot auction: --mechanism, or its alias --auction (the config's `auction` key likewise) */
const auctionOf = (input: RunInput): Auction => mechanismWithAlias(input, AUCTIONS, { flag: 'auction', key: 'auction' }, 'complete');

function resolveServer(seed: number, j: number, given: unknown): ServerParams {
  const d = drawServer(seed, j);
  if (given === undefined || given === null) return { R: d.R, kappa: d.kappa, a: d.a, zeta: d.zeta };
  const k = `servers[${j}]`;
  const g = objectParam(k, given, '{R, kappa, a, zeta}');
  const R = g.R === undefined ? d.R : param(`${k}.R`, g.R, intIn(0, 1e9), 'an integer ≥ 0 (units)');
  const kappa = g.kappa === undefined ? d.kappa : param(`${k}.kappa`, g.kappa, nonNegative, 'a number ≥ 0');
  const a = g.a === undefined ? (g.kappa === undefined ? d.a : kappa * (1 + d.u)) : param(`${k}.a`, g.a, nonNegative, 'a number ≥ 0');
  const zeta = g.zeta === undefined ? d.zeta : param(`${k}.zeta`, g.zeta, positive, 'a number > 0');
  return { R, kappa, a, zeta };
}

function resolveUser(seed: number, i: number, M: number, given: unknown): UserParams {
  const d = drawUser(seed, i, M);
  if (given === undefined || given === null) return d;
  const k = `users[${i}]`;
  const g = objectParam(k, given, '{D, v, rho}');
  const D = g.D === undefined ? d.D : param(`${k}.D`, g.D, intIn(1, 1e9), 'an integer ≥ 1 (units)');
  const v = g.v === undefined ? d.v : param(`${k}.v`, g.v, nonNegative, 'a number ≥ 0');
  let rho = d.rho;
  if (g.rho !== undefined) {
    if (!Array.isArray(g.rho) || g.rho.length !== M) throw new ConfigError(`${k}.rho`, `must be an array of M = ${M} numbers`);
    rho = g.rho.map((x, j) => param(`${k}.rho[${j}]`, x, nonNegative, 'a number ≥ 0'));
  }
  return { D, v, rho };
}

export const futuresSpot: CompleteScenario<FuturesSpotConfig> = {
  id: 'futures-spot',
  title: 'contract (futures) and spot markets through a broker: registration-fee search, complete- vs incomplete-information spot auction',
  spec: 'docs/scenarios/futures-spot.md',
  paper: PAPER,
  bench,
  figures,
  units,
  roles: ['broker', 'mec', 'ue'],
  mechanisms: [
    { id: 'complete', summary: 'spot market under complete information: greedy assignment of the largest v_ij, users pay their value' },
    { id: 'incomplete', summary: "spot market under incomplete information: McAfee's double auction on homogeneous unit bids and asks" },
  ],
  defaultMechanism: 'complete',
  options: [
    { name: 'mecs', arg: '<m>', description: 'number of MEC servers M', default: DEFAULTS.M },
    { name: 'auction', arg: '<complete|incomplete>', description: 'the spot auction (alias of --mechanism)', default: 'complete' },
    { name: 'fee', arg: '<f>', description: "the broker's fee per unit on both sides of the incomplete-information spot market, φ_a = φ_b = f (0: no fees)", default: DEFAULTS.fee },
  ],
  defaultUsers: DEFAULTS.N,

  configSchema: () => CONFIG_SCHEMA,

  resolve(input: RunInput): FuturesSpotConfig {
    const c = input.config ?? {};
    const auction = auctionOf(input);
    const seed = seedParam(input.seed);
    const slots = slotsParam(input.slots);
    if (c.servers !== undefined && !Array.isArray(c.servers)) throw new ConfigError('servers', 'must be an array of {R, kappa, a, zeta}');
    if (c.users !== undefined && !Array.isArray(c.users)) throw new ConfigError('users', 'must be an array of {D, v, rho}');
    const gs = (c.servers as Json[] | undefined) ?? [];
    const gu = (c.users as Json[] | undefined) ?? [];
    const M = param('--mecs', input.options.mecs ?? c.M ?? (gs.length || undefined) ?? DEFAULTS.M, intIn(1, 10_000), 'an integer in [1, 10000]');
    const N = param('--users', input.users ?? c.N ?? (gu.length || undefined) ?? DEFAULTS.N, intIn(1, 1_000_000), 'an integer in [1, 1000000]');
    const servers = Array.from({ length: M }, (_, j) => resolveServer(seed, j, gs[j]));
    if (!(servers.reduce((s, x) => s + x.R, 0) > 0)) throw new ConfigError('servers', 'the total capacity ΣR must be > 0');
    const users = Array.from({ length: N }, (_, i) => resolveUser(seed, i, M, gu[i]));
    const P = c.P === undefined ? DEFAULTS.P : param('P', c.P, nonNegative, 'a number ≥ 0');
    const l = c.l === undefined ? DEFAULTS.lFactor * P : param('l', c.l, nonNegative, 'a number ≥ 0');
    const c0 = c.c0 === undefined ? DEFAULTS.c0 : param('c0', c.c0, nonNegative, 'a number ≥ 0');
    const tau = c.tau === undefined ? DEFAULTS.tau : param('tau', c.tau, positive, 'a number > 0');
    const maxIterations = c.maxIterations === undefined ? DEFAULTS.maxIterations : param('maxIterations', c.maxIterations, intIn(1, 100_000), 'an integer in [1, 100000]');
    // --fee sets both fees (over the config's); they are resolved under either auction, since the reference runs both
    const fee = input.options.fee === undefined ? undefined : param('--fee', input.options.fee, nonNegative, 'a number ≥ 0');
    const phiA = fee ?? (c.phiA === undefined ? DEFAULTS.fee : param('phiA', c.phiA, nonNegative, 'a number ≥ 0'));
    const phiB = fee ?? (c.phiB === undefined ? DEFAULTS.fee : param('phiB', c.phiB, nonNegative, 'a number ≥ 0'));
    return { scenario: 'futures-spot', mechanism: auction, auction, seed, slots, M, N, P, l, c0, tau, maxIterations, phiA, phiB, servers, users };
  },

  agents: (cfg) => [
    { id: 'broker', role: 'broker', index: 0 },
    ...Array.from({ length: cfg.M }, (_, j): AgentSpec => ({ id: `mec-${j}`, role: 'mec', index: j })),
    ...Array.from({ length: cfg.N }, (_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i })),
  ],
  leaderId: () => 'broker',

  agentInit(cfg, a): JsonObject {
    const fees = feesOf(cfg, cfg.auction);
    if (a.role === 'broker') return { auction: cfg.auction, phiA: fees.phiA, phiB: fees.phiB, P: cfg.P, l: cfg.l, c0: cfg.c0, tau: cfg.tau, maxIterations: cfg.maxIterations } satisfies LeaderInit;
    if (a.role === 'mec') {
      const s = cfg.servers[a.index];
      return { R: s.R, kappa: s.kappa, a: s.a, P: cfg.P, l: cfg.l, c0: cfg.c0 } satisfies MecInit;
    }
    const u = cfg.users[a.index];
    return { seed: cfg.seed, auction: cfg.auction, P: cfg.P, phiB: fees.phiB, D: u.D, v: u.v, rho: u.rho, zeta: cfg.servers.map((s) => s.zeta) } satisfies UeInit;
  },

  createLeader: (init) => createBroker(init),
  createFollower(init, ctx) {
    if (ctx.role === 'mec') return createMec(init);
    if (ctx.role === 'ue') return createUe(init, ctx);
    throw new Error(`futures-spot has no follower role ${ctx.role}`);
  },

  createReference: (cfg) => createFuturesSpotReference(cfg),

  describeSlot(d, ref) {
    const e = d.equilibrium as IterationSummary;
    const f = (x: number | null) => (x === null ? '–' : Number(x.toFixed(4)));
    const line = `${e.auction}: r* ${f(e.rStar)} U_max ${f(e.Umax)} n_c ${e.ncStar} after ${e.iterations} iterations (reference r* ${f(ref.reference.rStar as number | null)} U_max ${f(ref.reference.Umax as number | null)})`;
    // the other auction, from the reference (summary.json: baselines.auctions), so both are on the console
    const other = (ref.baselines?.auctions as Record<Auction, IterationSummary> | undefined)?.[e.auction === 'complete' ? 'incomplete' : 'complete'];
    return other ? `${line}; ${other.auction} (reference): r* ${f(other.rStar)} U_max ${f(other.Umax)} n_c ${other.ncStar} after ${other.iterations}` : line;
  },
};
