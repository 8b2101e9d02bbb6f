/**
 * The proportional-share (Kelly) model, as plain functions: what a user bids, what the market
 * clears at, and the centralized optimum. No protocol here — index.ts runs the message rounds.
 *
 * User i values x units of capacity at U_i(x) = w_i·log(1 + x). With bids b (money), the server
 * gives x_i = C·b_i/Σb, i.e. it charges the price p = Σb/C per unit. A price-taking user maximises
 * U_i(b/p) − b, so it bids b_i = (w_i − p)⁺ and gets x_i = (w_i/p − 1)⁺. See README.md for the math.
 */

/** A price-taking user's best bid at price p. */
export const bestBid = (w: number, p: number): number => Math.max(0, w - p);

/** The demand of a price-taking user at price p: x = (w/p − 1)⁺. */
export const demand = (w: number, p: number): number => Math.max(0, w / p - 1);

export const utility = (w: number, x: number): number => w * Math.log1p(x);

/**
 * The step β = κ/(1 + N/C) of the damped bid update b ← b + β(bestBid − b). The price then follows
 * p ← (1−β)p + β·Σ(w_i − p)⁺/C, whose slope lies in [1 − κ, 1 − β]: a contraction for κ in (0, 2),
 * with factor L = max(|1 − κ|, 1 − β).
 */
export function stepOf(gain: number, users: number, capacity: number): { beta: number; contraction: number } {
  const beta = gain / (1 + users / capacity);
  return { beta, contraction: Math.max(Math.abs(1 - gain), 1 - beta) };
}

/**
 * The market-clearing price of the price-taking equilibrium, p* with Σ_i (w_i/p* − 1)⁺ = C: the
 * Lagrange multiplier of max Σ U_i(x_i) s.t. Σ x_i = C. Total demand falls strictly in p on
 * (0, max w), from +∞ to 0, so bisection on p finds the unique root (to the last bit).
 */
export function clearingPrice(weights: readonly number[], capacity: number): number {
  const excess = (p: number) => weights.reduce((s, w) => s + demand(w, p), 0) - capacity;
  let lo = 0;
  let hi = Math.max(...weights);
  for (let i = 0; i < 2000 && hi - lo > 0; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (excess(mid) > 0) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** The optimum: its price, allocation and welfare Σ w_i·log(1 + x_i). */
export function optimum(weights: readonly number[], capacity: number): { price: number; allocation: number[]; welfare: number } {
  const price = clearingPrice(weights, capacity);
  const allocation = weights.map((w) => demand(w, price));
  return { price, allocation, welfare: weights.reduce((s, w, i) => s + utility(w, allocation[i]), 0) };
}

/** The welfare of splitting C equally, the baseline a proportional share should beat. */
export const equalSplitWelfare = (weights: readonly number[], capacity: number): number => weights.reduce((s, w) => s + utility(w, capacity / weights.length), 0);
