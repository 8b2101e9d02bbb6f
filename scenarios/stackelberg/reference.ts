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

interface Piece {
  l: number;
  r: number;
  A: number;
  B: number;
  /** a user leaves at r: the right end is open */
  openRight: boolean;
}

/** The pieces of Π on [m, hi], with the regimes' sums (A, B) constant on each. */
export function pieces(thetas: number[], ks: number[], m: number): Piece[] {
  const [, hi] = priceRange(thetas, ks, m);
  // per event: a user moves interior → corner (at θ/(2k)) or corner → out (at θ ln2 / k)
  const events: { p: number; i: number; leave: boolean }[] = [];
  // sums and counts per regime (counts let an emptied regime's sum reset to an exact 0)
  let A = 0;
  let kInt = 0;
  let kCorner = 0;
  let nInt = 0;
  let nCorner = 0;
  thetas.forEach((t, i) => {
    const k = ks[i];
    if (!Number.isFinite(k) || !(k > 0)) return;
    const b1 = t / (2 * k);
    const b2 = (t * Math.LN2) / k;
    // regime on [m, next breakpoint): interior iff b1 > m, corner iff b1 ≤ m < b2, out iff b2 ≤ m
    if (b1 > m) {
      A += t;
      kInt += k;
      nInt++;
      events.push({ p: b1, i, leave: false });
    } else if (b2 > m) {
      kCorner += k;
      nCorner++;
    }
    if (b2 > m) events.push({ p: b2, i, leave: true });
  });
  events.sort((a, b) => a.p - b.p || a.i - b.i);
  const out: Piece[] = [];
  let l = m;
  for (let j = 0; j < events.length; ) {
    const p = events[j].p;
    const group: typeof events = [];
    for (; j < events.length && events[j].p === p; j++) group.push(events[j]);
    if (p > l) out.push({ l, r: p, A, B: kInt - kCorner, openRight: group.some((e) => e.leave) });
    for (const e of group) {
      const k = ks[e.i];
      if (e.leave) {
        kCorner -= k;
        nCorner--;
      } else {
        A -= thetas[e.i];
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
  if (hi > l) out.push({ l, r: hi, A: 0, B: 0, openRight: false }); // everyone is out here
  return out;
}

/** Π on one piece from its sums: (p − m)·min(A/p − B, X). */
function piecePi(pc: Piece, p: number, m: number, X: number | null): number {
  const d = Math.max(0, pc.A / p - pc.B);
  return (p - m) * (X === null ? d : Math.min(d, X));
}

export function referenceOptimum(thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): ReferenceResult {
  const { m, X } = server;
  const range = priceRange(thetas, ks, m);
  const ps = pieces(thetas, ks, m);
  // the shape sequence: values at the piece ends, the piece maxima and the jumps, in price order
  const seq: number[] = [0]; // Π(m) = 0
  let best = { p: m, v: 0, kind: 'none' as OptimumKind };
  const consider = (p: number, v: number, kind: OptimumKind) => {
    if (v > best.v) best = { p, v, kind };
  };
  for (const pc of ps) {
    const cands: { p: number; kind: OptimumKind }[] = [];
    if (pc.A > 0 && pc.B > 0) {
      const s = Math.sqrt((m * pc.A) / pc.B);
      if (s > pc.l && s < pc.r) cands.push({ p: s, kind: 'stationary' });
    }
    if (X !== null && pc.A > 0 && X + pc.B > 0) {
      const c = pc.A / (X + pc.B); // A/p − B = X
      if (c > pc.l && c < pc.r) cands.push({ p: c, kind: 'capacity' });
    }
    const rEnd = pc.openRight ? pc.r * OPEN : pc.r;
    const vl = piecePi(pc, pc.l, m, X);
    const vr = piecePi(pc, rEnd, m, X);
    consider(pc.l, vl, 'breakpoint');
    consider(rEnd, vr, pc.openRight ? 'open-end' : 'breakpoint');
    let inner: { p: number; v: number } | undefined;
    for (const c of cands) {
      const v = piecePi(pc, c.p, m, X);
      consider(c.p, v, c.kind);
      if (!inner || v > inner.v) inner = { p: c.p, v };
    }
    seq.push(vl);
    if (inner) seq.push(inner.v);
    seq.push(vr);
  }
  const scale = Math.max(best.v, 1e-300);
  const localMaxima = countLocalMaxima(seq, 1e-9 * scale);
  const o = outcomeAt(best.p, thetas, ks, server);
  return { ...o, unimodal: localMaxima <= 1, localMaxima, kind: best.kind, priceRange: range };
}

/**
 * Local maxima of a sequence that is monotone between consecutive entries, with hysteresis: a peak
 * counts when the sequence has risen by more than `tol` since the last trough and then falls by more
 * than `tol`.
 */
export function countLocalMaxima(seq: number[], tol: number): number {
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
