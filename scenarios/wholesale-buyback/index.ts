/**
 * Scenario `wholesale-buyback` — edge–cloud resource sharing by wholesale and buyback between N1
 * MEC servers (`mec-e`) and a cloud (`cloud`, leader). Model: docs/scenarios/wholesale-buyback.md.
 *
 * Read top to bottom: model.ts (MEC best response, M/M/n delay, the cloud's local problem),
 * protocol.ts (the cloud's slot as message rounds: price search, commit, interval phase),
 * intervals.ts (arrivals, FCFS backlogs, buyback requests and grants), reference.ts (the joint
 * optimum by scan + golden section, the four schemes side by side, the claims), and below:
 * configuration, roles, and the reference side.
 */
import { stream } from '../common/rng.ts';
import { type CompleteScenario, ConfigError, type AgentSpec, type Json, type JsonObject, type ReferenceSlot, type RunInput, type Scenario, type SlotOutcome } from '../types.ts';
import { BUYBACK_DRAINS, intervalStep, missesFor, newIntervalState, type BuybackDrain, type MecIntervalState, type MissTail } from './intervals.ts';
import { mecBestResponse, minCapacityForDelay, type CloudParams, type MecParams, type Tariffs } from './model.ts';
import { cloudSlot, MECHANISMS, mecFinal, type LeaderParams, type Mechanism, type Mode } from './protocol.ts';
import { allSchemes, evaluateClaims, typedClaims, referenceOptimum, referenceProfitAt, schemeOutcome, type LoadPoint, type Market } from './reference.ts';
import { configSchema, COUNT, Int, intAtLeast, isCount, ListOf, nonNegative, Num, objectParam, OneOf, oneOf, param, positive, seedParam, slotsParam, Strict } from '../common/schema.ts';
import { PAPER } from './paper.ts';
import { bench } from './bench.ts';
import { figures, units } from './figures.ts';

export type Load = 'low' | 'middle' | 'high';
export const LOADS: Load[] = ['low', 'middle', 'high'];

/** Table I of the seed: how many of 40 MEC servers have each arrival rate. */
export const TABLE_I_LAMBDAS = [6, 7, 8, 9, 10, 11, 12];
export const TABLE_I: Record<Load, number[]> = {
  low: [20, 10, 5, 2, 1, 1, 1],
  middle: [4, 5, 6, 8, 6, 5, 6],
  high: [1, 1, 2, 2, 4, 10, 20],
};

export interface WholesaleConfig extends JsonObject {
  scenario: 'wholesale-buyback';
  mechanism: Mechanism;
  seed: number;
  slots: number;
  /** `low` | `middle` | `high` (Table I), or `custom` when `mecs` lists the rates */
  load: string;
  R: number;
  taskGbit: number;
  K: number;
  dt: number;
  c1: number;
  c2: number;
  c3: number;
  c4: number;
  a1: number;
  w: number;
  a2const: number;
  /** relative tolerance of the optimal-pricing price search */
  tol: number;
  /** intervals per `interval` tick (1 = one message round per interval) */
  batch: number;
  /** what bought-back capacity does to a MEC's own queue (intervals.ts BuybackDrain) */
  drain: BuybackDrain;
  cloud: CloudParams & JsonObject;
  mecs: (MecParams & JsonObject)[];
}

/** Tolerances of the spec: a2 within 1e-4 relative, profit within 1e-6 relative at that a2. */
export const A2_TOLERANCE = 1e-4;
export const PROFIT_TOLERANCE = 1e-6;
/** the reference replays the baselines' interval phases up to this many server-intervals N1·K (their cost) */
export const BASELINE_INTERVALS_MAX = 120_000;
/** "buyback is small beside wholesale": Σ b_e ≤ this fraction of Σ C^C_e (our reading of claim 5) */
export const SMALL_BUYBACK_RATIO = 0.1;

const DEFAULTS = { R: 0.2, taskGbit: 1e-4, K: 60, dt: 1, c1: 0.2736, c2: 0.2736, c3: 0.02487, c4: 0.002487, a1: 0.2764, w: 10000, a2const: 0.2487, tol: 1e-10, batch: 1, drain: 'none' as BuybackDrain };
const CLOUD_DEFAULTS: CloudParams = { n: 10, Cbar: 200, lambda: 500, Dbar: 4 };
const MEC_DEFAULTS = { C: 3.2, D: 2 };

const posInt = intAtLeast(1);

/**
 * The arrival rates of a Table I load state for N1 servers: the counts scaled to N1 (largest
 * remainder), then shuffled by the seed's stream (seed, 'mecs', 'load', state) so which server gets
 * which rate depends only on the seed.
 */
export function loadLambdas(load: Load, n1: number, seed: number): number[] {
  const counts = TABLE_I[load];
  const total = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((c) => (c * n1) / total);
  const got = exact.map(Math.floor);
  let left = n1 - got.reduce((a, b) => a + b, 0);
  const order = exact.map((e, j) => ({ j, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.j - b.j);
  for (let i = 0; left > 0; i++, left--) got[order[i % order.length].j]++;
  const list: number[] = [];
  got.forEach((c, j) => {
    for (let i = 0; i < c; i++) list.push(TABLE_I_LAMBDAS[j]);
  });
  const rng = stream(seed, 'mecs', 'load', load);
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

/** The config file's shape (types and keys; the ranges are checked by resolve). */
const CONFIG_SCHEMA = configSchema('wholesale-buyback', MECHANISMS, {
  load: OneOf([...LOADS, 'custom']),
  R: Num('a positive mean workload in Gcycles'),
  taskGbit: Num('a data size per task in Gbit, ≥ 0'),
  K: Int('an integer ≥ 1 (intervals per slot)'),
  dt: Num('a positive interval length in s'),
  c1: Num('a number ≥ 0'),
  c2: Num('a number ≥ 0'),
  c3: Num('a number ≥ 0'),
  c4: Num('a number ≥ 0'),
  a1: Num('a service fee ≥ 0'),
  w: Num('a QoS weight ≥ 0'),
  a2const: Num('a price ≥ 0'),
  tol: Num('a relative tolerance in (0, 1e-3)'),
  batch: Int('an integer ≥ 1'),
  drain: OneOf(BUYBACK_DRAINS),
  cloud: Strict({ n: Int('an integer number of servers ≥ 1'), Cbar: Num('a positive capacity in GHz'), lambda: Num('a positive arrival rate in tasks/s'), Dbar: Num('a positive delay bound in s') }),
  mecs: ListOf(Strict({ C: Num('a positive capacity in GHz'), lambda: Num('a positive arrival rate in tasks/s'), D: Num('a positive deadline in s') }, ['lambda']), 'a list of MEC servers {C, lambda, D}'),
});

function resolveMec(u: unknown, i: number, R: number): WholesaleConfig['mecs'][number] {
  const o = objectParam(`mecs[${i}]`, u, '{C, lambda, D}');
  const C = param(`mecs[${i}].C`, o.C ?? MEC_DEFAULTS.C, positive, 'a positive capacity in GHz');
  const lambda = param(`mecs[${i}].lambda`, o.lambda, positive, 'a positive arrival rate in tasks/s');
  const D = param(`mecs[${i}].D`, o.D ?? MEC_DEFAULTS.D, positive, 'a positive deadline in s');
  if (!(lambda * R < C)) throw new ConfigError(`mecs[${i}].lambda`, `load λR = ${lambda * R} GHz must be below the capacity C = ${C} GHz`);
  return { C, lambda, D };
}

function tariffsOf(cfg: WholesaleConfig): Tariffs {
  return { R: cfg.R, taskGbit: cfg.taskGbit, c1: cfg.c1, c2: cfg.c2, c3: cfg.c3, c4: cfg.c4, a1: cfg.a1, w: cfg.w };
}

export function marketOf(cfg: WholesaleConfig): Market {
  return { mecs: cfg.mecs, cloud: cfg.cloud, tariffs: tariffsOf(cfg) };
}

/**
 * What a slot was compared with (ReferenceSlot.compare's `against` and `optimum`): optimal-pricing
 * against the reference optimum; the other mechanisms against the same scheme computed centrally,
 * with the reference optimum beside it — the price for constant-price, the cloud's profit for
 * no-sharing (social-welfare is the one-owner optimum of its own problem).
 */
function against(cfg: WholesaleConfig, eq: JsonObject, ref: { a2: number; profitCloud: number }): { against: string; optimum?: { label: string; value: number; gapPct: number } } {
  const gapPct = (x: number, opt: number) => (100 * Math.abs(x - opt)) / Math.max(1e-300, Math.abs(opt));
  switch (cfg.mechanism) {
    case 'optimal-pricing':
      return { against: 'the reference optimum' };
    case 'social-welfare':
      return { against: 'the social-welfare (one owner) optimum computed centrally' };
    case 'constant-price':
      return { against: `the constant-price rule (a2 = ${cfg.a2const}) computed centrally`, optimum: { label: 'price a2', value: ref.a2, gapPct: gapPct(cfg.a2const, ref.a2) } };
    case 'no-sharing':
      return { against: 'the no-sharing rule computed centrally', optimum: { label: "cloud profit ($/h)", value: ref.profitCloud, gapPct: gapPct(Number(eq.profitCloud), ref.profitCloud) } };
  }
}

export const wholesaleBuyback: CompleteScenario<WholesaleConfig> = {
  id: 'wholesale-buyback',
  title: 'edge–cloud wholesale pricing and per-interval buyback between MEC servers and a cloud',
  spec: 'docs/scenarios/wholesale-buyback.md',
  paper: PAPER,
  bench,
  figures,
  units,
  roles: ['cloud', 'mec'],
  mechanisms: [
    { id: 'optimal-pricing', summary: "the paper's Algorithm 2: price rounds with Brent's method on the marginal-cost balance p_e(a2) = p_c(C_c)" },
    { id: 'social-welfare', summary: 'one owner (Algorithm 1): every MEC pools its capacity; the owner picks C_c' },
    { id: 'no-sharing', summary: 'no wholesale; MECs buy back from the cloud when needed' },
    { id: 'constant-price', summary: 'wholesale at the fixed price a2const' },
  ],
  defaultMechanism: 'optimal-pricing',
  defaultUsers: 40,
  options: [
    { name: 'mecs', arg: '<n>', description: 'number of MEC servers N1 (the followers; --users is not used)', default: 40 },
    { name: 'load', arg: '<low|middle|high>', description: 'load state of Table I (arrival rates of the MEC servers)', default: 'middle' },
    { name: 'intervals', arg: '<K>', description: 'intervals per slot', default: 60 },
    { name: 'dt', arg: '<s>', description: 'interval length in seconds', default: 1 },
    { name: 'batch', arg: '<B>', description: 'intervals per interval-phase tick (requests and grants of B intervals per message)', default: 1 },
    { name: 'drain', arg: '<none|excess>', description: "what bought-back capacity does to a MEC's queue: none (the M/M/1 workload on the reserve, the model of b_e) or excess (the requested excess leaves the queue)", default: 'none' },
  ],

  configSchema: () => CONFIG_SCHEMA,

  resolve(input: RunInput): WholesaleConfig {
    const c = (input.config ?? {}) as Record<string, unknown>;
    const o = input.options;
    const mechanism: Mechanism = oneOf('--mechanism', input.mechanism ?? c.mechanism, MECHANISMS) ?? 'optimal-pricing';
    const seed = seedParam(input.seed);
    const slots = slotsParam(input.slots);
    const pick = (k: keyof typeof DEFAULTS, opt?: string) => (opt !== undefined && o[opt] !== undefined ? o[opt] : c[k] !== undefined ? c[k] : DEFAULTS[k]);
    const R = param('R', pick('R'), positive, 'a positive mean workload in Gcycles');
    const taskGbit = param('taskGbit', pick('taskGbit'), nonNegative, 'a data size per task in Gbit, ≥ 0');
    const K = param(o.intervals !== undefined ? '--intervals' : 'K', pick('K', 'intervals'), posInt, 'an integer ≥ 1');
    const dt = param(o.dt !== undefined ? '--dt' : 'dt', pick('dt', 'dt'), positive, 'a positive interval length in s');
    const c1 = param('c1', pick('c1'), nonNegative, '≥ 0');
    const c2 = param('c2', pick('c2'), nonNegative, '≥ 0');
    if (c1 + c2 <= 0) throw new ConfigError('c1', 'c1 + c2 must be positive (buyback must cost something)');
    const c3 = param('c3', pick('c3'), nonNegative, '≥ 0');
    const c4 = param('c4', pick('c4'), nonNegative, '≥ 0');
    const a1 = param('a1', pick('a1'), nonNegative, 'a service fee ≥ 0');
    const w = param('w', pick('w'), nonNegative, 'a QoS weight ≥ 0');
    const a2const = param('a2const', pick('a2const'), nonNegative, 'a price ≥ 0');
    const tol = param('tol', pick('tol'), (x) => x > 0 && x < 1e-3, 'a relative tolerance in (0, 1e-3)');
    const batch = param(o.batch !== undefined ? '--batch' : 'batch', pick('batch', 'batch'), posInt, 'an integer ≥ 1');
    const drain = oneOf<BuybackDrain>(o.drain !== undefined ? '--drain' : 'drain', pick('drain', 'drain'), BUYBACK_DRAINS) ?? DEFAULTS.drain;
    const co = c.cloud === undefined ? {} : objectParam('cloud', c.cloud, '{n, Cbar, lambda, Dbar}');
    const cloud = {
      n: param('cloud.n', co.n ?? CLOUD_DEFAULTS.n, posInt, 'an integer number of servers ≥ 1'),
      Cbar: param('cloud.Cbar', co.Cbar ?? CLOUD_DEFAULTS.Cbar, positive, 'a positive capacity in GHz'),
      lambda: param('cloud.lambda', co.lambda ?? CLOUD_DEFAULTS.lambda, positive, 'a positive arrival rate in tasks/s'),
      Dbar: param('cloud.Dbar', co.Dbar ?? CLOUD_DEFAULTS.Dbar, positive, 'a positive delay bound in s'),
    };
    // MEC servers: listed in the config, or Table I's load state for N1 servers
    const optLoad = o.load === undefined ? undefined : String(o.load);
    let load: string;
    let mecs: WholesaleConfig['mecs'];
    if (c.mecs !== undefined) {
      if (!Array.isArray(c.mecs) || c.mecs.length === 0) throw new ConfigError('mecs', 'must be a non-empty list of MEC servers {C, lambda, D}');
      if (o.mecs !== undefined && Number(o.mecs) !== c.mecs.length) throw new ConfigError('--mecs', `${o.mecs} conflicts with the ${c.mecs.length} MEC servers listed in --config`);
      load = c.load === undefined ? 'custom' : String(c.load);
      if (optLoad !== undefined && optLoad !== load) throw new ConfigError('--load', `${optLoad} conflicts with the MEC servers listed in --config (load ${load})`);
      mecs = c.mecs.map((m, i) => resolveMec(m, i, R));
    } else {
      load = oneOf(optLoad !== undefined ? '--load' : 'load', optLoad ?? (c.load === undefined ? 'middle' : String(c.load)), LOADS)!;
      const n1 = param('--mecs', o.mecs ?? 40, isCount, COUNT);
      mecs = loadLambdas(load as Load, n1, seed).map((lambda, i) => resolveMec({ C: MEC_DEFAULTS.C, lambda, D: MEC_DEFAULTS.D }, i, R));
    }
    if (input.users !== undefined && input.users !== mecs.length) throw new ConfigError('--users', `this scenario has no user agents; its followers are the ${mecs.length} MEC servers (use --mecs)`);
    const cfg: WholesaleConfig = { scenario: 'wholesale-buyback', mechanism, seed, slots, load, R, taskGbit, K, dt, c1, c2, c3, c4, a1, w, a2const, tol, batch, drain, cloud, mecs };
    // even with every MEC's spare capacity pooled and C_c = C̄_c, the cloud must meet its delay bound
    let spare = 0;
    for (const m of mecs) spare += m.C - m.lambda * R;
    const Amin = minCapacityForDelay(cloud, R);
    if (cloud.Cbar + spare < Amin) throw new ConfigError('cloud.Cbar', `C̄_c + Σ(C_e − λ_e R) = ${cloud.Cbar + spare} GHz cannot meet the delay bound D̄_c = ${cloud.Dbar} s (needs ${Amin} GHz)`);
    return cfg;
  },

  agents: (cfg) => [{ id: 'cloud', role: 'cloud', index: 0 }, ...cfg.mecs.map((_, i): AgentSpec => ({ id: `mec-${i}`, role: 'mec', index: i }))],
  leaderId: () => 'cloud',
  agentInit(cfg, a): JsonObject {
    if (a.role === 'cloud') return { mechanism: cfg.mechanism, K: cfg.K, dt: cfg.dt, tol: cfg.tol, a2const: cfg.a2const, batch: cfg.batch, tariffs: { ...tariffsOf(cfg) }, cloud: cfg.cloud };
    return { seed: cfg.seed, index: a.index, K: cfg.K, dt: cfg.dt, drain: cfg.drain, tariffs: { ...tariffsOf(cfg) }, mec: cfg.mecs[a.index] };
  },

  createLeader(init) {
    const p = init as unknown as LeaderParams;
    return { runSlot: (ctx) => cloudSlot(ctx, p) };
  },

  createFollower(init) {
    const seed = Number(init.seed);
    const index = Number(init.index);
    const dt = Number(init.dt);
    const t = init.tariffs as unknown as Tariffs;
    const m = init.mec as unknown as MecParams;
    const K = Number(init.K);
    const drain = (init.drain ?? 'none') as BuybackDrain;
    let st: MecIntervalState | undefined;
    let stSlot = -1;
    // the requests of the last tick, by interval, for counting misses when a grant falls short
    let pending = new Map<number, { tail: MissTail; r: number }>();
    const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
    return {
      handle(kind, body, meta) {
        if (kind === 'price') {
          if (!finite(body.a2) || body.a2 < 0) return undefined;
          const r = mecBestResponse(m, t, body.a2);
          const reply = { CC: r.CC, b: r.b, dCC: r.dCC, db: r.db };
          return Object.values(reply).every(finite) ? reply : undefined; // an absurd a2 overflows: no answer
        }
        if (kind === 'final') {
          const mode = body.mode as Mode;
          if (mode !== 'price' && mode !== 'none' && mode !== 'pool') return undefined;
          const a2 = mode === 'price' ? body.a2 : 0;
          if (!finite(a2) || a2 < 0) return undefined;
          const f = mecFinal(m, t, mode, a2);
          if (!(finite(f.CI) && f.CI > 0)) return undefined; // an absurd a2 leaves no usable reserve: no answer, no interval state
          st = newIntervalState(seed, index, meta.slot, f.CI, m, t.R, drain);
          stSlot = meta.slot;
          pending = new Map();
          const reply: JsonObject = { CC: f.CC, b: f.b, u: f.u, income: f.income };
          if (f.s !== undefined) reply.s = f.s;
          return Object.values(reply).every(finite) ? reply : undefined; // an absurd a2 overflows: no answer
        }
        if (kind === 'interval') {
          const n = body.n === undefined ? 1 : body.n;
          if (!st || stSlot !== meta.slot || body.k !== st.k || !Number.isInteger(n) || (n as number) < 1 || st.k + (n as number) > K) return undefined;
          pending = new Map();
          const ks: number[] = [];
          const bs: number[] = [];
          for (let j = 0; j < (n as number); j++) {
            const k = st.k;
            const r = intervalStep(st, m, t.R, dt);
            if (r > 0) {
              pending.set(k, { tail: st.lastTail, r });
              ks.push(k);
              bs.push(r);
            }
          }
          return ks.length && bs.every(finite) ? { k: ks, b: bs } : undefined;
        }
        if (kind === 'grant') {
          const ks = body.k;
          const gs = body.g;
          if (!st || stSlot !== meta.slot || !Array.isArray(ks) || !Array.isArray(gs) || ks.length !== gs.length) return undefined;
          let miss = 0;
          ks.forEach((k, j) => {
            const p = typeof k === 'number' ? pending.get(k) : undefined;
            const g = gs[j];
            if (!p || !finite(g)) return;
            miss += missesFor(st!, p.tail, m.D, p.r, g);
            pending.delete(k as number);
          });
          return miss > 0 ? { miss } : undefined;
        }
        return undefined;
      },
    };
  },

  createReference(cfg) {
    const mk = marketOf(cfg);
    const ref = referenceOptimum(mk);
    const rounds: number[] = [];
    let last: Record<Mechanism, JsonObject> | undefined;
    return {
      slot(slot, distributed: SlotOutcome): ReferenceSlot {
        const o = { seed: cfg.seed, slot, K: cfg.K, dt: cfg.dt, a2const: cfg.a2const, batch: cfg.batch, drain: cfg.drain };
        // the baselines' interval phases are replayed centrally up to BASELINE_INTERVALS_MAX server-intervals
        const withIntervals = cfg.mecs.length * cfg.K <= BASELINE_INTERVALS_MAX;
        const schemes = allSchemes(mk, ref, o, withIntervals);
        const eq = distributed.equilibrium;
        const notes: string[] = [];
        let gap = 0;
        let ok = true;
        if (cfg.mechanism === 'optimal-pricing') {
          rounds.push(Number(eq.rounds));
          const a2 = Number(eq.a2);
          const a2Gap = Math.abs(a2 - ref.a2) / ref.a2;
          const at = referenceProfitAt(mk, a2);
          const profitGap = Math.abs(Number(eq.profitCloud) - at.profit) / Math.max(1e-12, Math.abs(at.profit));
          gap = Math.max(a2Gap, profitGap);
          ok = a2Gap <= A2_TOLERANCE && profitGap <= PROFIT_TOLERANCE;
          if (a2Gap > A2_TOLERANCE) notes.push(`a2 ${a2} vs reference ${ref.a2} (gap ${a2Gap.toExponential(2)})`);
          if (profitGap > PROFIT_TOLERANCE) notes.push(`cloud profit ${eq.profitCloud} vs ${at.profit} at that a2`);
          if (ref.localMaxima !== 1) notes.push(`the cloud's profit has ${ref.localMaxima} local maxima on the scan grid`);
        } else {
          // the other mechanisms have no search: the distributed outcome must equal the scheme's centralized one
          const own = schemes[cfg.mechanism];
          for (const k of ['Cc', 'profitCloud', 'profitMecs', 'total']) {
            const g = Math.abs(Number(eq[k]) - Number(own[k])) / Math.max(1e-12, Math.abs(Number(own[k])));
            gap = Math.max(gap, g);
            if (g > 1e-9) notes.push(`${k} ${eq[k]} vs ${own[k]}`);
          }
          ok = gap <= 1e-9;
        }
        // the interval phase must be exactly the central replay at the distributed decision
        const replay = (
          withIntervals && cfg.mechanism !== 'optimal-pricing'
            ? schemes[cfg.mechanism].intervals
            : schemeOutcome(mk, cfg.mechanism, cfg.mechanism === 'optimal-pricing' ? Number(eq.a2) : cfg.mechanism === 'constant-price' ? cfg.a2const : null, o).intervals
        ) as Record<string, number>;
        const got = eq.intervals as Record<string, number> | undefined;
        for (const k of ['requests', 'grants', 'requestMessages', 'grantMessages', 'partialGrants', 'misses']) {
          if (!got || got[k] !== replay[k]) {
            ok = false;
            notes.push(`interval phase: ${k} ${got?.[k]} vs replay ${replay[k]}`);
          }
        }
        for (const k of ['buybackRealized', 'costRealized']) {
          if (!got || Math.abs(got[k] - replay[k]) > 1e-9 * Math.max(1e-12, Math.abs(replay[k]))) {
            ok = false;
            notes.push(`interval phase: ${k} ${got?.[k]} vs replay ${replay[k]}`);
          }
        }
        // side by side: the selected scheme as run, the others as computed
        last = { ...schemes, [cfg.mechanism]: eq };
        const reference: JsonObject = { a2: ref.a2, Cc: ref.Cc, X: ref.X, profitCloud: ref.profitCloud, localMaxima: ref.localMaxima };
        const baselines: JsonObject = { schemes: schemes as unknown as JsonObject };
        if (!withIntervals) baselines.note = `interval phases of the baselines not replayed above N1·K = ${BASELINE_INTERVALS_MAX} server-intervals`;
        return { reference, baselines, compare: { ok, gap, note: notes.length ? notes.join('; ') : undefined, ...against(cfg, eq, ref) } };
      },
      finish(): JsonObject {
        if (!last) return {};
        const loads: LoadPoint[] = LOADS.map((l) => {
          const lm = { ...mk, mecs: loadLambdas(l, cfg.mecs.length, cfg.seed).map((lambda, i) => ({ C: cfg.mecs[i].C, lambda, D: cfg.mecs[i].D })) };
          // Table I's rates on the configured capacities: a server with λR ≥ C has no steady state
          const unstable = lm.mecs.flatMap((m, i) => (m.lambda * mk.tariffs.R >= m.C ? [`mec-${i}: λR = ${+(m.lambda * mk.tariffs.R).toPrecision(6)} ≥ C = ${m.C} GHz`] : []));
          if (unstable.length) return { load: l, a2: null, Cc: null, CC9: null, b9: null, unstable };
          const r = referenceOptimum(lm);
          const nine = mecBestResponse({ C: cfg.mecs[0].C, lambda: 9, D: cfg.mecs[0].D }, mk.tariffs, r.a2);
          return { load: l, a2: r.a2, Cc: r.Cc, CC9: nine.CC, b9: nine.b };
        });
        const claims = evaluateClaims({ rounds, schemes: last, lambdas: cfg.mecs.map((m) => m.lambda), loads, smallRatio: SMALL_BUYBACK_RATIO });
        const seedPrices = { low: 0.054, middle: 0.068, high: 0.079 };
        return {
          claims: typedClaims(claims) as unknown as Json,
          claimDetails: claims as unknown as Json,
          claimsHold: claims.every((c) => c.holds !== false),
          priceCalibration: {
            a2: Object.fromEntries(loads.map((p) => [p.load, p.a2])),
            seedReports: seedPrices,
            specRange: [0.03, 0.07],
            inSpecRange: loads.every((p) => p.a2 !== null) ? loads.every((p) => p.a2! >= 0.03 && p.a2! <= 0.07) : null,
          },
        };
      },
    };
  },

  describeSlot(d, r) {
    const e = d.equilibrium as Record<string, Json>;
    const ref = r.reference as Record<string, number>;
    const iv = (e.intervals ?? {}) as Record<string, number>;
    const price = typeof e.a2 === 'number' ? `a2 ${e.a2.toPrecision(7)} (reference ${ref.a2.toPrecision(7)}) in ${e.rounds} rounds  ` : '';
    const inc = (e.constantIncome ?? {}) as Record<string, number>;
    const ratio = typeof iv.buybackRatio === 'number' ? iv.buybackRatio.toFixed(3) : '–';
    return `${price}C_c ${(e.Cc as number).toFixed(3)} GHz  cloud ${(e.profitCloud as number).toFixed(3)} $/h  MECs (S − B) ${(e.profitMecs as number).toFixed(4)} $/h [constant MEC service income ${(inc.mecs ?? 0).toFixed(3)} $/h apart]  total ${(e.total as number).toFixed(3)} $/h  buybacks ${iv.requests ?? 0} over ${iv.intervals ?? '?'} intervals (realized/expected ${ratio}: ${(iv.buybackRealized ?? 0).toPrecision(3)} vs ${(iv.buybackExpected ?? 0).toPrecision(3)} GHz per interval, misses ${iv.misses ?? 0})`;
  },
};
