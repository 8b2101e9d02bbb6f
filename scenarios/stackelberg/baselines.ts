/**
 * The spec's baselines, computed centrally for the same users as the equilibrium.
 *
 * Pricing (server profit at another price): `random` — uniform in [m, max_i θ_i/k_i] from
 * `stream(seed, 'baseline', 'random-price', slot)`; `historical` — the previous slot's equilibrium
 * price applied to this slot's users (slot 0: the reference optimal price of a population of the same
 * size drawn from `stream(seed, 'historical', i)`).
 * Purchasing at the equilibrium price (each user's utility): `random` — uniform in [0, 2 x̂] with
 * x̂ = max(0, θ/p − k), from `stream(seed, 'baseline', 'random-purchase', slot)`; `fixed` — x_i = κ s_i
 * with κ such that the mean purchase equals the mean of the equilibrium purchases x*.
 */
import { stream } from '../common/rng.ts';
import type { Json, JsonObject } from '../types.ts';
import { drawHistoricalUser, outcomeAt, unitsForDeadline, utility, type ServerParams, type UserParams } from './model.ts';
import { priceRange, referenceOptimum } from './reference.ts';

/** a ≥ b up to a relative 1e-9 (ties count as "at least as good") */
export const atLeast = (a: number, b: number) => a >= b - 1e-9 * Math.max(1, Math.abs(b));

export function baselines(seed: number, slot: number, server: ServerParams, users: UserParams[], eqPrice: number, previousPrice: number | undefined): JsonObject {
  const thetas = users.map((u) => u.theta);
  const ks = users.map((u) => unitsForDeadline(u, server.f));
  const gsrp = outcomeAt(eqPrice, thetas, ks, server);
  // pricing
  const [lo, hi] = priceRange(thetas, ks, server.m);
  const randomPrice = stream(seed, 'baseline', 'random-price', slot).uniform(lo, hi);
  let historicalPrice = previousPrice;
  if (historicalPrice === undefined) {
    const other = users.map((_, i) => drawHistoricalUser(seed, i));
    historicalPrice = referenceOptimum(
      other.map((u) => u.theta),
      other.map((u) => unitsForDeadline(u, server.f)),
      server,
    ).price;
  }
  const random = outcomeAt(randomPrice, thetas, ks, server);
  const historical = outcomeAt(historicalPrice, thetas, ks, server);
  // purchasing at the equilibrium price
  const g = stream(seed, 'baseline', 'random-purchase', slot);
  const xhat = thetas.map((t, i) => (Number.isFinite(ks[i]) ? Math.max(0, t / eqPrice - ks[i]) : 0));
  const randomBuy = xhat.map((x) => g.uniform(0, 2 * x));
  const meanStar = gsrp.purchases.reduce((a, b) => a + b, 0) / users.length;
  const meanS = users.reduce((a, u) => a + u.s, 0) / users.length;
  const kappa = meanStar / meanS; // units per bit
  const fixedBuy = users.map((u) => kappa * u.s);
  const uOf = (xs: number[]) => xs.map((x, i) => utility(thetas[i], ks[i], x, eqPrice));
  const uRandom = uOf(randomBuy);
  const uFixed = uOf(fixedBuy);
  const out: Record<string, Json> = {
    pricing: {
      gsrp: { price: eqPrice, profit: gsrp.profit },
      random: { price: randomPrice, profit: random.profit },
      historical: {
        price: historicalPrice,
        profit: historical.profit,
        source: previousPrice === undefined ? "reference optimal price of a population drawn from the run seed's historical stream" : "previous slot's equilibrium price",
      },
      gsrpBeatsBoth: atLeast(gsrp.profit, random.profit) && atLeast(gsrp.profit, historical.profit),
    },
    purchasing: {
      gurp: { purchases: gsrp.purchases, utilities: gsrp.utilities },
      random: { purchases: randomBuy, utilities: uRandom },
      fixed: { kappa, purchases: fixedBuy, utilities: uFixed },
      gurpBeatsBothForEveryUser: gsrp.utilities.every((u, i) => atLeast(u, uRandom[i]) && atLeast(u, uFixed[i])),
    },
  };
  return out;
}
