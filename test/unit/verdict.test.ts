/** The words for "this slot equals …" (orchestrator/verdict.ts) and the report's status line built from them. */
import { describe, expect, it } from 'vitest';
import { comparedWith, DEFAULT_AGAINST, fmtPct, optimumClause, runVerdict, slotVerdict, type Compare } from '../../orchestrator/verdict.ts';
import { statusLine } from '../../orchestrator/report.ts';

const RULE = 'the gsrp-step rule computed centrally';
const rule = (gapPct: number, ok = true): Compare => ({ ok, gap: 7.3e-7, against: RULE, optimum: { label: 'price', value: 14.754842567, gapPct } });
const optimum = (ok = true): Compare => ({ ok, gap: ok ? 1e-9 : 2.1e-3, against: 'the reference optimum' });
const bare = (ok = true): Compare => ({ ok, gap: ok ? 0 : 0.5 });
const slots = (...cs: Compare[]) => cs.map((compare, slot) => ({ slot, compare }));

describe('one slot', () => {
  it('names what it equals, and for a rule the optimum with the gap', () => {
    expect(slotVerdict(optimum())).toBe('✓ equals the reference optimum');
    expect(slotVerdict(rule(0.30612))).toBe(`✓ equals ${RULE}; the optimum price is 14.754843 (gap 0.31 %)`);
    expect(slotVerdict(bare())).toBe(`✓ equals ${DEFAULT_AGAINST}`);
  });

  it('a miss says what it differs from, with the gap; an aside follows the comparison', () => {
    expect(slotVerdict(optimum(false))).toBe('✗ differs from the reference optimum (gap 0.0021)');
    expect(slotVerdict(rule(1.5, false), ' (2 replies missing)')).toBe(`✗ differs from ${RULE} (gap 7.3e-7) (2 replies missing); the optimum price is 14.754843 (gap 1.5 %)`);
    expect(slotVerdict(bare(), ' (1 reply missing)')).toBe('✓ equals the reference solver (1 reply missing)');
  });

  it('never a bare mark: every verdict names its comparison', () => {
    for (const c of [optimum(), optimum(false), rule(0.3), rule(0.3, false), bare(), bare(false)]) expect(slotVerdict(c)).toMatch(/^[✓✗] (equals|differs from) the /);
  });

  it('percentages keep two significant digits; the optimum clause is empty for the optimum itself', () => {
    expect([0.30612, 12.345, 0.0012345, 0].map(fmtPct)).toEqual(['0.31', '12', '0.0012', '0']);
    expect(optimumClause(optimum())).toBe('');
  });
});

describe('the run', () => {
  it('with no `against` anywhere: the reference solver, as before', () => {
    expect(runVerdict(slots(bare(), bare()), true)).toBe('equals the reference solver');
    expect(runVerdict(slots(bare(), bare(false)), false)).toBe('differs from the reference solver on some slot');
  });

  it('compared with the optimum: says so', () => {
    expect(runVerdict(slots(optimum()), true)).toBe('equals the reference optimum');
    expect(runVerdict(slots(optimum(), optimum()), true)).toBe('equals the reference optimum on every slot');
  });

  it('compared with a rule: equals the rule, never the optimum, and gives the largest gap to the optimum', () => {
    const one = runVerdict(slots(rule(0.30612)), true);
    expect(one).toBe(`equals ${RULE}; the optimum price is 14.754843 (gap 0.31 %)`);
    const many = runVerdict(slots(rule(0.3), rule(0.62), rule(0.1)), true);
    expect(many).toBe(`equals ${RULE} on every slot; not the optimum: the largest gap to the optimum price is 0.62 % (slot 1)`);
    for (const v of [one, many]) expect(v).not.toMatch(/equals the reference (optimum|solver)/);
  });

  it('slots compared with different things: each is named with its count, none claims for the others', () => {
    const v = runVerdict(slots(optimum(), rule(0.4), optimum()), true);
    expect(v).toBe(`equals, slot by slot, what it was compared with: the reference optimum (2 slots); ${RULE} (1 slot); not the optimum: the largest gap to the optimum price is 0.4 % (slot 1)`);
    expect(comparedWith(slots(optimum(), rule(0.4)))).toBe('what each slot was compared with');
    expect(runVerdict(slots(optimum(), rule(0.4, false)), false)).toBe('differs from what each slot was compared with on some slot');
  });
});

describe('the report’s status line', () => {
  it('says what the run equals, from its slots', () => {
    const dir = '/nonexistent'; // a complete run's line is built from its summary alone
    expect(statusLine(dir, { status: 'complete', ok: true }).line).toBe('complete — the distributed run equals the reference solver');
    expect(statusLine(dir, { status: 'complete', ok: true, perSlot: slots(optimum()) }).line).toBe('complete — the distributed run equals the reference optimum');
    expect(statusLine(dir, { status: 'complete', ok: true, perSlot: slots(rule(0.30612)) }).line).toBe(`complete — the distributed run equals ${RULE}; the optimum price is 14.754843 (gap 0.31 %)`);
    expect(statusLine(dir, { status: 'complete', ok: false, perSlot: slots(rule(0.3, false)) }).line).toBe(`complete — the distributed run differs from ${RULE} on some slot`);
  });
});
