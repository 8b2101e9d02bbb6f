/**
 * The words the console and the report use for "this slot equals …": what the distributed slot was
 * compared with (`ReferenceSlot.compare.against`), and, when that is a rule rather than the optimum,
 * the optimum and the rule's gap to it. A mechanism that is a rule (a price step, a heuristic) is
 * checked against the same rule computed centrally; a bare "✓ equals reference" beside it reads as
 * "optimal", which it is not, so every verdict names its comparison.
 */
import type { ReferenceSlot } from '../scenarios/types.ts';

export type Compare = ReferenceSlot['compare'];

/** what a slot was compared with when its scenario does not say */
export const DEFAULT_AGAINST = 'the reference solver';

export function againstOf(c: Compare): string {
  return c.against ?? DEFAULT_AGAINST;
}

/** 14.754842 — eight significant digits, trailing zeros dropped */
export function fmtValue(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(8).replace(/\.?0+$/, '').replace(/\.?0+e/, 'e');
}

/** 0.31 — two significant digits of a percentage */
export function fmtPct(x: number): string {
  return String(Number(x.toPrecision(2)));
}

/** "the optimum price is 14.754842 (gap 0.31 %)", or '' when the slot was compared with the optimum itself */
export function optimumClause(c: Compare): string {
  const o = c.optimum;
  return o ? `the optimum ${o.label} is ${fmtValue(o.value)} (gap ${fmtPct(o.gapPct)} %)` : '';
}

/**
 * One slot's verdict: "✓ equals the gsrp-step rule computed centrally; the optimum price is 14.754842
 * (gap 0.31 %)", or "✗ differs from the reference optimum (gap 2.1e-3)". `aside` (e.g. " (2 replies
 * missing)") follows the comparison.
 */
export function slotVerdict(c: Compare, aside = ''): string {
  const head = c.ok ? `✓ equals ${againstOf(c)}${aside}` : `✗ differs from ${againstOf(c)} (gap ${fmtValue(c.gap)})${aside}`;
  const opt = optimumClause(c);
  return opt ? `${head}; ${opt}` : head;
}

/** The distinct comparisons of a run, in order of first appearance, with how many slots each. */
export function comparisons(per: { compare: Compare }[]): { against: string; slots: number }[] {
  const out: { against: string; slots: number }[] = [];
  for (const r of per) {
    const a = againstOf(r.compare);
    const g = out.find((x) => x.against === a);
    if (g) g.slots++;
    else out.push({ against: a, slots: 1 });
  }
  return out;
}

/** "the gsrp-step rule computed centrally", or "what each slot was compared with" when they differ */
export function comparedWith(per: { compare: Compare }[]): string {
  const cs = comparisons(per);
  return cs.length === 0 ? DEFAULT_AGAINST : cs.length === 1 ? cs[0].against : 'what each slot was compared with';
}

/**
 * The run's verdict, without a subject: "equals the reference solver"; "equals the gsrp-step rule
 * computed centrally on every slot; not the optimum: the largest gap to the optimum price is 0.62 %
 * (slot 3)"; "differs from the reference optimum on some slot". It claims no more than its slots
 * did: where a slot was compared with a rule, the run is said to equal that rule, and the optimum's
 * gap is given when the scenario computed it.
 */
export function runVerdict(per: { slot: number; compare: Compare }[], ok: boolean): string {
  const cs = comparisons(per);
  if (!ok) return `differs from ${comparedWith(per)} on some slot`;
  let head: string;
  if (cs.length <= 1) head = `equals ${comparedWith(per)}${per.length > 1 && per.some((r) => r.compare.against !== undefined) ? ' on every slot' : ''}`;
  else head = `equals, slot by slot, what it was compared with: ${cs.map((c) => `${c.against} (${c.slots} ${c.slots === 1 ? 'slot' : 'slots'})`).join('; ')}`;
  const withOpt = per.filter((r) => r.compare.optimum);
  if (!withOpt.length) return head;
  if (per.length === 1) return `${head}; ${optimumClause(per[0].compare)}`;
  const worst = withOpt.reduce((a, b) => (b.compare.optimum!.gapPct > a.compare.optimum!.gapPct ? b : a));
  const o = worst.compare.optimum!;
  return `${head}; not the optimum: the largest gap to the optimum ${o.label} is ${fmtPct(o.gapPct)} % (slot ${worst.slot})`;
}
