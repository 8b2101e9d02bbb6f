/**
 * Generic 1-D solvers (pure): Brent's bracketing root finder, usable with an asynchronous function
 * (each evaluation may be a message round), and golden-section search for a maximum.
 */

export interface RootResult {
  /** the best estimate of the root (one of the evaluated points, or a bracket end) */
  x: number;
  fx: number;
  /** function evaluations made by the solver (not counting supplied end values) */
  evaluations: number;
  converged: boolean;
  /** the final bracket */
  bracket: [number, number];
}

export interface BrentOptions {
  /** f(a) and f(b) if already known (saves evaluations) */
  fa?: number;
  fb?: number;
  /** stop when the bracket half-width is below xtolRel·|x| + xtolAbs (default 1e-10, 1e-14) */
  xtolRel?: number;
  xtolAbs?: number;
  maxEvaluations?: number;
}

const EPS = Number.EPSILON;

/**
 * Brent's method (Brent 1973, "zeroin"): inverse quadratic interpolation and secant steps, with a
 * bisection step whenever they do not make enough progress, on a bracket [a, b] with f(a)·f(b) ≤ 0.
 * Guaranteed to converge; superlinear on smooth functions. `f` may return a promise.
 */
export async function brentRoot(f: (x: number) => number | Promise<number>, a0: number, b0: number, opts: BrentOptions = {}): Promise<RootResult> {
  const xtolRel = opts.xtolRel ?? 1e-10;
  const xtolAbs = opts.xtolAbs ?? 1e-14;
  const maxEvaluations = opts.maxEvaluations ?? 200;
  let evaluations = 0;
  const ev = async (x: number) => {
    evaluations++;
    return await f(x);
  };
  let a = a0;
  let b = b0;
  let fa = opts.fa ?? (await ev(a));
  let fb = opts.fb ?? (await ev(b));
  if (fa === 0) return { x: a, fx: 0, evaluations, converged: true, bracket: [a, a] };
  if (fb === 0) return { x: b, fx: 0, evaluations, converged: true, bracket: [b, b] };
  if (Math.sign(fa) === Math.sign(fb)) throw new RangeError(`brentRoot: f(${a}) = ${fa} and f(${b}) = ${fb} do not bracket a root`);
  let c = a;
  let fc = fa;
  let d = b - a;
  let e = d;
  for (;;) {
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = 2 * EPS * Math.abs(b) + 0.5 * (xtolRel * Math.abs(b) + xtolAbs);
    const m = 0.5 * (c - b);
    if (Math.abs(m) <= tol || fb === 0) return { x: b, fx: fb, evaluations, converged: true, bracket: b < c ? [b, c] : [c, b] };
    if (evaluations >= maxEvaluations) return { x: b, fx: fb, evaluations, converged: false, bracket: b < c ? [b, c] : [c, b] };
    if (Math.abs(e) >= tol && Math.abs(fa) > Math.abs(fb)) {
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * m * s;
        q = 1 - s;
      } else {
        const qq = fa / fc;
        const r = fb / fc;
        p = s * (2 * m * qq * (qq - r) - (b - a) * (r - 1));
        q = (qq - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * m * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = m;
        e = m;
      }
    } else {
      d = m;
      e = m;
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tol ? d : m > 0 ? tol : -tol;
    fb = await ev(b);
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
  }
}

const INV_PHI = (Math.sqrt(5) - 1) / 2;

/**
 * Golden-section search for the maximum of a unimodal f on [lo, hi]; stops when the bracket is
 * narrower than xtolRel·|x| + xtolAbs. Returns the best point evaluated.
 */
export function goldenMax(f: (x: number) => number, lo: number, hi: number, xtolRel = 1e-12, xtolAbs = 1e-15, maxIter = 400): { x: number; fx: number; iterations: number } {
  let a = lo;
  let b = hi;
  let x1 = b - INV_PHI * (b - a);
  let x2 = a + INV_PHI * (b - a);
  let f1 = f(x1);
  let f2 = f(x2);
  let bestX = f1 >= f2 ? x1 : x2;
  let bestF = Math.max(f1, f2);
  const fl = f(lo);
  const fh = f(hi);
  if (fl > bestF) [bestX, bestF] = [lo, fl];
  if (fh > bestF) [bestX, bestF] = [hi, fh];
  let it = 0;
  while (b - a > xtolRel * Math.abs(x1) + xtolAbs && it < maxIter) {
    it++;
    if (f1 >= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - INV_PHI * (b - a);
      f1 = f(x1);
      if (f1 > bestF) [bestX, bestF] = [x1, f1];
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + INV_PHI * (b - a);
      f2 = f(x2);
      if (f2 > bestF) [bestX, bestF] = [x2, f2];
    }
  }
  return { x: bestX, fx: bestF, iterations: it };
}

/** Bisection for the root of an increasing function g on [lo, hi] (g(lo) < 0 < g(hi) assumed). */
export function bisectIncreasing(g: (x: number) => number, lo: number, hi: number, xtolRel = 1e-15, maxIter = 200): number {
  let a = lo;
  let b = hi;
  for (let i = 0; i < maxIter && b - a > xtolRel * Math.abs(b); i++) {
    const m = 0.5 * (a + b);
    if (m <= a || m >= b) break;
    if (g(m) < 0) a = m;
    else b = m;
  }
  return 0.5 * (a + b);
}
