import type { BenchPlan } from '../types.ts';
import { bookOf, referenceIteration } from './reference.ts';
import { greedyComplete, mcafee } from './auctions.ts';
import type { FuturesSpotConfig } from './model.ts';

/** Both auctions, and the time one spot auction takes against one message round. */
export const bench: BenchPlan = {
  sizes: [30, 300, 3000],
  variants: [{ mechanism: 'complete' }, { mechanism: 'incomplete' }],
  scale: [{ mechanism: 'incomplete', sizes: [100, 1000, 10000] }],
  extras({ config, summary, roundMs }) {
    const c = config as never as FuturesSpotConfig;
    const auction = String(config.mechanism) as 'complete' | 'incomplete';
    const spot = referenceIteration(c, auction, 0).spot;
    const books = spot.map((r) => bookOf(c, r.bidders, r.rem));
    const t0 = performance.now();
    for (const b of books) auction === 'complete' ? greedyComplete(b.completeBids, b.asks) : mcafee(b.unitBids, b.asks);
    const auctionMs = books.length ? (performance.now() - t0) / books.length : 0;
    return { iterations: summary.equilibrium.iterations, rStar: r3(summary.equilibrium.rStar), Umax: r3(summary.equilibrium.Umax), 'auction ms/round': r3(auctionMs), 'auction/message': r3(auctionMs / roundMs) };
  },
};

const r3 = (x: number) => Math.round(x * 1000) / 1000;
