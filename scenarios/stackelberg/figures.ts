import { barsFigure, type Figure, type RunData } from '../common/figures.ts';

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const s = run.summary;
  const p = s.perSlot?.[0];
  const b = p?.baselines;
  const out: (Figure | undefined)[] = [];
  if (b?.pricing) {
    out.push(
      barsFigure(
        'pricing-baselines',
        'Server profit: GSRP against the pricing baselines (slot 0)',
        ['gsrp', 'random', 'historical'].filter((k) => b.pricing[k]).flatMap((k) => [
          { group: k, series: 'profit', value: b.pricing[k].profit },
          { group: k, series: 'price', value: b.pricing[k].price },
        ]),
      ),
    );
  }
  if (b?.purchasing?.gurp) {
    const rows: { group: string; series: string; value: number }[] = [];
    for (const k of ['gurp', 'random', 'fixed']) (b.purchasing[k]?.utilities ?? []).forEach((u: number, i: number) => i < 20 && rows.push({ group: k, series: `ue-${i}`, value: u }));
    out.push(barsFigure('purchasing-baselines', 'Each user’s utility: GURP against the purchasing baselines at the equilibrium price (slot 0, up to 20 users)', rows));
  }
  const eq = p?.equilibrium;
  const ref = p?.reference;
  if (Array.isArray(eq?.purchases) && Array.isArray(ref?.purchases)) {
    const data = eq.purchases.slice(0, 2000).map((x: number, i: number) => ({ user: i, distributed: x, reference: ref.purchases[i] }));
    out.push({
      id: 'purchases-vs-reference',
      title: 'Purchases at equilibrium: distributed run against the reference solver (slot 0)',
      spec: {
        width: 360,
        height: 300,
        data: { values: data },
        mark: { type: 'point', filled: true },
        encoding: { x: { field: 'reference', type: 'quantitative', title: 'reference x_i' }, y: { field: 'distributed', type: 'quantitative', title: 'distributed x_i' } },
      },
    });
  }
  return out;
}
