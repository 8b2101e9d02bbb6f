import type { BenchPlan } from '../types.ts';

/** The three load levels; N is the number of MEC servers (`--scale` stops at 1000: each interval gathers every server's answer). */
export const bench: BenchPlan = {
  sizes: [40, 400],
  variants: ['low', 'middle', 'high'].map((load) => ({ label: `optimal-pricing/${load}`, options: { load } })),
  scale: [{ label: 'optimal-pricing/middle', options: { load: 'middle' }, sizes: [100, 1000] }],
  sizeInput: (n) => ({ options: { mecs: n } }),
  extras({ summary, slotMetrics }) {
    // time spent in each phase, from the leader's per-round latencies and kinds
    const phase = (kinds: string[]) => slotMetrics.reduce((a, m) => a + m.roundLatencyMs.reduce((b: number, t: number, i: number) => b + (kinds.includes(m.roundKinds[i]) ? t : 0), 0), 0);
    const pricingMs = phase(['price']);
    const intervalMs = phase(['interval', 'grant']);
    const iv = summary.equilibrium.intervals;
    const buybackMsgs = iv.requestMessages + iv.grantMessages;
    return { 'pricing rounds': summary.perSlot[0].extra.pricingRounds, 'pricing ms': r3(pricingMs), 'interval ms': r3(intervalMs), 'buyback msgs': buybackMsgs, 'buyback msgs/s': r3(buybackMsgs / (intervalMs / 1000)) };
  },
};

const r3 = (x: number) => Math.round(x * 1000) / 1000;
