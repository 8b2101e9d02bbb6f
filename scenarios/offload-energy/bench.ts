import type { BenchPlan } from '../types.ts';
import { serverLoadClaim } from './claims.ts';

/** Both pricing variants and the Nash game; the claim on the base station's load needs the pricing rows of several N. */
export const bench: BenchPlan = {
  variants: [
    { label: 'pricing/semi-distributed', mechanism: 'pricing', options: { pricing: 'semi-distributed', claims: 'false' }, sizes: [5, 50, 500, 5000] },
    { label: 'pricing/decentralized', mechanism: 'pricing', options: { pricing: 'decentralized', claims: 'false' }, sizes: [5, 50, 500, 5000] },
    { label: 'nash', mechanism: 'nash', options: { claims: 'false' }, sizes: [10, 20, 50] },
  ],
  scale: [{ label: 'pricing/decentralized', mechanism: 'pricing', options: { pricing: 'decentralized', claims: 'false' }, sizes: [100, 1000, 10000] }],
  /** a Nash game's length and how it ended (the outcome of a game has `decisionSlots`; a pricing one has none) */
  extras({ summary }): Record<string, number | string> {
    const eq = summary.perSlot?.[0]?.equilibrium;
    return eq && typeof eq.decisionSlots === 'number' ? { 'decision slots': eq.decisionSlots, status: String(eq.status ?? '') } : {};
  },
  claims(rows) {
    const pricing = rows.filter((r) => r.mechanism.startsWith('pricing/'));
    if (!pricing.length) return [];
    return [serverLoadClaim(pricing.map((r) => ({ N: r.users, mechanism: r.mechanism.slice('pricing/'.length), serverCpuMs: r.leaderCpuMs })) as Parameters<typeof serverLoadClaim>[0])];
  },
};
