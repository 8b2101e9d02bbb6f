import { barsFigure, paletteScale, type Figure, type RunData } from '../common/figures.ts';

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
          { group: k, series: 'server profit (money)', value: b.pricing[k].profit },
          { group: k, series: 'price (money/unit)', value: b.pricing[k].price },
        ]),
      ),
    );
  }
  if (b?.purchasing?.gurp) {
    // one panel, every scheme's bar beside the others for each user: utilities compared on one axis
    const schemes = ['gurp', 'random', 'fixed'].filter((k) => Array.isArray(b.purchasing[k]?.utilities));
    const rows = schemes.flatMap((k) => (b.purchasing[k].utilities as number[]).slice(0, 20).map((u, i) => ({ user: `ue-${i}`, scheme: k, utility: u })));
    const users = [...new Set(rows.map((r) => r.user))];
    out.push({
      id: 'purchasing-baselines',
      title: 'Each user’s utility: GURP against the purchasing baselines at the equilibrium price (slot 0, up to 20 users)',
      spec: {
        width: Math.min(620, Math.max(200, 30 * users.length)),
        height: 220,
        data: { values: rows },
        mark: 'bar',
        encoding: {
          x: { field: 'user', type: 'nominal', title: 'user', sort: users },
          xOffset: { field: 'scheme', sort: schemes },
          y: { field: 'utility', type: 'quantitative', title: 'utility (utils)' },
          color: { field: 'scheme', type: 'nominal', title: 'purchasing', sort: schemes, scale: paletteScale(schemes) },
        },
      },
    });
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
        encoding: { x: { field: 'reference', type: 'quantitative', title: 'reference purchase x_i (units)' }, y: { field: 'distributed', type: 'quantitative', title: 'distributed purchase x_i (units)' } },
      },
    });
  }
  return out;
}

/** Units of the config keys and recorded values (the spec's, in SI: bits, Hz, seconds). */
export const units: Record<string, string> = {
  'server.f': 'Hz', 'server.m': 'money/unit', 'server.X': 'units', 'server.p0': 'money/unit', 'server.step': 'money/unit', 'server.patience': 'rounds', 'server.epsilon': 'ratio',
  'users.theta': 'utils', 'users.s': 'bit', 'users.c': 'cycles/bit', 'users.r': 'bit/s', 'users.tmax': 's',
  price: 'money/unit', profit: 'money', buyers: 'users', demand: 'units', purchases: 'units', utility: 'utils', utilities: 'utils', seed: 'index', slots: 'count',
};
