/**
 * The centralized reference: the global maximum of the server's profit Π(p) over
 * p ∈ [m, max_i θ_i/k_i], found analytically from the piece structure (not by the protocol).
 *
 * Each feasible user is in one of three regimes: interior (x = θ/p − k, for p ≤ θ/(2k)), corner
 * (x = k, for θ/(2k) < p < θ ln2 / k) or out (x = 0, from p = θ ln2 / k on). Between consecutive
 * breakpoints the regimes are fixed and the demand is D(p) = A/p − B with A = Σθ over interior
 * users and B = Σk(interior) − Σk(corner), so Π(p) = (p − m)·min(D(p), X): concave on the piece
 * (Π″ = −2mA/p³ without a binding capacity; the min with the increasing line (p − m)X keeps it
 * concave). Its maximum on a piece is at the stationary point sqrt(m A / B), at the capacity crossing
 * D(p) = X, i.e. p = A/(X + B), or at a piece end. At θ/(2k) Π is continuous; at θ ln2/k it drops
 * (the user leaves; that end is open and approached at b·(1 − 1e-12)).
 *
 * The sweep over breakpoints is O(N log N); Π is evaluated in O(1) per candidate from (A, B), and the
 * winner is re-evaluated user by user with `outcomeAt`. Because every piece is concave, the sequence
 * of values at the piece ends, piece maxima and jumps describes Π's shape exactly: counting its local
 * maxima on that sequence tells whether Π is unimodal.
 */
import { outcomeAt, type PriceOutcome, type ServerParams } from './model.ts';

export type OptimumKind = 'stationary' | 'capacity' | 'open-end' | 'breakpoint' | 'none';

export interface ReferenceResult extends PriceOutcome {
  /** whether Π has a single local maximum on the price range */
  unimodal: boolean;
  localMaxima: number;
  /** where the optimum lies: a stationary point of a piece, a capacity crossing, just below a user's exit … */
  kind: OptimumKind;
  priceRange: [number, number];
}

/** An open right end (a user leaves exactly there) is approached at b·OPEN. */
export const OPEN = 1 - 1e-12;

export function priceRange(thetas: number[], ks: number[], m: number): [number, number] {
  let hi = m;
  thetas.forEach((t, i) => {
    if (Number.isFinite(ks[i]) && ks[i] > 0) hi = Math.max(hi, t / ks[i]);
  });
  return [m, hi];
}

/**
 * The pieces of Π on [m, hi], one entry a piece in each array (struct of arrays: at 100,000 users
 * there are up to 200,001 pieces, and an object a piece, with the events and groups behind them, was
 * some 50 MB of the orchestrator's memory for every reference solve).
 */
export interface Pieces {
  n: number;
  l: Float64Array;
  r: Float64Array;
  /** Σθ over the interior users */
  A: Float64Array;
  /** Σk(interior) − Σk(corner) */
  B: Float64Array;
  /** 1: a user leaves at r, the right end is open */
  openRight: Uint8Array;
}

/** The pieces of Π on [m, hi], with the regimes' sums (A, B) constant on each. */
export function pieces(thetas: number[], ks: number[], m: number): Pieces {
  const [, hi] = priceRange(thetas, ks, m);
  const users = thetas.length;
  // per event (at most two a user): a user moves interior → corner (at θ/(2k)) or corner → out (at θ ln2 / k)
  const evP = new Float64Array(2 * users);
  const evUser = new Int32Array(2 * users);
  const evLeave = new Uint8Array(2 * users);
  let events = 0;
  const event = (p: number, i: number, leave: boolean) => {
    evP[events] = p;
    evUser[events] = i;
    evLeave[events++] = leave ? 1 : 0;
  };
  // sums and counts per regime (counts let an emptied regime's sum reset to an exact 0)
  let A = 0;
  let kInt = 0;
  let kCorner = 0;
  let nInt = 0;
  let nCorner = 0;
  for (let i = 0; i < users; i++) {
    const t = thetas[i];
    const k = ks[i];
    if (!Number.isFinite(k) || !(k > 0)) continue;
    const b1 = t / (2 * k);
    const b2 = (t * Math.LN2) / k;
    // regime on [m, next breakpoint): interior iff b1 > m, corner iff b1 ≤ m < b2, out iff b2 ≤ m
    if (b1 > m) {
      A += t;
      kInt += k;
      nInt++;
      event(b1, i, false);
    } else if (b2 > m) {
      kCorner += k;
      nCorner++;
    }
    if (b2 > m) event(b2, i, true);
  }
  // by price, then user: no two events share both (a user's two breakpoints differ), so the order is one
  const order = new Uint32Array(events);
  for (let e = 0; e < events; e++) order[e] = e;
  order.sort((a, b) => evP[a] - evP[b] || evUser[a] - evUser[b]);
  const out: Pieces = { n: 0, l: new Float64Array(events + 1), r: new Float64Array(events + 1), A: new Float64Array(events + 1), B: new Float64Array(events + 1), openRight: new Uint8Array(events + 1) };
  const push = (l: number, r: number, a: number, b: number, openRight: boolean) => {
    const n = out.n++;
    out.l[n] = l;
    out.r[n] = r;
    out.A[n] = a;
    out.B[n] = b;
    out.openRight[n] = openRight ? 1 : 0;
  };
  let l = m;
  for (let j = 0; j < events; ) {
    // the group of events at price p
    const p = evP[order[j]];
    let end = j;
    let leaves = false;
    for (; end < events && evP[order[end]] === p; end++) if (evLeave[order[end]]) leaves = true;
    if (p > l) push(l, p, A, kInt - kCorner, leaves);
    for (; j < end; j++) {
      const e = order[j];
      const k = ks[evUser[e]];
      if (evLeave[e]) {
        kCorner -= k;
        nCorner--;
      } else {
        A -= thetas[evUser[e]];
        kInt -= k;
        nInt--;
        kCorner += k;
        nCorner++;
      }
    }
    if (nInt === 0) A = kInt = 0;
    if (nCorner === 0) kCorner = 0;
    l = p;
  }
  if (hi > l) push(l, hi, 0, 0, false); // everyone is out here
  return out;
}

/** Π on a piece with sums (A, B): (p − m)·min(A/p − B, X). */
function piecePi(A: number, B: number, p: number, m: number, X: number | null): number {
  const d = Math.max(0, A / p - B);
  return (p - m) * (X === null ? d : Math.min(d, X));
}

export function referenceOptimum(thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): ReferenceResult {
  const { m, X } = server;
  const range = priceRange(thetas, ks, m);
  const ps = pieces(thetas, ks, m);
  // the shape sequence: values at the piece ends, the piece maxima and the jumps, in price order
  const seq = new Float64Array(1 + 3 * ps.n); // seq[0]: Π(m) = 0
  let len = 1;
  let bestP = m;
  let bestV = 0;
  let bestKind: OptimumKind = 'none';
  const consider = (p: number, v: number, kind: OptimumKind) => {
    if (v > bestV) (bestP = p), (bestV = v), (bestKind = kind);
  };
  for (let q = 0; q < ps.n; q++) {
    const l = ps.l[q];
    const r = ps.r[q];
    const A = ps.A[q];
    const B = ps.B[q];
    const open = ps.openRight[q] === 1;
    const rEnd = open ? r * OPEN : r;
    const vl = piecePi(A, B, l, m, X);
    const vr = piecePi(A, B, rEnd, m, X);
    consider(l, vl, 'breakpoint');
    consider(rEnd, vr, open ? 'open-end' : 'breakpoint');
    // the piece's inner candidates, in this order: its stationary point, its capacity crossing
    let inner = -Infinity;
    let hasInner = false;
    if (A > 0 && B > 0) {
      const s = Math.sqrt((m * A) / B);
      if (s > l && s < r) {
        const v = piecePi(A, B, s, m, X);
        consider(s, v, 'stationary');
        inner = v;
        hasInner = true;
      }
    }
    if (X !== null && A > 0 && X + B > 0) {
      const c = A / (X + B); // A/p − B = X
      if (c > l && c < r) {
        const v = piecePi(A, B, c, m, X);
        consider(c, v, 'capacity');
        if (!hasInner || v > inner) inner = v;
        hasInner = true;
      }
    }
    seq[len++] = vl;
    if (hasInner) seq[len++] = inner;
    seq[len++] = vr;
  }
  const scale = Math.max(bestV, 1e-300);
  const localMaxima = countLocalMaxima(seq.subarray(0, len), 1e-9 * scale);
  const o = outcomeAt(bestP, thetas, ks, server);
  return { ...o, unimodal: localMaxima <= 1, localMaxima, kind: bestKind, priceRange: range };
}

/**
 * Local maxima of a sequence that is monotone between consecutive entries, with hysteresis: a peak
 * counts when the sequence has risen by more than `tol` since the last trough and then falls by more
 * than `tol`.
 */
export function countLocalMaxima(seq: ArrayLike<number> & Iterable<number>, tol: number): number {
  if (seq.length === 0) return 0;
  let maxima = 0;
  let rising = true;
  let low = seq[0];
  let high = seq[0];
  for (const v of seq) {
    if (rising) {
      if (v > high) high = v;
      else if (high - v > tol) {
        if (high - low > tol) maxima++;
        rising = false;
        low = v;
      }
    } else if (v < low) low = v;
    else if (v - low > tol) {
      rising = true;
      high = v;
    }
  }
  if (rising && high - low > tol) maxima++;
  return maxima;
}

/** Π at one price, user by user (tests and brute-force grids). */
export function profitAt(p: number, thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): number {
  return outcomeAt(p, thetas, ks, server).profit;
}

/**
 * The `gsrp-step` rule computed centrally (independently of the protocol): the price that the step
 * search must end on, and the number of prices it evaluates (stops when the profit fell in `patience`
 * consecutive rounds, or nobody buys — from then on nobody ever buys, demand only falls with p).
 */
export function stepRule(thetas: number[], ks: number[], server: ServerParams, maxRounds = 100_000): { price: number; profit: number; evaluations: number } {
  let bestP = server.p0;
  let bestPi = -Infinity;
  let prev: number | undefined;
  let fallen = 0;
  let n = 0;
  while (n < maxRounds) {
    const p = server.p0 + n * server.step;
    const o = outcomeAt(p, thetas, ks, server);
    n++;
    if (o.profit > bestPi) {
      bestPi = o.profit;
      bestP = p;
    }
    fallen = prev !== undefined && o.profit < prev ? fallen + 1 : 0;
    if (fallen >= server.patience || o.purchases.every((x) => x === 0)) break;
    prev = o.profit;
  }
  return { price: bestP, profit: bestPi, evaluations: n };
}

/**
 * The step's resolution bound: the best profit on the Δ-grid p0 + jΔ next to the optimum p*, i.e.
 * max(Π(p_j), Π(p_{j+1})) with p_j ≤ p* < p_{j+1} (only p_0 when p* < p0). A step walk that passes
 * p* has seen both, so its profit is at least this; it falls short only when it stopped early (its
 * patience ran out on an earlier local peak, or the round cap).
 */
export function stepGridBound(thetas: number[], ks: number[], server: ServerParams, pStar: number): { profit: number; below: number; above: number } {
  const j = Math.max(0, Math.floor((pStar - server.p0) / server.step));
  const below = server.p0 + j * server.step;
  const above = pStar < server.p0 ? below : below + server.step;
  const profit = Math.max(profitAt(below, thetas, ks, server), profitAt(above, thetas, ks, server));
  return { profit, below, above };
}
