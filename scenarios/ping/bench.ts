import type { BenchPlan } from '../types.ts';

/** ping is a diagnostic of the runtime: benchmarked only when named. */
export const bench: BenchPlan = { sizes: [10, 100, 1000], onlyWhenNamed: true };
