import { barsFigure, seriesFigure, type Figure, type RunData, type Row } from '../common/figures.ts';
type S = Record<string, any>;

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const p = run.summary.perSlot?.[0];
  const out: (Figure | undefined)[] = [];
  const t = p?.extra?.trajectory;
  if (t?.r?.length) {
    const rows: Row[] = t.r.map((r: number, i: number) => ({ r, 'U (server profits)': t.U?.[i] ?? null, 'contract users': t.nc?.[i] ?? null, 'spot price': t.price?.[i] ?? null, 'broker balance': t.balance?.[i] ?? null }));
    out.push(seriesFigure('fee-iteration', `Registration-fee iteration (${p.equilibrium?.auction ?? ''} auction): U_k, contract users, spot price and broker balance against the fee r_k`, rows, 'r', ['U (server profits)', 'contract users', 'spot price', 'broker balance'], { xTitle: 'registration fee r_k' }));
  }
  const a = p?.baselines?.auctions as S | undefined;
  if (a) {
    const rows = Object.entries(a).flatMap(([k, v]: [string, S]) => [
      { group: k, series: 'U_max', value: v.Umax },
      { group: k, series: 'r*', value: v.rStar },
      { group: k, series: 'contract users at r*', value: v.ncStar },
      { group: k, series: 'iterations', value: v.iterations },
    ]);
    out.push(barsFigure('auctions', 'Both spot auctions on the same parameters (reference): U_max, r*, contract users, iterations', rows));
  }
  return out;
}
