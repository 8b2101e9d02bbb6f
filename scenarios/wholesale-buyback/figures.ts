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
            { group: k, series: 'buyback: realized', value: v.intervals.buybackRealized },
            { group: k, series: 'buyback: expected', value: v.intervals.buybackExpected },
            { group: k, series: 'buyback cost: realized', value: v.intervals.costRealized },
            { group: k, series: 'buyback cost: expected', value: v.intervals.costExpected },
            { group: k, series: 'deadline misses', value: v.intervals.misses },
          ]
        : [],
    );
    out.push(barsFigure('buyback', 'Interval phase: realized against expected buyback and cost, deadline misses', iv));
  }
  const eq = p?.equilibrium;
  if (Array.isArray(eq?.CC) && Array.isArray(eq?.b)) {
    const lam: number[] = (run.summary.config?.mecs ?? []).map((m: S) => m.lambda);
    const data = eq.CC.map((cc: number, i: number) => ({ server: `mec-${i}`, index: i, wholesale: cc, buyback: eq.b[i], lambda: lam[i] ?? null }));
    out.push(linesFigure('per-mec', 'Per MEC server at the optimal price: wholesale C^C and expected buyback b_e', data, 'index', ['wholesale', 'buyback'], { xTitle: 'MEC server index', yTitle: 'GHz' }));
  }
  const pricing = run.trajectory.filter((r) => r.kind === 'price' && isNum(r.a2));
  if (pricing.length) out.push(seriesFigure('pricing-rounds', 'Optimal-pricing rounds: wholesale price a2, demand X and the balance', pricing.map((r, i) => ({ ...r, n: i + 1 })), 'n', ['a2', 'X', 'Cc', 'pe', 'profitCloud'].filter((c) => pricing.some((r) => isNum(r[c]))), { xTitle: 'pricing round' }));
  return out;
}
