/**
 * `kelly` — proportional-share allocation of an edge server's capacity (Kelly's mechanism), with
 * price-taking users that bid over message rounds until the price settles. A worked example of a
 * mecsim scenario written outside mecsim: it imports only the public package `mecsim`.
 *
 * One slot: the server (leader, `mec-0`) asks every user (`ue-i`) for a bid; then, round after
 * round, it broadcasts the price p = Σb/C and every user moves its bid a step β toward its best
 * reply (w_i − p)⁺. When the price moves by less than `tolerance` (relative), the server announces
 * the final price, each user takes x_i = b_i/p and reports its utility. The reference solves the
 * same equilibrium centrally (bisection on the price), which is also the welfare optimum.
 * README.md has the math, the convergence argument and the check's tolerance.
 */
import { configSchema, ConfigError, Count, isCount, COUNT, ListOf, Num, Int, param, stream, type AgentSpec, type Claim, type CompleteScenario, type JsonObject, type SlotOutcome, type Follower, type ReferenceRun } from 'mecsim';
import { anticipatingBid, bestBid, equalSplitWelfare, nash, optimum, stepOf, utility } from './model.ts';
import { figures } from './figures.ts';

export interface KellyConfig extends JsonObject {
  scenario: 'kelly';
  mechanism: (typeof MECHANISMS)[number];
  seed: number;
  slots: number;
  users: number;
  /** the server's mean capacity per slot, in units; slot t has capacity·u_t with u_t drawn in [0.5, 1.5) */
  capacity: number;
  /** κ in (0, 2): the bid step is β = κ/(1 + N/C_t) */
  gain: number;
  /** stop when no bid moves by more than this fraction of the mean bid in one round */
  tolerance: number;
  maxRounds: number;
  /** w_i, each user's valuation weight (drawn from the seed unless given) */
  weights: number[];
}

/** user i's weight: its own seeded stream, so it depends on (seed, i) only */
const drawWeight = (seed: number, i: number) => Math.round(stream(seed, 'ue', i, 'weight').uniform(1, 10) * 1e6) / 1e6;

/** slot t's capacity: the server's own stream, known to the leader and the reference alike */
export const capacityOf = (seed: number, capacity: number, slot: number) => capacity * stream(seed, 'mec', 0, 'capacity', slot).uniform(0.5, 1.5);

/** How many users' bids each trajectory row carries (the figure of bids per round). */
const TRACED = 5;

const MECHANISMS = ['price-taking', 'price-anticipating'] as const;

const CONFIG_SCHEMA = configSchema('kelly', MECHANISMS, {
  users: Count('the number of users'),
  capacity: Num('a positive number of capacity units'),
  gain: Num('a number in (0, 2)'),
  tolerance: Num('a number in (0, 0.1]'),
  maxRounds: Int('an integer in [1, 100000]'),
  weights: ListOf(Num('a positive number'), 'a list of positive weights, one per user'),
});

/**
 * Equal to the reference: price and welfare within this relative gap. Fixed, not a parameter: a
 * run stopped early (a loose --tolerance, too few --max-rounds) fails the check (README.md, "The check").
 */
export const CHECK = 1e-6;

/** What a user bids next, toward: its best reply to the posted price (and its own last bid). */
type BestReply = (w: number, price: number, capacity: number, ownBid: number) => number;
/** A price taker treats p as given: (w − p)⁺. */
const priceTaking: BestReply = (w, p) => bestBid(w, p);
/** A price anticipator answers the others' total B = p·C − b (README.md: the quadratic). */
const priceAnticipating: BestReply = (w, p, C, own) => anticipatingBid(w, p * C - own, C);

/** A user: its damped bid toward `reply`, and its share and utility when the server allocates. */
function bidder(reply: BestReply) {
  return (init: JsonObject): Follower => {
    const w = Number(init.w);
    let bid = 0;
    return {
      handle(kind, body): JsonObject | undefined {
        if (kind === 'bid') {
          const { step, price, capacity } = body;
          if (typeof step !== 'number' || !(step > 0 && step <= 1)) return undefined;
          if (price === null) bid = w / 2; // the opening bid of a slot
          else if (typeof price === 'number' && price > 0 && typeof capacity === 'number' && capacity > 0) bid += step * (reply(w, price, capacity, bid) - bid);
          else return undefined;
          return { bid };
        }
        if (kind === 'allocate' && typeof body.price === 'number' && body.price > 0) {
          const x = bid / body.price;
          return { x, u: utility(w, x) };
        }
        return undefined;
      },
    };
  };
}

/** What a mechanism's run is checked against, and the claim about its efficiency. */
interface Solution {
  solve(weights: readonly number[], capacity: number): { price: number; welfare: number };
  against: string;
  efficiency(worst: number | null, converged: number): Claim;
}

const PRICE_TAKING: Solution = {
  solve: optimum,
  against: 'the price-taking equilibrium solved centrally (bisection on the price), which is the welfare optimum',
  efficiency: (worst, converged) => ({
    id: 'efficient',
    statement: 'the price-taking equilibrium of proportional share is efficient: its welfare equals the optimum of max Σ w_i·log(1 + x_i) s.t. Σ x_i = C',
    verdict: worst === null ? 'not-evaluable' : worst >= 1 - CHECK ? 'holds' : 'fails',
    numbers: [
      { label: 'worst welfare / optimum over the converged slots', value: worst },
      { label: 'converged slots', value: converged },
    ],
    note: worst === null ? 'no slot converged' : undefined,
  }),
};

const PRICE_ANTICIPATING: Solution = {
  solve: nash,
  against: 'the price-anticipating Nash equilibrium solved centrally (the Johari–Tsitsiklis conditions, bisection on the price)',
  efficiency: (worst, converged) => ({
    id: 'johari-tsitsiklis-75',
    statement: 'price-anticipating users keep at least 75 % of the optimal welfare (Johari–Tsitsiklis 2004)',
    verdict: worst === null ? 'not-evaluable' : worst >= 0.75 ? 'holds' : 'fails',
    numbers: [
      { label: 'worst welfare / optimum over the converged slots', value: worst },
      { label: 'converged slots', value: converged },
    ],
    note: worst === null ? 'no slot converged' : undefined,
  }),
};

/** The reference of a mechanism: its equilibrium solved centrally, the optimum and the equal split beside it. */
function reference(cfg: KellyConfig, solution: Solution): ReferenceRun {
  const seen: { welfare: number; optimum: number; equal: number; converged: boolean }[] = [];
  return {
    slot(slot, d) {
      const C = capacityOf(cfg.seed, cfg.capacity, slot);
      const eq = solution.solve(cfg.weights, C);
      const opt = optimum(cfg.weights, C);
      const equal = equalSplitWelfare(cfg.weights, C);
      const price = Number(d.equilibrium.price);
      const welfare = Number(d.equilibrium.welfare);
      const priceGap = Math.abs(price - eq.price) / eq.price;
      const welfareGap = Math.abs(welfare - eq.welfare) / eq.welfare;
      const gap = Math.max(priceGap, welfareGap);
      seen.push({ welfare, optimum: opt.welfare, equal, converged: d.converged });
      return {
        reference: { price: eq.price, welfare: eq.welfare, allocated: C, capacity: C },
        baselines: { optimum: { price: opt.price, welfare: opt.welfare }, equalSplit: { welfare: equal } },
        compare: {
          ok: d.converged && gap <= CHECK,
          gap,
          against: solution.against,
          note: `price gap ${priceGap.toExponential(2)}, welfare gap ${welfareGap.toExponential(2)} (equal within ${CHECK}); welfare / optimum ${(welfare / opt.welfare).toFixed(6)}`,
        },
      };
    },
    finish() {
      const conv = seen.filter((s) => s.converged);
      const worst = conv.length ? Math.min(...conv.map((s) => s.welfare / s.optimum)) : null;
      const claims: Claim[] = [
        solution.efficiency(worst, conv.length),
        {
          id: 'beats-equal-split',
          statement: 'proportional share gives at least the welfare of an equal split C/N in every slot',
          verdict: !conv.length ? 'not-evaluable' : conv.every((s) => s.welfare >= s.equal * (1 - 1e-12)) ? 'holds' : 'fails',
          numbers: [{ label: 'mean welfare gain over the equal split', value: conv.length ? (100 * conv.reduce((a, s) => a + s.welfare / s.equal - 1, 0)) / conv.length : null, unit: '%' }],
        },
      ];
      return { claims: claims as unknown as JsonObject[] };
    },
  };
}

export const kelly: CompleteScenario<KellyConfig> = {
  id: 'kelly',
  title: 'proportional share (Kelly) of edge capacity: price-taking users bid until the price settles',
  roles: ['mec', 'ue'],
  // the mechanisms share the server's rounds and differ in the users' replies and the equilibrium
  // they reach: the second one gives its own parts, so nothing here branches on a mechanism's name
  mechanisms: [
    { id: 'price-taking', summary: 'users best-respond to the posted price with damped bids; x_i = C·b_i/Σb; equilibrium = the welfare optimum' },
    {
      id: 'price-anticipating',
      summary: 'users best-respond to the others\' total bid, knowing theirs moves the price (Johari–Tsitsiklis); equilibrium = the Nash equilibrium',
      createFollower: bidder(priceAnticipating),
      createReference: (cfg) => reference(cfg, PRICE_ANTICIPATING),
    },
  ],
  defaultMechanism: 'price-taking',
  options: [
    { name: 'capacity', arg: '<c>', description: 'mean server capacity per slot, in units (default: one per user)' },
    { name: 'gain', arg: '<κ>', description: 'bid step gain κ in (0, 2); β = κ/(1 + N/C)', default: 0.5 },
    { name: 'tolerance', arg: '<ε>', description: 'stop when no bid moves by more than ε times the mean bid in a round', default: 1e-9 },
    { name: 'max-rounds', arg: '<r>', description: 'give up (not converged) after r rounds', default: 2000 },
  ],
  defaultUsers: 8,
  defaultSlots: 3,
  paper: { title: 'Charging and rate control for elastic traffic', authors: 'F. Kelly', venue: 'European Transactions on Telecommunications 8(1)', year: 1997 },
  bench: { sizes: [10, 100, 1000], sizeInput: (n) => ({ users: n }) },
  figures,

  configSchema: () => CONFIG_SCHEMA,

  resolve(input) {
    const c = input.config ?? {};
    const o = input.options;
    const given = Array.isArray(c.weights) ? (c.weights as number[]) : undefined;
    const n = input.users ?? given?.length ?? (typeof c.users === 'number' ? c.users : 8);
    if (!isCount(n)) throw new ConfigError('--users', `must be ${COUNT}, not ${n}`);
    const mechanism = input.mechanism ?? (typeof c.mechanism === 'string' ? c.mechanism : 'price-taking');
    if (!MECHANISMS.includes(mechanism as never)) throw new ConfigError('--mechanism', `must be one of ${MECHANISMS.join(', ')}, not ${mechanism}`);
    // a price anticipator facing no other bid has no best reply (any bid > 0 takes everything)
    if (mechanism === 'price-anticipating' && n < 2) throw new ConfigError('--users', 'price-anticipating users need at least 2 users');
    if (given && given.length !== n) throw new ConfigError('weights', `has ${given.length} entries for ${n} users`);
    given?.forEach((w, i) => param(`weights[${i}]`, w, (v) => v > 0, 'a positive number'));
    return {
      scenario: 'kelly',
      mechanism: mechanism as KellyConfig['mechanism'],
      seed: input.seed,
      slots: input.slots,
      users: n,
      capacity: param('capacity', o.capacity ?? c.capacity ?? n, (v) => v > 0, 'a positive number of capacity units'),
      gain: param('gain', o.gain ?? c.gain ?? 0.5, (v) => v > 0 && v < 2, 'a number in (0, 2) (the bid update contracts only there)'),
      tolerance: param('tolerance', o.tolerance ?? c.tolerance ?? 1e-9, (v) => v > 0 && v <= 0.1, 'a number in (0, 0.1]'),
      maxRounds: param('max-rounds', o['max-rounds'] ?? c.maxRounds ?? 2000, (v) => Number.isInteger(v) && v >= 1 && v <= 100_000, 'an integer in [1, 100000]'),
      weights: given ?? Array.from({ length: n }, (_, i) => drawWeight(input.seed, i)),
    };
  },

  agents: (cfg) => [{ id: 'mec-0', role: 'mec', index: 0 }, ...Array.from({ length: cfg.users }, (_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))],
  leaderId: () => 'mec-0',
  // a user's init is its own weight only: it learns the step and the price from the messages
  agentInit: (cfg, a): JsonObject =>
    a.role === 'mec' ? { seed: cfg.seed, users: cfg.users, capacity: cfg.capacity, gain: cfg.gain, tolerance: cfg.tolerance, maxRounds: cfg.maxRounds } : { w: cfg.weights[a.index] },

  createLeader(init) {
    const [seed, users, gain, tolerance, maxRounds] = [init.seed, init.users, init.gain, init.tolerance, init.maxRounds].map(Number);
    return {
      async runSlot(ctx): Promise<SlotOutcome> {
        const C = capacityOf(seed, Number(init.capacity), ctx.slot);
        const { beta, contraction } = stepOf(gain, users, C);
        const bidsOf = (replies: ({ bid: number } | undefined)[]) => replies.map((r) => r?.bid ?? 0);
        const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
        // round 0: every user's opening bid (it also resets the user's state for this slot)
        let bids = bidsOf((await ctx.round<{ bid: number }>({ kind: 'bid', body: { price: null, step: beta } })).replies);
        let price = sum(bids) / C;
        let change = Infinity;
        let rounds = 0;
        // stop when no user's bid moves by more than `tolerance` of the mean bid: the price alone
        // settles faster than the bids (bids that move in opposite directions leave Σb unchanged)
        while (rounds < maxRounds && !(change <= tolerance)) {
          rounds++;
          const res = await ctx.round<{ bid: number }>({ kind: 'bid', body: { price, capacity: C, step: beta } });
          const next = bidsOf(res.replies);
          const total = sum(next);
          change = next.reduce((m, b, i) => Math.max(m, Math.abs(b - bids[i])), 0) / (total / next.length);
          bids = next;
          price = total / C;
          ctx.record({ round: rounds, price, change, totalBid: total, ...Object.fromEntries(next.slice(0, TRACED).map((b, i) => [`bid ${ctx.roster[i].id}`, b])), missing: res.missing.length });
        }
        // the allocation: each user takes b_i/p and says what it is worth to it
        const alloc = await ctx.round<{ x: number; u: number }>({ kind: 'allocate', body: { price } });
        let welfare = 0;
        let allocated = 0;
        for (const r of alloc.replies) {
          welfare += r?.u ?? 0;
          allocated += r?.x ?? 0;
        }
        const converged = change <= tolerance;
        return {
          equilibrium: { price, welfare, allocated, capacity: C },
          converged,
          notes: converged ? undefined : [`not converged in ${maxRounds} rounds (last bid change ${change} of the mean bid)`],
          extra: { rounds, change, contraction, beta },
        };
      },
    };
  },

  createFollower: bidder(priceTaking),
  createReference: (cfg) => reference(cfg, PRICE_TAKING),

  sweep(cfg, key, value) {
    if (key === 'capacity' || key === 'gain' || key === 'tolerance') return kelly.resolve({ seed: cfg.seed, slots: cfg.slots, options: {}, config: { ...cfg, [key]: value } });
    throw new ConfigError('--sweep', `kelly sweeps capacity, gain or tolerance, not ${key}`);
  },

  describeSlot: (d, r) => `price ${fmt(d.equilibrium.price)} (reference ${fmt(r.reference.price)})  welfare ${fmt(d.equilibrium.welfare)} (reference ${fmt(r.reference.welfare)})  rounds ${d.extra?.rounds}`,
};

const fmt = (x: unknown) => (typeof x === 'number' ? x.toPrecision(9) : String(x));

export default kelly;
