/** The report's tables and figure helpers: rounding, claims, units, colours, what the convergence figure keeps. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimsRows, flattenForTable, loadRun, meaningfulSeries, outcomeRows, parameterRows, sig4 } from '../../orchestrator/report.ts';
import { axisTitle, barsFigure, binRows, colourOf, linesFigure, seriesFigure, unitOf } from '../../scenarios/common/figures.ts';

describe('a run folder read for a report', () => {
  it('is refused with the reason when it is not a run summary: no summary.json, not JSON, or JSON of another shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-loadrun-'));
    try {
      expect(() => loadRun(dir)).toThrow(/is not a run folder: it has no summary\.json/);
      writeFileSync(join(dir, 'summary.json'), 'garbage');
      expect(() => loadRun(dir)).toThrow(/summary\.json is not valid JSON/);
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ schemaVersion: 1, status: 'complete', perSlot: 'x' }));
      expect(() => loadRun(dir)).toThrow(/summary\.json is not a mecsim run summary \(schemas\/summary\.schema\.json\): \/runId: Expected required property/);
      // the fields every summary has, even one the disk had room only for
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ schemaVersion: 1, status: 'failed', runId: 'r', scenario: 'ping', mechanism: 'sum', seed: 1 }));
      writeFileSync(join(dir, 'metrics.json'), '{"perSlot": [');
      expect(() => loadRun(dir)).toThrow(/metrics\.json is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('report tables', () => {
  it('numbers are rounded to 4 significant digits; integers stay whole; tiny and huge ones in exponent form', () => {
    expect(sig4(289.50999148157734)).toBe('289.5');
    expect(sig4(0.0123456)).toBe('0.01235');
    expect(sig4(42)).toBe('42');
    expect(sig4(4e9)).toBe('4e9');
    expect(sig4(6.07e-8)).toBe('6.07e-8');
    expect(sig4(null)).toBe('—');
  });

  it('claims in the typed shape become rows with verdicts and numbers with units; an older summary still shows', () => {
    const typed = claimsRows({ results: { claims: [{ id: 'a', statement: 'x rises', verdict: 'holds', numbers: [{ label: 'x at 1', value: 1.23456789, unit: 'J' }, { label: 'runs', value: 3, unit: 'count' }], note: 'n' }] } });
    expect(typed).toEqual([{ id: 'a', claim: 'x rises', verdict: 'holds', numbers: 'x at 1 1.235 J; runs 3 count', note: 'n' }]);
    const old = claimsRows({ results: { claims: { neLowestEnergy: true, completeExtractsMore: { UmaxComplete: 3, holds: false } } } });
    expect(old.map((c) => [c.claim, c.verdict])).toEqual([
      ['neLowestEnergy', 'holds'],
      ['completeExtractsMore', 'fails'],
    ]);
  });

  it('a list of 200,000 users is summarised in linear time (a report of a 100,000-agent run took minutes)', () => {
    const users = Array.from({ length: 200_000 }, (_, i) => ({ r: i, tmax: 2 }));
    const t0 = performance.now();
    const rows = parameterRows({ users }, {});
    expect(rows.map((r) => r.value)).toEqual(['min 0 · median 100000 · max 199999', 'all 2']);
    expect(performance.now() - t0).toBeLessThan(20_000); // quadratic: hours
  });

  it('parameters and outcomes: dotted keys with units; long lists summarised per field', () => {
    const users = Array.from({ length: 10 }, (_, i) => ({ r: 10 + i, tmax: 2 }));
    const rows = parameterRows({ server: { f: 4e9 }, users }, { 'server.f': 'Hz', 'users.r': 'bit/s', tmax: 's' });
    expect(rows).toEqual([
      { parameter: 'server.f', value: '4e9', unit: 'Hz' },
      { parameter: 'users[10].r', value: 'min 10 · median 15 · max 19', unit: 'bit/s' },
      { parameter: 'users[10].tmax', value: 'all 2', unit: 's' },
    ]);
    expect(flattenForTable([1, 2]).map((f) => f.key)).toEqual(['[0]', '[1]']);
    const out = outcomeRows({ equilibrium: { price: 13.4677, purchases: [1, 2] }, reference: { price: 13.4677, unimodal: true } }, { price: 'money/unit', purchases: 'units' });
    expect(out).toEqual([
      { quantity: 'price', distributed: '13.47', reference: '13.47', unit: 'money/unit' },
      { quantity: 'purchases[0]', distributed: '1', reference: '', unit: 'units' },
      { quantity: 'purchases[1]', distributed: '2', reference: '', unit: 'units' },
      { quantity: 'unimodal', distributed: '', reference: 'true', unit: '' },
    ]);
  });

  it('flattens any value as it flattens the value read back from its JSON file', () => {
    const odd = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), NaN, Infinity, -0, new Date(0), new Number(2), new String('b'), new Boolean(false), { toJSON: (k: string) => `key:${k}` });
    const leaf = fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 }), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant(null), odd);
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('long')),
      array: fc.array(tie('value'), { maxLength: 6 }),
      long: fc.oneof(fc.array(tie('object'), { minLength: 7, maxLength: 12 }), fc.sparseArray(tie('value'), { minNumElements: 7, maxLength: 12 })),
      object: fc.dictionary(fc.constantFrom('a', 'b', 'r', 'tmax', '0'), tie('value'), { maxKeys: 4 }),
    }));
    fc.assert(
      fc.property(value, (v) => {
        expect(flattenForTable({ c: v })).toStrictEqual(flattenForTable(JSON.parse(JSON.stringify({ c: v }))));
      }),
      { numRuns: 1500 },
    );
  });

  it('the convergence figure keeps what changes and drops constants and counters', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ price: 10 - 1 / (i + 1), misses: 0, interval: i, total: null }));
    expect(meaningfulSeries(rows, 'price')).toBe(true);
    expect(meaningfulSeries(rows, 'misses')).toBe(false);
    expect(meaningfulSeries(rows, 'interval')).toBe(false);
    expect(meaningfulSeries(rows, 'total')).toBe(false);
  });
});

describe('figure helpers', () => {
  it('units: from the name, the dotted key, the key without prefix and indices, or its last part; axis titles always end in one', () => {
    const u = { 'users.r': 'bit/s', price: 'money/unit' };
    expect(unitOf('energy (J)', u)).toBe('J');
    expect(unitOf('users[3].r', u)).toBe('bit/s');
    expect(unitOf('eq.price', u)).toBe('money/unit');
    expect(unitOf('rounds', u)).toBe('rounds');
    expect(unitOf('mystery', u)).toBeUndefined();
    expect(axisTitle('price', 'money/unit')).toBe('price (money/unit)');
    expect(axisTitle('energy (J)', 'kWh')).toBe('energy (J)');
    expect(axisTitle('mystery', undefined)).toBe('mystery (unit not declared)');
  });

  it('one colour per policy or mechanism, whatever the figure', () => {
    expect(colourOf('MQO')).toBe(colourOf('MQO cost'));
    expect(colourOf('NE')).not.toBe(colourOf('ES'));
    expect(colourOf('some new name')).toBe(colourOf('some new name'));
  });

  it('a long series is binned (mean, min, max), a short one drawn as is; count axes tick at integers', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ step: i + 1, v: i % 2 }));
    const b = binRows(rows, 'step', ['v']);
    expect(b).toHaveLength(100);
    expect(b[0]).toMatchObject({ step: 5.5, v: 0.5, 'v·min': 0, 'v·max': 1 });
    const long = seriesFigure('c', 't', rows, 'step', ['v'], { xUnit: 'count', units: { v: 'J' } })!;
    expect((long.spec.data as { values: unknown[] }).values).toHaveLength(100);
    expect(long.caption).toMatch(/summarised/);
    const panel = (long.spec.vconcat as any[])[0];
    expect(panel.layer[1].encoding.x).toMatchObject({ title: 'step (count)', axis: { tickMinStep: 1, format: 'd' } });
    expect(panel.layer[1].encoding.y.title).toBe('v (J)');
    const short = linesFigure('l', 't', rows.slice(0, 50), 'step', ['v'], { xUnit: 'count', yUnit: 'J' })!;
    expect((short.spec.data as { values: unknown[] }).values).toHaveLength(50);
    const bars = barsFigure('b', 't', [{ group: 'NE', series: 'energy (J)', value: 1 }, { group: 'ES', series: 'energy (J)', value: 2 }])!;
    expect((bars.spec.concat as any[])[0].encoding.y.title).toBe('energy (J)');
    expect((bars.spec.concat as any[])[0].encoding.color.scale.range).toEqual([colourOf('NE'), colourOf('ES')]);
  });
});
