/**
 * JsonText against JSON.stringify(value, null, 2): the same text for every value fast-check draws
 * (every JSON value, and what JSON.stringify treats specially: undefined, functions, symbols, non-finite
 * numbers, -0, toJSON, boxed primitives, sparse arrays), the same errors for a cycle and a BigInt, and
 * a file written in pieces equal to the string written whole. jsonCopy against
 * JSON.parse(JSON.stringify(value)): the same value, strictly equal (-0 and 0, absent and undefined apart).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonCopy, JsonText } from '../../orchestrator/jsonText.ts';
import { writeJsonAtomic } from '../../orchestrator/results.ts';

function text(value: unknown): string | undefined {
  let out = '';
  return new JsonText((s) => (out += s)).write(value) ? out : undefined;
}

const odd = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), NaN, Infinity, -Infinity, -0, 1e21, 5e-324, new Date(0), new Number(2), new String('b\n'), new Boolean(false), { toJSON: (k: string) => `key:${k}` });
const leaf = fc.oneof(fc.double(), fc.integer(), fc.string({ unit: 'binary' }), fc.boolean(), fc.constant(null), odd);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('sparse')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), tie('value'), { maxKeys: 6 }),
  sparse: fc.sparseArray(tie('value'), { maxLength: 5 }),
}));

describe('JsonText', () => {
  it('writes what JSON.stringify(value, null, 2) returns, for any value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(text(v)).toBe(JSON.stringify(v, null, 2));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes long arrays of numbers, written a few hundred at a time, as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, NaN, Infinity, 1e21, 5e-324)), { minLength: 250, maxLength: 800 }), (a) => {
        expect(text({ a: [a] })).toBe(JSON.stringify({ a: [a] }, null, 2));
      }),
      { numRuns: 50 },
    );
  });

  it('leaves out what has no JSON form, in objects and at the top, and writes null for it in arrays', () => {
    const f = () => 0;
    expect(text({ a: undefined, b: f, c: Symbol('x') })).toBe('{}');
    expect(text([undefined, f])).toBe('[\n  null,\n  null\n]');
    expect(text(undefined)).toBeUndefined();
    expect(text({ toJSON: () => undefined })).toBeUndefined();
  });

  it('fails on a cycle and on a BigInt as JSON.stringify does', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = { a };
    expect(() => text(a)).toThrow(TypeError);
    expect(() => text({ n: 1n })).toThrow(TypeError);
    // an object seen twice, not inside itself, is no cycle
    const shared = { k: [1, 2] };
    expect(text({ p: shared, q: shared })).toBe(JSON.stringify({ p: shared, q: shared }, null, 2));
  });

  it('copies any value as JSON.parse(JSON.stringify(value)) returns it', () => {
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify(v);
        if (text === undefined) expect(jsonCopy(v)).toBeUndefined();
        else expect(jsonCopy(v)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
    const proto = JSON.parse('{"__proto__": {"polluted": 1}, "a": [-0]}');
    const copy = jsonCopy(proto) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect(copy).toStrictEqual(JSON.parse(JSON.stringify(proto)));
    const cyclic: unknown[] = [];
    cyclic.push({ cyclic });
    expect(() => jsonCopy(cyclic)).toThrow(TypeError);
    expect(() => jsonCopy([1n])).toThrow(TypeError);
  });

  it('copies a container met twice once (the summary holds the outcome of slot 0 twice), and still as JSON.parse reads it', () => {
    const purchases = Array.from({ length: 1000 }, (_, i) => i / 3);
    const outcome = { price: 2, purchases };
    const summary = { perSlot: [{ equilibrium: outcome }], equilibrium: outcome, more: purchases };
    const copy = jsonCopy(summary) as { perSlot: { equilibrium: unknown }[]; equilibrium: unknown; more: unknown };
    expect(copy).toStrictEqual(JSON.parse(JSON.stringify(summary)));
    expect(copy.equilibrium).toBe(copy.perSlot[0].equilibrium);
    expect(copy.more).toBe((copy.equilibrium as { purchases: unknown }).purchases);
    expect(copy.more).not.toBe(purchases);
  });

  it('writes a file in pieces equal to the string written whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-jsontext-'));
    const big = { perSlot: [{ purchases: Array.from({ length: 50_000 }, (_, i) => i / 7), name: 'ü\u2028' }], ok: true };
    writeJsonAtomic(join(dir, 'a.json'), big);
    expect(readFileSync(join(dir, 'a.json'), 'utf8')).toBe(JSON.stringify(big, null, 2) + '\n');
  });
});
