/**
 * The paper's claims, computed from per-run numbers by pure functions. Each returns its verdict with the numbers
 * it rests on; the verdict is whatever the numbers say (the spec warns which claims our model does not support).
 * The reference side feeds them from small in-process sweeps; a benchmark or a multi-seed sweep can feed them the
 * same rows.
 */
import type { Claim } from '../types.ts';
import { claim, n } from '../common/claims.ts';

export type { Claim };

/** one `nash` run and its ODPC baseline on the same users */
export interface NashClaimRow {
  N: number;
  seed: number;
  mqoConverged: boolean;
  odpcConverged: boolean;
  mqoCost: number;
  odpcCost: number;
  mqoOffloading: number;
  odpcOffloading: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/**
 * (1) MQO has lower total cost than ODPC: over runs where both converged, holds iff MQO is strictly cheaper in
 *     more than half of them and the mean relative difference (MQO − ODPC) / ODPC is negative.
 * (2) MQO lets more users offload as N grows: per N (mean over converged runs), holds iff MQO's offloading count
 *     is ≥ ODPC's at every N and strictly greater at the largest N.
 */
export function nashClaims(rows: NashClaimRow[]): Claim[] {
  const both = rows.filter((r) => r.mqoConverged && r.odpcConverged);
  const rel = both.map((r) => (r.mqoCost - r.odpcCost) / r.odpcCost);
  const cheaper = rel.filter((d) => d < -1e-12).length;
  // the per-run costs are in the reference's claimRuns
  const c1 = claim(
    'mqo-cost-below-odpc',
    'the joint offloading-and-power game (MQO) has lower total energy-plus-delay cost than ODPC (power fixed at p_max)',
    both.length ? cheaper > both.length / 2 && mean(rel) < 0 : null,
    [n('runs', rows.length, 'count'), n('runs where both converged', both.length, 'count'), n('runs where MQO is cheaper', cheaper, 'count'), n('mean relative cost difference (MQO − ODPC) / ODPC', both.length ? mean(rel) : null, 'ratio')],
    rows.length > both.length ? `${rows.length - both.length} runs without convergence of MQO or ODPC left out` : null,
  );
  const Ns = [...new Set(both.map((r) => r.N))].sort((a, b) => a - b);
  const perN = Ns.map((N) => {
    const rs = both.filter((r) => r.N === N);
    return { N, runs: rs.length, mqo: mean(rs.map((r) => r.mqoOffloading)), odpc: mean(rs.map((r) => r.odpcOffloading)) };
  });
  const last = perN[perN.length - 1];
  const c2 = claim(
    'mqo-more-offloading-as-n-grows',
    'MQO lets at least as many users offload as ODPC at every N, and more at the largest N',
    perN.length ? perN.every((p) => p.mqo >= p.odpc) && last.mqo > last.odpc : null,
    perN.flatMap((p) => [n(`users offloading, MQO, N = ${p.N} (mean of ${p.runs})`, p.mqo, 'users'), n(`users offloading, ODPC, N = ${p.N} (mean of ${p.runs})`, p.odpc, 'users')]),
    perN.length >= 2 ? `MQO's mean offloading count goes from ${perN[0].mqo} at N = ${perN[0].N} to ${last.mqo} at N = ${last.N} (ODPC: ${perN[0].odpc} to ${last.odpc})` : null,
  );
  return [c1, c2];
}

/** rounds of one pricing run (decentralized) at a number of users N */
export interface RoundsRow {
  N: number;
  rounds: number;
  /** where the count comes from (e.g. `this run` over the bus, `in-process`) */
  source?: string;
}

/** the decentralized mechanism needs a number of rounds independent of N: holds iff all rows have the same count */
export function roundsIndependentClaim(rows: RoundsRow[]): Claim {
  const counts = [...new Set(rows.map((r) => r.rounds))];
  return claim(
    'decentralized-rounds-independent-of-n',
    'the decentralized pricing mechanism needs the same number of rounds whatever the number of users',
    rows.length >= 2 ? counts.length === 1 : null,
    rows.map((r) => n(`rounds at N = ${r.N}${r.source !== undefined ? ` (${r.source})` : ''}`, r.rounds, 'rounds')),
    rows.length < 2 ? 'needs runs at two or more N' : null,
  );
}

/** the server's measured CPU time of one pricing run */
export interface ServerLoadRow {
  N: number;
  mechanism: 'semi-distributed' | 'decentralized';
  serverCpuMs: number;
}

/**
 * The semi-distributed mechanism loads the server more as users grow: holds iff its server CPU time increases
 * with N (strictly from the smallest to the largest N, never falling by more than 10 % between consecutive N,
 * which absorbs timer noise at small N). Needs measured CPU times (the benchmark), not computable in-process.
 */
export function serverLoadClaim(rows: ServerLoadRow[]): Claim {
  const semi = rows.filter((r) => r.mechanism === 'semi-distributed').sort((a, b) => a.N - b.N);
  const ok = semi.length >= 2 && semi[semi.length - 1].serverCpuMs > semi[0].serverCpuMs && semi.every((r, j) => j === 0 || r.serverCpuMs >= 0.9 * semi[j - 1].serverCpuMs);
  return claim(
    'semi-distributed-server-load-grows-with-n',
    "the semi-distributed mechanism's work at the base station grows with the number of users",
    semi.length >= 2 ? ok : null,
    rows.map((r) => n(`server CPU time, ${r.mechanism}, N = ${r.N}`, r.serverCpuMs, 'ms')),
    semi.length < 2 ? 'needs measured server CPU times at two or more N' : null,
  );
}

/** one mobility run */
export interface MobilityClaimRow {
  M: number;
  predictor: 'pa' | 'kalman';
  tasks: number;
  successes: number;
  /** optional detail, not used by the claims */
  successRate?: number;
  rateByOrder?: number[];
}

/**
 * (1) success rises with M — a claim about the paper's scheme, the predictor (`kalman`): its pooled success rate is
 *     non-decreasing in M and higher at the largest M than at the smallest. PA's trend is reported beside it.
 * (2) the Kalman predictor beats PA: holds iff its pooled success rate is strictly higher at every M.
 */
export function mobilityClaims(rows: MobilityClaimRow[]): Claim[] {
  const Ms = [...new Set(rows.map((r) => r.M))].sort((a, b) => a - b);
  const rateOf = (M: number, p: string) => {
    const rs = rows.filter((r) => r.M === M && r.predictor === p);
    const t = rs.reduce((a, r) => a + r.tasks, 0);
    return t ? rs.reduce((a, r) => a + r.successes, 0) / t : NaN;
  };
  const has = (p: string) => rows.some((r) => r.predictor === p);
  const preds = (['pa', 'kalman'] as const).filter(has);
  const table = Ms.map((M) => ({ M, ...Object.fromEntries(preds.map((p) => [p, rateOf(M, p)])) }));
  const rising = (p: string) => {
    const rs = Ms.map((M) => rateOf(M, p));
    return rs.length >= 2 && rs.every((r, j) => j === 0 || r >= rs[j - 1]) && rs[rs.length - 1] > rs[0];
  };
  const perM = table.flatMap((t) => preds.map((p) => n(`success rate, ${p}, M = ${t.M}`, (t as Record<string, number>)[p], 'fraction')));
  const c1 = claim(
    'success-rises-with-m',
    'the success rate of result delivery with the predictor (kalman) rises with the number of servers M',
    Ms.length >= 2 && has('kalman') ? rising('kalman') : null,
    perM,
    has('pa') ? `pa's success rate ${rising('pa') ? 'also rises' : 'does not rise'} with M` : null,
  );
  const c2 = claim(
    'kalman-beats-pa',
    'predicting the movement (Kalman) delivers more results than the nearest-server choice (PA)',
    preds.length === 2 && Ms.length ? Ms.every((M) => rateOf(M, 'kalman') > rateOf(M, 'pa')) : null,
    perM,
  );
  return [c1, c2];
}
