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
  return bisectDown((p) => weights.reduce((s, w) => s + demand(w, p), 0) - capacity, Math.max(...weights));
}

/** The optimum: its price, allocation and welfare Σ w_i·log(1 + x_i). */
export function optimum(weights: readonly number[], capacity: number): { price: number; allocation: number[]; welfare: number } {
  const price = clearingPrice(weights, capacity);
  const allocation = weights.map((w) => demand(w, price));
  return { price, allocation, welfare: weights.reduce((s, w, i) => s + utility(w, allocation[i]), 0) };
}

/** The welfare of splitting C equally, the baseline a proportional share should beat. */
export const equalSplitWelfare = (weights: readonly number[], capacity: number): number => weights.reduce((s, w) => s + utility(w, capacity / weights.length), 0);

/*
 * Price-anticipating users (Johari & Tsitsiklis 2004) see that their own bid moves the price: user i
 * maximises U_i(C·b/(b + B)) − b against the others' total B. With U_i = w_i·log(1 + x) the first-order
 * condition w·C·B = s·((1 + C)·s − C·B), s = b + B, is a quadratic in s.
 */

/** A price-anticipating user's best bid against the others' total B (B > 0). */
export function anticipatingBid(w: number, others: number, capacity: number): number {
  if (!(others > 0)) return 0;
  const [C, B] = [capacity, others];
  const s = (C * B + Math.sqrt(C * C * B * B + 4 * (1 + C) * w * C * B)) / (2 * (1 + C));
  return Math.max(0, s - B);
}

/**
 * At the Nash equilibrium with price p = Σb/C, user i's share solves (1 − x/C)·U_i'(x) = p
 * (Johari–Tsitsiklis), i.e. x_i = C·(w_i − p)/(w_i + p·C) where w_i > p, else 0.
 */
export const anticipatingDemand = (w: number, p: number, capacity: number): number => (w > p ? (capacity * (w - p)) / (w + p * capacity) : 0);

/** The Nash equilibrium of price-anticipating users: its price, allocation and welfare. */
export function nash(weights: readonly number[], capacity: number): { price: number; allocation: number[]; welfare: number } {
  const price = bisectDown((p) => weights.reduce((s, w) => s + anticipatingDemand(w, p, capacity), 0) - capacity, Math.max(...weights));
  const allocation = weights.map((w) => anticipatingDemand(w, price, capacity));
  return { price, allocation, welfare: weights.reduce((s, w, i) => s + utility(w, allocation[i]), 0) };
}

/** The root in (0, hi) of a function that falls from positive to negative, to the last bit. */
export function bisectDown(excess: (p: number) => number, hi: number): number {
  let lo = 0;
  for (let i = 0; i < 2000 && hi - lo > 0; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (excess(mid) > 0) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
