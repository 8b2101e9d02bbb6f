/**
 * Configuration of `offload-energy`: one resolved shape per mechanism. Keys are the spec's symbols in ASCII
 * (nash: SI units; pricing: Gcycles, GHz, money per Gcycle as the spec says; mobility: m, s).
 * Precedence: CLI options > `input.config` > defaults / seed draws. Options that do not apply to the chosen
 * mechanism are ignored (the CLI may pass them for any mechanism).
 */
import { ConfigError, type JsonObject, type RunInput } from '../types.ts';
import { drawMobilityUser, MOBILITY_DEFAULTS, type MobilityUser, type MobilityWorld, type Predictor } from './mobility.ts';
import { drawNashUser, NASH_DEFAULTS, type Grant, type NashServer, type NashUser, type PowerMode } from './nash.ts';
import { drawPricingUser, PRICING_DEFAULTS, type PricingServer, type PricingUser, type PricingVariant } from './pricing.ts';
import { Bool, boolParam, configSchema, COUNT, Int, intAtLeast, isCount, ListOf, nonNegative, Num, objectParam, OneOf, oneOf, param, positive, seedParam, slotsParam, Strict, userCount } from '../common/schema.ts';
import type { TObject } from '@sinclair/typebox';

export const MECHANISMS = ['nash', 'pricing', 'mobility'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

interface Base extends JsonObject {
  scenario: 'offload-energy';
  seed: number;
  slots: number;
  /** compute the claims' in-process sweeps in the reference's `finish()` */
  claims: boolean;
}

export interface NashConfig extends Base {
  mechanism: 'nash';
  grant: Grant;
  power: PowerMode;
  epsilon: number;
  maxSlots: number;
  server: NashServer & JsonObject;
  users: (NashUser & JsonObject)[];
}

export interface PricingConfig extends Base {
  mechanism: 'pricing';
  pricing: PricingVariant;
  server: PricingServer & JsonObject;
  users: (PricingUser & JsonObject)[];
}

export interface MobilityConfig extends Base {
  mechanism: 'mobility';
  predictor: Predictor;
  world: MobilityWorld & JsonObject;
  users: (MobilityUser & JsonObject)[];
}

export type OffloadConfig = NashConfig | PricingConfig | MobilityConfig;

/** The config file's shape for each mechanism (types and keys; the ranges are checked by resolveConfig). */
const CONFIG_SCHEMAS: Record<Mechanism, TObject> = {
  nash: configSchema('offload-energy', MECHANISMS, {
    claims: Bool(),
    grant: OneOf(['one', 'all']),
    power: OneOf(['joint', 'fixed']),
    epsilon: Num('a number in [0, 1)'),
    maxSlots: Int('an integer ≥ 1'),
    server: Strict({
      C: Int('an integer ≥ 1 (channels)'),
      W: Num('a positive bandwidth in Hz'),
      omega: Num('a positive noise power in W'),
      kappa: Num('a positive energy coefficient'),
      F: Num('a positive capacity in Hz'),
      fmax: Num('a positive per-task share in Hz'),
      pmin: Num('a positive power in W'),
      pmax: Num('a positive power in W'),
      betaT: Num('a weight ≥ 0'),
      betaE: Num('a weight ≥ 0'),
    }),
    users: ListOf(Strict({ d: Num('a positive distance in m'), s: Num('a positive task size in bits'), c: Num('positive cycles per bit'), fl: Num('a positive local CPU frequency in Hz') }, ['d', 's', 'c', 'fl']), 'a list of users {d, s, c, fl}'),
  }),
  pricing: configSchema('offload-energy', MECHANISMS, {
    claims: Bool(),
    pricing: OneOf(['semi-distributed', 'decentralized']),
    server: Strict({ F: Num('a positive capacity in GHz'), kappa: Num('a cost per Gcycle ≥ 0'), Pmax: Num('a price'), grid: Int('an integer ≥ 3'), tol: Num('a number in (0, 1)') }),
    users: ListOf(Strict({ C: Num('a positive task in Gcycles'), e: Num('a benefit per Gcycle'), gamma: Num('a positive congestion coefficient') }, ['C', 'e', 'gamma']), 'a list of users {C, e, gamma}'),
  }),
  mobility: configSchema('offload-energy', MECHANISMS, {
    claims: Bool(),
    predictor: OneOf(['pa', 'kalman']),
    world: Strict({
      L: Num('a positive road length in m'),
      M: Int('an integer ≥ 1 (servers)'),
      R: Num('a positive coverage radius in m'),
      vmax: Num('a positive speed cap in m/s'),
      sigma: Num('a GPS noise ≥ 0 in m'),
      warmup: Num('a duration ≥ 0 in s'),
      duration: Num('a positive duration in s'),
      lambda: Num('a positive arrival rate per s'),
      tauMin: Num('a completion time ≥ 0 in s'),
      tauMax: Num('a positive completion time in s'),
      q: Num('a positive process noise'),
    }),
    users: ListOf(Strict({ x0: Num('a position in [0, L)'), dir: Int('1 or -1'), v0: Num('a speed ≥ 0 in m/s'), a: Num('an acceleration ≥ 0 in m/s²') }, ['x0', 'dir', 'v0', 'a']), 'a list of users {x0, dir, v0, a}'),
  }),
};

/** The config file's schema for `mechanism` (an unknown one gets nash's: the mechanism key itself is then refused). */
export function configSchemaOf(mechanism: string): TObject {
  return CONFIG_SCHEMAS[(MECHANISMS as readonly string[]).includes(mechanism) ? (mechanism as Mechanism) : 'nash'];
}

/** pick `key` from the CLI options (under `opt` name) or the config object */
function pick(o: RunInput['options'], optName: string | undefined, c: Record<string, unknown>, key: string): unknown {
  if (optName !== undefined && o[optName] !== undefined) return o[optName];
  return c[key];
}

const userObj = (u: unknown, i: number, keys: string): Record<string, unknown> => objectParam(`users[${i}]`, u, `{${keys}}`);

export function mechanismOf(input: RunInput): Mechanism {
  const c = input.config ?? {};
  return oneOf('--mechanism', input.mechanism ?? (c.mechanism as unknown), MECHANISMS) ?? 'nash';
}

export function resolveConfig(input: RunInput): OffloadConfig {
  const c: Record<string, unknown> = input.config ?? {};
  if (c.scenario !== undefined && c.scenario !== 'offload-energy') throw new ConfigError('scenario', `this config is for ${JSON.stringify(c.scenario)}, not offload-energy`);
  const mechanism = mechanismOf(input);
  const seed = seedParam(input.seed);
  const slots = slotsParam(input.slots);
  const o = input.options;
  const claims = boolParam('claims', pick(o, 'claims', c, 'claims'), true);
  const base = { scenario: 'offload-energy' as const, seed, slots, claims };
  return RESOLVE[mechanism](input, c, base);
}

/** each mechanism's own parameters, resolved on top of the common ones */
const RESOLVE: Record<Mechanism, (input: RunInput, c: Record<string, unknown>, base: Base) => OffloadConfig> = {
  nash: resolveNash,
  pricing: resolvePricing,
  mobility: resolveMobility,
};

function resolveNash(input: RunInput, c: Record<string, unknown>, base: Base): NashConfig {
  const o = input.options;
  const grant = oneOf<Grant>('grant', pick(o, 'grant', c, 'grant'), ['one', 'all']) ?? 'one';
  const power = oneOf<PowerMode>('power', pick(o, 'power', c, 'power'), ['joint', 'fixed']) ?? 'joint';
  const epsilon = param('epsilon', pick(o, 'epsilon', c, 'epsilon') ?? NASH_DEFAULTS.epsilon, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const maxSlots = param('maxSlots', pick(o, 'maxslots', c, 'maxSlots') ?? (grant === 'all' ? 500 : 5000), intAtLeast(1), 'an integer ≥ 1');
  const s = c.server === undefined ? {} : objectParam('server', c.server);
  const sv = (k: keyof NashServer, optName?: string) => pick(o, optName, s, k) ?? NASH_DEFAULTS[k];
  const server = {
    C: param('server.C', sv('C', 'channels'), intAtLeast(1), 'an integer ≥ 1 (channels)'),
    W: param('server.W', sv('W'), positive, 'a positive bandwidth in Hz'),
    omega: param('server.omega', sv('omega'), positive, 'a positive noise power in W'),
    kappa: param('server.kappa', sv('kappa'), positive, 'a positive energy coefficient (local energy must be > 0)'),
    F: param('server.F', sv('F'), positive, 'a positive capacity in Hz'),
    fmax: param('server.fmax', sv('fmax'), positive, 'a positive per-task share in Hz'),
    pmin: param('server.pmin', sv('pmin'), positive, 'a positive power in W'),
    pmax: param('server.pmax', sv('pmax'), positive, 'a positive power in W'),
    betaT: param('server.betaT', sv('betaT'), nonNegative, 'a weight ≥ 0'),
    betaE: param('server.betaE', sv('betaE'), nonNegative, 'a weight ≥ 0'),
  };
  if (server.pmin > server.pmax) throw new ConfigError('server.pmin', `must not exceed pmax = ${server.pmax}`);
  if (server.betaT + server.betaE <= 0) throw new ConfigError('server.betaT', 'betaT and betaE cannot both be 0');
  const { list, n } = userCount(input.users, c.users, NASH_DEFAULTS.users);
  const users = Array.from({ length: n }, (_, i) => {
    if (!list) return drawNashUser(base.seed, i) as NashUser & JsonObject;
    const u = userObj(list[i], i, 'd, s, c, fl');
    const k = (x: string) => `users[${i}].${x}`;
    return {
      d: param(k('d'), u.d, positive, 'a positive distance in m'),
      s: param(k('s'), u.s, positive, 'a positive task size in bits'),
      c: param(k('c'), u.c, positive, 'positive cycles per bit'),
      fl: param(k('fl'), u.fl, positive, 'a positive local CPU frequency in Hz'),
    };
  });
  return { ...base, mechanism: 'nash', grant, power, epsilon, maxSlots, server, users };
}

function resolvePricing(input: RunInput, c: Record<string, unknown>, base: Base): PricingConfig {
  const o = input.options;
  const pricing = oneOf<PricingVariant>('pricing', pick(o, 'pricing', c, 'pricing'), ['semi-distributed', 'decentralized']) ?? 'semi-distributed';
  const s = c.server === undefined ? {} : objectParam('server', c.server);
  const sv = (k: keyof PricingServer, optName?: string) => pick(o, optName, s, k) ?? PRICING_DEFAULTS[k];
  const server = {
    F: param('server.F', sv('F'), positive, 'a positive capacity in GHz'),
    kappa: param('server.kappa', sv('kappa'), nonNegative, 'a cost per Gcycle ≥ 0'),
    Pmax: param('server.Pmax', sv('Pmax', 'pricemax'), Number.isFinite, 'a price'),
    grid: param('server.grid', sv('grid'), intAtLeast(3), 'an integer ≥ 3'),
    tol: param('server.tol', sv('tol'), (v) => v > 0 && v < 1, 'in (0, 1)'),
  };
  if (!(server.Pmax > server.kappa)) throw new ConfigError('server.Pmax', `must exceed kappa = ${server.kappa}`);
  const { list, n } = userCount(input.users, c.users, PRICING_DEFAULTS.users);
  const users = Array.from({ length: n }, (_, i) => {
    if (!list) return drawPricingUser(base.seed, i) as PricingUser & JsonObject;
    const u = userObj(list[i], i, 'C, e, gamma');
    const k = (x: string) => `users[${i}].${x}`;
    return {
      C: param(k('C'), u.C, positive, 'a positive task in Gcycles'),
      e: param(k('e'), u.e, Number.isFinite, 'a benefit per Gcycle'),
      gamma: param(k('gamma'), u.gamma, positive, 'a positive congestion coefficient'),
    };
  });
  return { ...base, mechanism: 'pricing', pricing, server, users };
}

function resolveMobility(input: RunInput, c: Record<string, unknown>, base: Base): MobilityConfig {
  const o = input.options;
  const predictor = oneOf<Predictor>('predictor', pick(o, 'predictor', c, 'predictor'), ['pa', 'kalman']) ?? 'kalman';
  const s = c.world === undefined ? {} : objectParam('world', c.world);
  const wv = (k: keyof MobilityWorld, optName?: string) => pick(o, optName, s, k) ?? MOBILITY_DEFAULTS[k];
  const world = {
    L: param('world.L', wv('L'), positive, 'a positive road length in m'),
    M: param('world.M', wv('M', 'servers'), isCount, COUNT),
    R: param('world.R', wv('R'), positive, 'a positive coverage radius in m'),
    vmax: param('world.vmax', wv('vmax'), positive, 'a positive speed cap in m/s'),
    sigma: param('world.sigma', wv('sigma'), nonNegative, 'a GPS noise ≥ 0 in m'),
    warmup: param('world.warmup', wv('warmup'), nonNegative, 'a duration ≥ 0 in s'),
    duration: param('world.duration', wv('duration'), positive, 'a positive duration in s'),
    lambda: param('world.lambda', wv('lambda'), positive, 'a positive arrival rate per s'),
    tauMin: param('world.tauMin', wv('tauMin'), nonNegative, 'a completion time ≥ 0 in s'),
    tauMax: param('world.tauMax', wv('tauMax'), positive, 'a positive completion time in s'),
    q: param('world.q', wv('q'), positive, 'a positive process noise'),
  };
  if (world.tauMin > world.tauMax) throw new ConfigError('world.tauMin', `must not exceed tauMax = ${world.tauMax}`);
  if (world.warmup + world.duration + world.tauMax > 86400) throw new ConfigError('world.duration', 'a slot is limited to one day of ticks');
  const { list, n } = userCount(input.users, c.users, MOBILITY_DEFAULTS.users);
  const users = Array.from({ length: n }, (_, i) => {
    if (!list) return drawMobilityUser(base.seed, i, world.L) as MobilityUser & JsonObject;
    const u = userObj(list[i], i, 'x0, dir, v0, a');
    const k = (x: string) => `users[${i}].${x}`;
    const v0 = param(k('v0'), u.v0, nonNegative, 'a speed ≥ 0 in m/s');
    if (v0 > world.vmax) throw new ConfigError(k('v0'), `must not exceed the speed cap vmax = ${world.vmax}`);
    return {
      x0: param(k('x0'), u.x0, (v) => v >= 0 && v < world.L, `a position in [0, L = ${world.L})`),
      dir: param(k('dir'), u.dir, (v) => v === 1 || v === -1, '1 or -1'),
      v0,
      a: param(k('a'), u.a, nonNegative, 'an acceleration ≥ 0 in m/s²'),
    };
  });
  return { ...base, mechanism: 'mobility', predictor, world, users };
}

/** users 0..n−1: the configured ones first, then fresh draws from the seed by index */
export function withUsers(cfg: OffloadConfig, n: number): OffloadConfig {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError('--sweep', `N must be an integer ≥ 1, not ${n}`);
  const keep = <T>(xs: T[], draw: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => (i < xs.length ? xs[i] : draw(i)));
  const draw = DRAW_USER[cfg.mechanism] as (cfg: OffloadConfig, i: number) => OffloadConfig['users'][number];
  return { ...cfg, users: keep<OffloadConfig['users'][number]>(cfg.users, (i) => draw(cfg, i)) } as OffloadConfig;
}

/** user i of a mechanism's population, drawn from the seed */
const DRAW_USER: { [M in Mechanism]: (cfg: Extract<OffloadConfig, { mechanism: M }>, i: number) => JsonObject } = {
  nash: (cfg, i) => drawNashUser(cfg.seed, i) as NashUser & JsonObject,
  pricing: (cfg, i) => drawPricingUser(cfg.seed, i) as PricingUser & JsonObject,
  mobility: (cfg, i) => drawMobilityUser(cfg.seed, i, cfg.world.L) as MobilityUser & JsonObject,
};
