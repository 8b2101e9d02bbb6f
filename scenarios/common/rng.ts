/**
 * Seeded random streams. Every draw in mecsim comes from a stream named by its purpose, e.g.
 * `stream(seed, 'ue', 17, 'params')` — so an agent's parameters depend only on the run seed and its
 * index (never on the host, the placement or the join order), and adding a draw to one stream never
 * shifts another.
 */
import { Arc4 } from './arc4.ts';

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform in [lo, hi) */
  uniform(lo: number, hi: number): number;
  /** integer uniform in [lo, hi] */
  int(lo: number, hi: number): number;
  /** exponential with the given rate */
  exp(rate: number): number;
  /** standard normal (Box–Muller) */
  normal(mean?: number, sd?: number): number;
  /** Poisson with the given mean (Knuth for small means, normal approximation above 500) */
  poisson(mean: number): number;
}

export function stream(seed: number | string, ...path: (string | number)[]): Rng {
  // seedrandom's generator for this key (scenarios/common/arc4.ts): the same numbers, a fraction of its memory
  const prng = new Arc4(`mecsim|${seed}|${path.join('|')}`);
  const next = () => prng.double();
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    exp: (rate) => -Math.log(1 - next()) / rate,
    normal: (mean = 0, sd = 1) => {
      const u1 = 1 - next();
      const u2 = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
    poisson: (mean) => {
      if (mean <= 0) return 0;
      if (mean > 500) return Math.max(0, Math.round(mean + Math.sqrt(mean) * (Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()))));
      const l = Math.exp(-mean);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= next();
      } while (p > l);
      return k - 1;
    },
  };
}
