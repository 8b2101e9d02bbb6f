import { barsFigure, linesFigure, seriesFigure, type Figure, type RunData, type Row } from '../common/figures.ts';
type S = Record<string, any>;
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** This scenario's own figures (its spec's "What a run must show"), from a run's files; a field a run lacks gives no figure. */
export function figures(run: RunData): (Figure | undefined)[] {
  const r = run.summary.results;
  const out: (Figure | undefined)[] = [];
  const pol = r?.policies as S | undefined;
  if (pol) {
    const rows = Object.entries(pol).flatMap(([k, v]: [string, S]) => [
      { group: k, series: 'time-average energy (J)', value: v.energy },
      { group: k, series: 'average latency (s)', value: v.latency },
      { group: k, series: 'migrations (count)', value: v.migrations },
    ]);
    out.push(barsFigure('policies', `NE against the baselines (the paper’s Fig. 5): time-average energy against the budget C̄ = ${r.cbar}, latency, migrations`, rows));
  }
  // Z and the running average of energy against the budget (the paper's Fig. 7/8)
  const slots = run.slots.filter((x) => isNum(x.Z) || isNum(x['eq.Z']));
  if (slots.length) {
    let sum = 0;
    const rows: Row[] = slots.map((x, i) => {
      const C = Number(x.C ?? x['eq.C']);
      sum += C;
      return { slot: x.slot, Z: Number(x.Z ?? x['eq.Z']), 'time-average energy': sum / (i + 1), budget: isNum(r?.cbar) ? r.cbar : null };
    });
    out.push(linesFigure('budget', 'Virtual queue Z and the time-average energy against the budget C̄ (the paper’s Fig. 7/8)', rows, 'slot', ['time-average energy', 'budget'], { xUnit: 'index', yTitle: 'energy per slot', yUnit: 'J' }));
    out.push(seriesFigure('queue', 'Lyapunov queue Z per slot', rows, 'slot', ['Z'], { xUnit: 'index', units: run.units }));
  }
  return out;
}

/** Units of the config keys and recorded values (the spec: energy in J per slot, times in s). */
export const units: Record<string, string> = {
  N: 'users', M: 'servers', cbar: 'J', alpha: 'ratio', psi: 'ratio', epsilon: 'ratio', Phi: 'rounds', area: 'm', spacing: 'm', f: 'cycles/s', eta: 'm/s', seed: 'index', slots: 'count',
  Z: 'J', Znext: 'J', C: 'J', Cexec: 'J', latency: 's', latencySmooth: 's', xi: 'V·s + Z·J', loads: 'tasks', migrations: 'count', serversPerUe: 'servers', loops: 'count', loopsPerBr: 'count', neGap: 'tasks', gameRounds: 'rounds', energy: 'J',
};
