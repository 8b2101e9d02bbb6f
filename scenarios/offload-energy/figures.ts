import { linesFigure, seriesFigure, type Figure, type RunData, type Row } from '../common/figures.ts';
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
    out.push(linesFigure('fraction-curves', 'Migrated fraction x_i*(P) for U1..U5 (the seed’s Fig. 5), with the reference P*', rows, 'P', names.map((n) => `${n} (${curves.series[n].user})`), { xTitle: 'price P', yTitle: 'x_i*' }));
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
        encoding: { x: { field: 'M', type: 'quantitative', title: 'servers M' }, y: { field: 'successRate', type: 'quantitative', title: 'success rate', scale: { zero: false } }, color: { field: 'predictor', type: 'nominal' } },
      },
    });
  }
  const byOrder = p?.reference?.byOrder ?? p?.equilibrium?.byOrder;
  if (byOrder?.tasks?.length) {
    const rows = byOrder.tasks.map((n: number, k: number) => ({ order: k + 1, successRate: n ? byOrder.successes[k] / n : null, tasks: n }));
    out.push(linesFigure('success-vs-order', 'Success rate against task order (slot 0)', rows, 'order', ['successRate'], { xTitle: 'task order for its user', yTitle: 'success rate' }));
  }
  const nash = s.results?.claimRuns?.filter?.((r: S) => 'mqoCost' in r);
  if (nash?.length) {
    // several seeds per N: the mean over the seeds at each N
    const Ns: number[] = [...new Set<number>(nash.map((r: S) => Number(r.N)))].sort((a, b) => a - b);
    const avg = (rs: S[], k: string) => rs.reduce((a, r) => a + Number(r[k]), 0) / rs.length;
    const rows: Row[] = Ns.map((N) => {
      const rs = nash.filter((r: S) => r.N === N);
      return { N, 'MQO cost': avg(rs, 'mqoCost'), 'ODPC cost': avg(rs, 'odpcCost'), 'MQO offloading': avg(rs, 'mqoOffloading'), 'ODPC offloading': avg(rs, 'odpcOffloading') };
    });
    const seeds = new Set(nash.map((r: S) => r.seed)).size;
    out.push(seriesFigure('mqo-vs-odpc', `Joint offloading × power game (MQO) against ODPC as N grows: total cost and offloading users (mean over ${seeds} seed${seeds > 1 ? 's' : ''})`, rows, 'N', ['MQO cost', 'ODPC cost', 'MQO offloading', 'ODPC offloading'], { xTitle: 'users N' }));
  }
  const pricingClaim = (Array.isArray(s.results?.claims) ? s.results.claims : []).find((c: S) => c?.id === 'decentralized-rounds-independent-of-n' && Array.isArray(c?.numbers?.perN));
  if (pricingClaim) {
    const rows: Row[] = pricingClaim.numbers.perN.map((r: S) => ({ N: r.N, rounds: r.rounds }));
    out.push(linesFigure('rounds-vs-N', 'Decentralized pricing: message rounds against N (the seed’s Fig. 6)', rows, 'N', ['rounds'], { xTitle: 'users N', logX: true }));
  }
  return out;
}
