import { barsFigure, linesFigure, seriesFigure, type Figure, type RunData } from '../common/figures.ts';
type S = Record<string, any>;
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const p = run.summary.perSlot?.[0];
  const sch = p?.baselines?.schemes as S | undefined;
  const out: (Figure | undefined)[] = [];
  if (sch) {
    const rows = Object.entries(sch).flatMap(([k, v]: [string, S]) => [
      { group: k, series: 'cloud capacity C_c (GHz)', value: v.Cc },
      { group: k, series: 'wholesale price a2 ($/GHz·h)', value: v.a2 },
      { group: k, series: 'cloud profit ($/h)', value: v.profitCloud },
      { group: k, series: 'MEC profit ($/h)', value: v.profitMecs },
      { group: k, series: 'total profit ($/h)', value: v.total },
    ]);
    out.push(barsFigure('schemes', 'The four schemes side by side on the same parameters (slot 0)', rows));
    const iv = Object.entries(sch).flatMap(([k, v]: [string, S]) =>
      v.intervals
        ? [
            { group: k, series: 'buyback per interval (GHz)', variant: 'realized', value: v.intervals.buybackRealized },
            { group: k, series: 'buyback per interval (GHz)', variant: 'expected', value: v.intervals.buybackExpected },
            { group: k, series: 'buyback cost ($/h)', variant: 'realized', value: v.intervals.costRealized },
            { group: k, series: 'buyback cost ($/h)', variant: 'expected', value: v.intervals.costExpected },
            { group: k, series: 'deadline misses (count)', variant: 'realized', value: v.intervals.misses },
          ]
        : [],
    );
    out.push(barsFigure('buyback', 'Interval phase: realized against expected buyback and cost, deadline misses', iv));
  }
  const eq = p?.equilibrium;
  if (Array.isArray(eq?.CC) && Array.isArray(eq?.b)) {
    const lam: number[] = (run.summary.config?.mecs ?? []).map((m: S) => m.lambda);
    const data = eq.CC.map((cc: number, i: number) => ({ server: `mec-${i}`, index: i, wholesale: cc, buyback: eq.b[i], lambda: lam[i] ?? null }));
    out.push(linesFigure('per-mec', 'Per MEC server at the optimal price: wholesale C^C and expected buyback b_e', data, 'index', ['wholesale', 'buyback'], { xTitle: 'MEC server index', xUnit: 'index', yTitle: 'capacity', yUnit: 'GHz' }));
  }
  const pricing = run.trajectory.filter((r) => r.kind === 'price' && isNum(r.a2));
  if (pricing.length) out.push(seriesFigure('pricing-rounds', 'Optimal-pricing rounds: wholesale price a2, demand X and the balance', pricing.map((r, i) => ({ ...r, n: i + 1 })), 'n', ['a2', 'X', 'Cc', 'pe', 'profitCloud'].filter((c) => pricing.some((r) => isNum(r[c]))), { xTitle: 'pricing round', xUnit: 'count', units: run.units }));
  return out;
}

/** Units (the spec: capacity in GHz, workload in Gcycles, time in s, money in $ as hourly rates). */
export const units: Record<string, string> = {
  seed: 'index', slots: 'count', R: 'Gcycles', taskGbit: 'Gbit', K: 'intervals', dt: 's', c1: '$/GHz·h', c2: '$/GHz²·h', c3: '$/GHz·h', c4: '$/GHz²·h', a1: '$/Gbit', w: '$/h per s', a2const: '$/GHz·h', tol: 'ratio', batch: 'intervals',
  'cloud.n': 'servers', 'cloud.Cbar': 'GHz', 'cloud.lambda': 'tasks/s', 'cloud.Dbar': 's', 'mecs.C': 'GHz', 'mecs.lambda': 'tasks/s', 'mecs.D': 's',
  a2: '$/GHz·h', Cc: 'GHz', CC: 'GHz', b: 'GHz', X: 'GHz', A: 'GHz', Dc: 's', pc: '$/h', payments: '$/h', profitCloud: '$/h', profitMecs: '$/h', total: '$/h', mecs: '$/h', cloud: '$/h', H: 'h', rounds: 'rounds',
  requests: 'count', grants: 'count', requestMessages: 'count', grantMessages: 'count', partialGrants: 'count', misses: 'count', buybackRealized: 'GHz', buybackRequested: 'GHz', buybackExpected: 'GHz', buybackRatio: 'ratio', intervals: 'intervals', interval: 'index', costRealized: '$/h', costExpected: '$/h',
  requesters: 'count', requested: 'GHz',
  // the price round's balance: pe = dP/dX and the cloud's marginal value v, both prices; phi = pe − v
  pe: '$/GHz·h', v: '$/GHz·h', phi: '$/GHz·h',
};
