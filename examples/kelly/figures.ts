/** The example's own figures, from a run's files (the report adds the generic ones). */
import { barsFigure, linesFigure, seriesFigure, type Figure, type RunData } from 'mecsim';

export function figures(run: RunData): (Figure | undefined)[] {
  const first = run.trajectory.filter((r) => r.slot === 0);
  const bidCols = Object.keys(first[0] ?? {}).filter((k) => k.startsWith('bid '));
  const slots = (run.summary.perSlot ?? []) as Record<string, any>[];
  return [
    linesFigure('bids', 'Bids per round (slot 0, the first users)', first, 'round', bidCols, { yTitle: 'bid' }),
    seriesFigure('price', 'The price Σb/C and its relative change per round (slot 0)', first, 'round', ['price', 'change']),
    barsFigure(
      'welfare',
      'Welfare per slot: proportional share, the optimum and an equal split',
      slots.flatMap((s) => [
        { group: `slot ${s.slot}`, series: 'proportional share', value: Number(s.equilibrium?.welfare) },
        { group: `slot ${s.slot}`, series: 'optimum', value: Number(s.reference?.welfare) },
        { group: `slot ${s.slot}`, series: 'equal split', value: Number(s.baselines?.equalSplit?.welfare) },
      ]),
    ),
  ];
}
