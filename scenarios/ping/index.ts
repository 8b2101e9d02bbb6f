/**
 * `ping` — a diagnostic scenario with no economics: the leader broadcasts a number R times, every
 * user replies with its own function of it, and the leader sums the replies in roster order. It is
 * the framework with null decision logic: the benchmarks use it to price the runtime's own
 * per-round cost against the raw NATS scatter-gather floor, and tests use it to exercise the
 * runtime (placement, drops, deadlines) independently of any scenario's math.
 */
import { stream } from '../common/rng.ts';
import { type CompleteScenario, ConfigError, type AgentSpec, type JsonObject, type Scenario } from '../types.ts';
import { configSchema, Count, COUNT, Int, isCount, ListOf, Num, seedParam, slotsParam } from '../common/schema.ts';
import { bench } from './bench.ts';

export interface PingConfig extends JsonObject {
  scenario: 'ping';
  mechanism: 'echo';
  seed: number;
  slots: number;
  rounds: number;
  users: number;
  /** per-user weight w_i (drawn from the seed), so every reply is distinct */
  weights: number[];
}

const userWeight = (seed: number, i: number) => Math.round(stream(seed, 'ue', i, 'weight').uniform(1, 10) * 1000) / 1000;

/** The value user i answers to x in slot t. */
export const answer = (w: number, x: number, slot: number) => w * x + slot;

/** The config file's shape (types and keys; the ranges are checked by resolve). */
const CONFIG_SCHEMA = configSchema('ping', ['echo'], { rounds: Int('an integer in [1, 100000]'), users: Count('the number of users'), weights: ListOf(Num('a finite number'), 'a list of weights, one per user') });

export const ping: CompleteScenario<PingConfig> = {
  id: 'ping',
  title: 'diagnostic: broadcast and echo (runtime overhead, no economics)',
  spec: '(none: diagnostic)',
  bench,
  roles: ['mec', 'ue'],
  mechanisms: [{ id: 'echo', summary: 'R rounds of one broadcast and N replies; the leader sums the replies' }],
  defaultMechanism: 'echo',
  options: [{ name: 'rounds', arg: '<r>', description: 'rounds per slot', default: 10 }],
  defaultUsers: 10,

  configSchema: () => CONFIG_SCHEMA,

  resolve(input) {
    const c = input.config ?? {};
    const seed = seedParam(input.seed);
    const slots = slotsParam(input.slots);
    const n = input.users ?? (Array.isArray(c.weights) ? c.weights.length : typeof c.users === 'number' ? c.users : 10);
    if (!isCount(n)) throw new ConfigError('--users', `must be ${COUNT}, not ${n}`);
    const rounds = Number(input.options.rounds ?? c.rounds ?? 10);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100_000) throw new ConfigError('--rounds', `must be an integer in [1, 100000], not ${input.options.rounds ?? c.rounds}`);
    const given = Array.isArray(c.weights) && c.weights.length === n ? (c.weights as number[]) : undefined;
    if (given && !given.every((w) => typeof w === 'number' && Number.isFinite(w))) throw new ConfigError('weights', 'must be finite numbers');
    return { scenario: 'ping', mechanism: 'echo', seed, slots, rounds, users: n, weights: given ?? Array.from({ length: n }, (_, i) => userWeight(seed, i)) };
  },
  agents: (cfg) => [{ id: 'mec-0', role: 'mec', index: 0 }, ...Array.from({ length: cfg.users }, (_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))],
  leaderId: () => 'mec-0',
  agentInit: (cfg, a): JsonObject => (a.role === 'mec' ? { rounds: cfg.rounds } : { w: cfg.weights[a.index] }),

  createLeader(init) {
    const rounds = Number(init.rounds);
    return {
      async runSlot(ctx) {
        let x = 1;
        let total = 0;
        for (let r = 0; r < rounds; r++) {
          const res = await ctx.round<{ y: number }>({ kind: 'ping', body: { x } });
          total = 0;
          for (const rep of res.replies) total += rep?.y ?? 0;
          ctx.record({ round: r + 1, x, total, missing: res.missing.length });
          x = (total % 97) + 1;
        }
        return { equilibrium: { total, x }, converged: true };
      },
    };
  },
  createFollower(init) {
    const w = Number(init.w);
    return {
      handle(kind, body, meta) {
        if (kind !== 'ping' || typeof body.x !== 'number') return undefined;
        const y = answer(w, body.x, meta.slot);
        return Number.isFinite(y) ? { y } : undefined; // a huge x overflows: no reply the leader would drop
      },
    };
  },
  createReference(cfg) {
    return {
      slot(slot, distributed) {
        let x = 1;
        let total = 0;
        for (let r = 0; r < cfg.rounds; r++) {
          total = 0;
          for (const w of cfg.weights) total += answer(w, x, slot);
          x = (total % 97) + 1;
        }
        const got = Number(distributed.equilibrium.total);
        const gap = Math.abs(got - total) / Math.max(1, Math.abs(total));
        // nothing is optimized here: the check is that the rounds' sums arrived intact
        return { reference: { total, x }, compare: { ok: gap === 0, gap, against: 'the same rounds summed centrally' } };
      },
    };
  },
  describeSlot: (d, r) => `total ${d.equilibrium.total} (reference ${r.reference.total})`,
};
