import { barsFigure, seriesFigure, type Figure, type RunData, type Row } from '../common/figures.ts';
type S = Record<string, any>;

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const p = run.summary.perSlot?.[0];
  const out: (Figure | undefined)[] = [];
  const t = p?.extra?.trajectory;
  if (t?.r?.length) {
    const rows: Row[] = t.r.map((r: number, i: number) => ({ r, 'U, server profits (money)': t.U?.[i] ?? null, 'contract users (users)': t.nc?.[i] ?? null, 'spot price (money/unit)': t.price?.[i] ?? null, 'broker balance (money)': t.balance?.[i] ?? null }));
    out.push(seriesFigure('fee-iteration', `Registration-fee iteration (${p.equilibrium?.auction ?? ''} auction): U_k, contract users, spot price and broker balance against the fee r_k`, rows, 'r', ['U, server profits (money)', 'contract users (users)', 'spot price (money/unit)', 'broker balance (money)'], { xTitle: 'registration fee r_k', xUnit: 'money' }));
  }
  const a = p?.baselines?.auctions as S | undefined;
  if (a) {
    const rows = Object.entries(a).flatMap(([k, v]: [string, S]) => [
      { group: k, series: 'U_max (money)', value: v.Umax },
      { group: k, series: 'r* (money)', value: v.rStar },
      { group: k, series: 'contract users at r* (users)', value: v.ncStar },
      { group: k, series: 'iterations (count)', value: v.iterations },
    ]);
    out.push(barsFigure('auctions', 'Both spot auctions on the same parameters (reference): U_max, r*, contract users, iterations', rows));
  }
  return out;
}

/** Units of the config keys and recorded values (resource in units, money in the paper's money units). */
export const units: Record<string, string> = {
  M: 'servers', N: 'users', P: 'money/unit', l: 'money/unit', c0: 'money', tau: 'money', maxIterations: 'iterations', phiA: 'ratio', phiB: 'ratio', seed: 'index', slots: 'count',
  'servers.R': 'units', 'servers.kappa': 'money/unit', 'servers.a': 'money/unit', 'servers.zeta': 'ratio', 'users.D': 'units', 'users.v': 'money/unit', 'users.rho': 'ratio',
  rStar: 'money', r: 'money', Umax: 'money', U: 'money', ncStar: 'users', nc: 'users', nr: 'users', kStar: 'iterations', k: 'iterations', iterations: 'iterations', spotUnitsStar: 'units', spotUnits: 'units', priceStar: 'money/unit', price: 'money/unit', balanceStar: 'money', balance: 'money', fees: 'money', published: 'count', pb: 'money/unit', spread: 'money/unit',
};
