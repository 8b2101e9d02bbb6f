/**
 * `my-scenario` — a posted-price market for an edge server's capacity, written against mecsim's
 * public contract (`import … from 'mecsim'`). Replace the model with yours; keep the shape.
 *
 * Each user i wants d_i(p) = (a_i − p)⁺ units at price p (a_i drawn from the seed). The server
 * (the leader) searches the price at which total demand equals its capacity C by bisection, one
 * message round per trial price: it posts p, every user answers its demand, the server halves the
 * interval. The reference solves Σ d_i(p) = C centrally; the run equals it when the prices agree.
 */
import { configSchema, ConfigError, Count, COUNT, isCount, ListOf, Num, param, stream, type AgentSpec, type CompleteScenario, type JsonObject } from 'mecsim';

const ID = 'my-scenario';

export interface Config extends JsonObject {
  scenario: string;
  mechanism: 'bisection';
  seed: number;
  slots: number;
  users: number;
  capacity: number;
  /** a_i: the price above which user i buys nothing (drawn from the seed unless given) */
  values: number[];
}

/** A user's demand at price p. */
export const demand = (a: number, p: number) => Math.max(0, a - p);

/** Relative width at which the server stops searching: both sides then agree to about this. */
const WIDTH = 1e-12;

const CONFIG_SCHEMA = configSchema(ID, ['bisection'], {
  users: Count('the number of users'),
  capacity: Num('a positive number of units'),
  values: ListOf(Num('a positive number'), 'one value a_i per user'),
});

export const scenario: CompleteScenario<Config> = {
  id: ID,
  title: 'posted price: the server finds the market-clearing price by bisection over message rounds',
  roles: ['mec', 'ue'],
  mechanisms: [{ id: 'bisection', summary: 'post a price, gather demands, halve the interval' }],
  defaultMechanism: 'bisection',
  options: [{ name: 'capacity', arg: '<c>', description: 'server capacity in units (default: N)' }],
  defaultUsers: 5,

  configSchema: () => CONFIG_SCHEMA,

  resolve(input) {
    const c = input.config ?? {};
    const given = Array.isArray(c.values) ? (c.values as number[]) : undefined;
    const users = input.users ?? given?.length ?? (typeof c.users === 'number' ? c.users : 5);
    if (!isCount(users)) throw new ConfigError('--users', `must be ${COUNT}, not ${users}`);
    if (given && given.length !== users) throw new ConfigError('values', `has ${given.length} entries for ${users} users`);
    given?.forEach((a, i) => param(`values[${i}]`, a, (v) => v > 0, 'a positive number'));
    return {
      scenario: ID,
      mechanism: 'bisection',
      seed: input.seed,
      slots: input.slots,
      users,
      capacity: param('capacity', input.options.capacity ?? c.capacity ?? users, (v) => v > 0, 'a positive number of units'),
      // every draw from a stream named by (seed, role, index, purpose): never Math.random
      values: given ?? Array.from({ length: users }, (_, i) => stream(input.seed, 'ue', i, 'value').uniform(2, 10)),
    };
  },

  agents: (cfg) => [{ id: 'mec-0', role: 'mec', index: 0 }, ...Array.from({ length: cfg.users }, (_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))],
  leaderId: () => 'mec-0',
  agentInit: (cfg, a): JsonObject => (a.role === 'mec' ? { capacity: cfg.capacity } : { a: cfg.values[a.index] }),

  createLeader(init) {
    const capacity = Number(init.capacity);
    return {
      async runSlot(ctx) {
        // the upper end: the highest price anyone would pay (asked once)
        const top = await ctx.round<{ a: number }>({ kind: 'value' });
        let lo = 0;
        let hi = Math.max(0, ...top.replies.map((r) => r?.a ?? 0));
        let rounds = 0;
        while (hi - lo > WIDTH * hi) {
          const p = (lo + hi) / 2;
          const res = await ctx.round<{ d: number }>({ kind: 'price', body: { p } });
          // replies arrive in roster order, whatever order the messages came in
          const total = res.replies.reduce((s, r) => s + (r?.d ?? 0), 0);
          ctx.record({ round: ++rounds, price: p, demand: total });
          if (total > capacity) lo = p;
          else hi = p;
        }
        const price = (lo + hi) / 2;
        return { equilibrium: { price }, converged: true, extra: { rounds } };
      },
    };
  },

  createFollower(init) {
    const a = Number(init.a);
    return {
      handle(kind, body): JsonObject | undefined {
        if (kind === 'value') return { a };
        if (kind === 'price' && typeof body.p === 'number') return { d: demand(a, body.p) };
        return undefined; // a message it does not know: no reply (the leader sees undefined)
      },
    };
  },

  createReference(cfg) {
    return {
      slot(_slot, distributed) {
        // Σ demand falls in p: bisection to the last bit, independent of the protocol's rounds
        const excess = (p: number) => cfg.values.reduce((s, a) => s + demand(a, p), 0) - cfg.capacity;
        let [lo, hi] = [0, Math.max(0, ...cfg.values)];
        for (let i = 0; i < 200 && hi - lo > 0; i++) {
          const m = (lo + hi) / 2;
          if (m <= lo || m >= hi) break;
          if (excess(m) > 0) lo = m;
          else hi = m;
        }
        const price = (lo + hi) / 2;
        const gap = Math.abs(Number(distributed.equilibrium.price) - price) / Math.max(price, 1e-300);
        return { reference: { price }, compare: { ok: gap <= 1e-9, gap, against: 'the clearing price solved centrally' } };
      },
    };
  },

  describeSlot: (d, r) => `price ${d.equilibrium.price} (reference ${r.reference.price})`,
};

export default scenario;
