/**
 * Each scenario's own figures (the ones its spec lists under "What a run must show"), built from a
 * run's summary.json. Every accessor is defensive: a field a run does not have gives no figure,
 * never an error. The generic figures (convergence per round, per-slot series, latencies) are in
 * report.ts.
 */
import { barsFigure, linesFigure, seriesFigure, type Figure, type Row, type RunData } from './report.ts';

type S = Record<string, any>;
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function stackelberg(run: RunData): (Figure | undefined)[] {
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

function budgetNash(run: RunData): (Figure | undefined)[] {
  const r = run.summary.results;
  const out: (Figure | undefined)[] = [];
  const pol = r?.policies as S | undefined;
  if (pol) {
    const rows = Object.entries(pol).flatMap(([k, v]: [string, S]) => [
      { group: k, series: 'time-average energy', value: v.energy },
      { group: k, series: 'average latency (s)', value: v.latency },
      { group: k, series: 'migrations', value: v.migrations },
    ]);
    out.push(barsFigure('policies', `NE against the baselines (the seed’s Fig. 5): time-average energy against the budget C̄ = ${r.cbar}, latency, migrations`, rows));
  }
  // Z and the running average of energy against the budget (the seed's Fig. 7/8)
  const slots = run.slots.filter((x) => isNum(x.Z) || isNum(x['eq.Z']));
  if (slots.length) {
    let sum = 0;
    const rows: Row[] = slots.map((x, i) => {
      const C = Number(x.C ?? x['eq.C']);
      sum += C;
      return { slot: x.slot, Z: Number(x.Z ?? x['eq.Z']), 'time-average energy': sum / (i + 1), budget: isNum(r?.cbar) ? r.cbar : null };
    });
    out.push(linesFigure('budget', 'Virtual queue Z and the time-average energy against the budget C̄ (the seed’s Fig. 7/8)', rows, 'slot', ['time-average energy', 'budget'], { yTitle: 'energy per slot' }));
    out.push(seriesFigure('queue', 'Lyapunov queue Z per slot', rows, 'slot', ['Z']));
  }
  return out;
}

function futuresSpot(run: RunData): (Figure | undefined)[] {
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

function wholesaleBuyback(run: RunData): (Figure | undefined)[] {
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

function offloadEnergy(run: RunData): (Figure | undefined)[] {
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

const BY_SCENARIO: Record<string, (run: RunData) => (Figure | undefined)[]> = {
  stackelberg,
  'budget-nash': budgetNash,
  'futures-spot': futuresSpot,
  'wholesale-buyback': wholesaleBuyback,
  'offload-energy': offloadEnergy,
};

export function scenarioFigures(run: RunData): Figure[] {
  const f = BY_SCENARIO[run.summary.scenario as string];
  if (!f) return [];
  try {
    return f(run).filter((x): x is Figure => x !== undefined);
  } catch {
    return []; // a summary of an older shape: the generic figures still stand
  }
}
