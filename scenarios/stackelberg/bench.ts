import type { BenchPlan } from '../types.ts';

/** What `mecsim bench stackelberg` runs; `--scale` adds 10,000 users and a row of 100 agents one process each (target: all joined within 20 s). */
export const bench: BenchPlan = {
  sizes: [10, 100, 1000],
  scale: [{ sizes: [100, 1000, 10000, 100_000] }, { label: 'gsrp-search/process', placement: { kind: 'process' }, sizes: [100] }],
};
