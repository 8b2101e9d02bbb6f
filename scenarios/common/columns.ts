/**
 * Sums over a round's column of numbers (RoundResult.column), in roster order.
 *
 * Why each loop is a function of its own with nothing after it: a leader runs such a loop once a
 * round, over every follower, so V8 optimizes it in the middle of its first run (on-stack
 * replacement), before the code after the loop has ever run. That optimized code then gave up at the
 * loop's end, round after round, for want of type feedback on what follows (V8's --trace-deopt: 20 of
 * a 43-round slot at 10,000 followers), and each round's loop ran unoptimized again first.
 */

/** the sum of the entries that are numbers (NaN: no reply, or no finite value) */
export function sumFinite(xs: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] === xs[i]) total += xs[i];
  return total;
}

/** the sum of the entries above 0 */
export function sumPositive(xs: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] > 0) total += xs[i];
  return total;
}

/** how many entries are above 0 */
export function countPositive(xs: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] > 0) n++;
  return n;
}
