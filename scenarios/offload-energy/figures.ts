import { linesFigure, paletteScale, type Figure, type RunData, type Row } from '../common/figures.ts';
type S = Record<string, any>;

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const s = run.summary;
  const p = s.perSlot?.[0];
  const out: (Figure | undefined)[] = [];
  const curves = p?.reference?.curves;
  if (curves?.prices && curves.series) {
    const names = Object.keys(curves.series);
    const rows: Row[] = curves.prices.map((P: number, j: number) => Object.fromEntries([['P', P], ...names.map((n) => [`${n} (${curves.series[n].user})`, curves.series[n].x[j]])]));
    out.push(linesFigure('fraction-curves', 'Migrated fraction x_i*(P) for U1..U5 (the paper’s Fig. 5)', rows, 'P', names.map((n) => `${n} (${curves.series[n].user})`), { xTitle: 'price P', xUnit: 'money/Gcycle', yTitle: 'migrated fraction x_i*', yUnit: 'fraction' }));
  }
  const mob = s.results?.claimRuns?.filter?.((r: S) => 'predictor' in r);
  if (mob?.length) {
    const rows = mob.map((r: S) => ({ M: r.M, predictor: r.predictor, successRate: r.tasks ? r.successes / r.tasks : 0 }));
    out.push({
      id: 'success-vs-M',
      title: 'Delivery success rate against the number of servers M, per predictor',
      spec: {
        width: 420,
        height: 240,
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: { x: { field: 'M', type: 'quantitative', title: 'servers M (count)', axis: { tickMinStep: 1, format: 'd' } }, y: { field: 'successRate', type: 'quantitative', title: 'success rate (fraction)', scale: { zero: false } }, color: { field: 'predictor', type: 'nominal', scale: paletteScale(['pa', 'kalman']) } },
      },
    });
  }
  const byOrder = p?.reference?.byOrder ?? p?.equilibrium?.byOrder;
  if (byOrder?.tasks?.length) {
    const rows = byOrder.tasks.map((n: number, k: number) => ({ order: k + 1, successRate: n ? byOrder.successes[k] / n : null, tasks: n }));
    out.push(linesFigure('success-vs-order', 'Success rate against task order (slot 0)', rows, 'order', ['successRate'], { xTitle: 'task order for its user', xUnit: 'index', yTitle: 'success rate', yUnit: 'fraction' }));
  }
  const nash = s.results?.claimRuns?.filter?.((r: S) => 'mqoCost' in r);
  if (nash?.length) {
    // several seeds per N: the mean over the seeds, with the seeds' min–max as error bars; MQO and ODPC on shared axes
    const rows: Row[] = nash.flatMap((r: S) => [
      { N: r.N, seed: r.seed, policy: 'MQO', cost: r.mqoCost, offloading: r.mqoOffloading },
      { N: r.N, seed: r.seed, policy: 'ODPC', cost: r.odpcCost, offloading: r.odpcOffloading },
    ]);
    const seeds = new Set(nash.map((r: S) => r.seed)).size;
    const x = { field: 'N', type: 'quantitative', title: 'users N (users)', axis: { tickMinStep: 1, format: 'd' } };
    const colour = { field: 'policy', type: 'nominal', title: null, scale: paletteScale(['MQO', 'ODPC']) };
    const panel = (field: string, title: string, integer: boolean) => ({
      width: 560,
      height: 170,
      layer: [
        { mark: { type: 'errorbar', extent: 'min-max', ticks: true }, encoding: { x, y: { field, type: 'quantitative', title, ...(integer ? { axis: { tickMinStep: 1, format: 'd' } } : {}) }, color: colour } },
        { mark: { type: 'line', point: true }, encoding: { x, y: { field, type: 'quantitative', aggregate: 'mean', title }, color: colour } },
      ],
    });
    out.push({
      id: 'mqo-vs-odpc',
      title: `Joint offloading × power game (MQO) against ODPC as N grows: total cost and offloading users (mean over ${seeds} seed${seeds > 1 ? 's' : ''}, bars: min–max over the seeds)`,
      caption: 'In-process runs behind the claims (summary.json results.claimRuns); cost = β_T · delay (s) + β_E · energy (J), summed over the users.',
      spec: { data: { values: rows }, vconcat: [panel('cost', 'total cost (β_T·s + β_E·J)', false), panel('offloading', 'users offloading (users)', true)] },
    });
  }
  const roundsRows = (s.results?.claimRuns ?? []).filter?.((r: S) => typeof r?.rounds === 'number' && typeof r?.N === 'number' && !('mqoCost' in r));
  if (roundsRows?.length) {
    const rows: Row[] = roundsRows.map((r: S) => ({ N: r.N, rounds: r.rounds })).sort((a: Row, b: Row) => Number(a.N) - Number(b.N));
    out.push(linesFigure('rounds-vs-N', 'Decentralized pricing: message rounds against N (the paper’s Fig. 6)', rows, 'N', ['rounds'], { xTitle: 'users N', xUnit: 'users', yUnit: 'rounds', logX: true }));
  }
  return out;
}

/**
 * Units of the config keys and recorded values. `server.F` is in Hz for nash and in GHz for pricing
 * (the spec's units per mechanism), so it is left undeclared rather than wrong for one of them.
 */
export const units: Record<string, string> = {
  seed: 'index', slots: 'count', epsilon: 'ratio', maxSlots: 'count',
  'server.C': 'channels', 'server.W': 'Hz', 'server.omega': 'W', 'server.fmax': 'Hz', 'server.pmin': 'W', 'server.pmax': 'W', 'server.betaT': 'ratio', 'server.betaE': 'ratio',
  'users.d': 'm', 'users.s': 'bit', 'users.c': 'cycles/bit', 'users.fl': 'Hz',
  'server.Pmax': 'money/Gcycle', 'server.grid': 'count', 'server.tol': 'ratio', 'users.C': 'Gcycles', 'users.e': 'money/Gcycle', 'users.gamma': 'ratio',
  price: 'money/Gcycle', profit: 'money', demand: 'Gcycles', rounds: 'rounds', dslot: 'count', requests: 'count', grants: 'count', offloading: 'users', decisionSlots: 'count', updates: 'count', totalCost: 'cost units', totalEnergy: 'J', totalDelay: 's', meanEfficiency: 'ratio', period: 'slots', user: 'index', done: 'count', successes: 'count',
  // received power on channel k, Σ p_j g_j over its offloading users
  ...Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`I${k + 1}`, 'W'])),
};
