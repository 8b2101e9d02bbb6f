/**
 * The stackelberg reference solver against its first form, kept here as the oracle: an object per
 * piece, per event and per candidate, the form the solver had before it became arrays of numbers
 * (scenarios/stackelberg/reference.ts). Same result, strictly equal, on populations fast-check draws
 * with ties in the breakpoints, users that cannot buy (k infinite, zero or negative), users out or in
 * a corner from the first price, and with and without a capacity X.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { outcomeAt, type ServerParams } from '../../scenarios/stackelberg/model.ts';
import { countLocalMaxima, OPEN, priceRange, referenceOptimum, type OptimumKind, type ReferenceResult } from '../../scenarios/stackelberg/reference.ts';

interface Piece {
  l: number;
  r: number;
  A: number;
  B: number;
  /** a user leaves at r: the right end is open */
  openRight: boolean;
}

/** The pieces of Π on [m, hi], with the regimes' sums (A, B) constant on each. */
function plainPieces(thetas: number[], ks: number[], m: number): Piece[] {
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

function plainOptimum(thetas: number[], ks: number[], server: Pick<ServerParams, 'm' | 'X'>): ReferenceResult {
  const { m, X } = server;
  const range = priceRange(thetas, ks, m);
  const ps = plainPieces(thetas, ks, m);
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

const user = fc.record({
  theta: fc.oneof(fc.double({ min: 1, max: 200, noNaN: true }), fc.constantFrom(50, 60, 80)),
  k: fc.oneof(fc.double({ min: 0.01, max: 50, noNaN: true }), fc.constantFrom(5, 10, 20, Infinity, 0, -1)),
});
const instance = fc.record({
  users: fc.array(user, { minLength: 0, maxLength: 60 }),
  m: fc.oneof(fc.double({ min: 0.1, max: 10, noNaN: true }), fc.constantFrom(1, 2)),
  X: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(1, 10)),
});

describe('stackelberg reference solver', () => {
  it('finds what its first, object-per-piece form found, on any population', () => {
    fc.assert(
      fc.property(instance, ({ users, m, X }) => {
        const thetas = users.map((u) => u.theta);
        const ks = users.map((u) => u.k);
        expect(referenceOptimum(thetas, ks, { m, X })).toStrictEqual(plainOptimum(thetas, ks, { m, X }));
      }),
      { numRuns: 3000 },
    );
  });

  it('finds the same on a population of 20,000 with many local maxima', () => {
    let x = 12345;
    const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const thetas = Array.from({ length: 20_000 }, () => 50 + 50 * next());
    const ks = Array.from({ length: 20_000 }, () => (next() < 0.4 ? 30 : 1) * (0.5 + 5 * next()));
    for (const X of [null, 5000]) {
      const ref = referenceOptimum(thetas, ks, { m: 1, X });
      expect(ref.localMaxima).toBeGreaterThan(1);
      expect(ref).toStrictEqual(plainOptimum(thetas, ks, { m: 1, X }));
    }
  });
});
