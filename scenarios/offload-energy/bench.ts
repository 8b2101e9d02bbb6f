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
  extras: ({ summary }): Record<string, number | string> => (summary.mechanism === 'nash' ? { 'decision slots': summary.perSlot[0].extra?.decisionSlots ?? summary.equilibrium.decisionSlots ?? '', status: summary.equilibrium.status ?? '' } : {}),
  claims(rows) {
    const pricing = rows.filter((r) => r.mechanism.startsWith('pricing/'));
    if (!pricing.length) return [];
    return [serverLoadClaim(pricing.map((r) => ({ N: r.users, mechanism: r.mechanism.slice('pricing/'.length), serverCpuMs: r.leaderCpuMs })) as Parameters<typeof serverLoadClaim>[0])];
  },
};
