import type { BenchPlan } from '../types.ts';

/**
 * Both orders of play. `--scale` stops at 1000: sequential rounds address one UE at a time, so
 * 10,000 UEs take minutes per slot by definition. Five slots per run; sequential rounds are
 * one-to-one, so their floor is a one-to-one request and reply.
 */
export const bench: BenchPlan = {
  sizes: [10, 100, 1000],
  variants: [{ mechanism: 'sequential' }, { mechanism: 'simultaneous' }],
  scale: [{ mechanism: 'simultaneous', sizes: [100, 1000] }],
  slots: 5,
  oneToOne: ['sequential'],
};
