/**
 * bus/fastpack.ts is an accelerator for the envelope codec: on every input it either gives up or
 * produces exactly what @msgpack/msgpack (configured as the codec configures it) would. Checked
 * differentially on arbitrary values, envelope-like data and random bytes.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GAVE_UP, packArray, packEnvelope, packRows, scratch, unpack, valueEnd } from '../../bus/fastpack.ts';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261127) });

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ maxStrLength: 1 << 20, maxBinLength: 1 << 20, maxArrayLength: 1 << 22, maxMapLength: 1 << 16, maxExtLength: 0 });
const libDecode = (data: Uint8Array): { ok: true; v: unknown } | { ok: false } => {
  try {
    return { ok: true, v: decoder.decode(data) };
  } catch {
    return { ok: false };
  }
};
/** plain data as handlers produce it, with the awkward cases: -0, NaN, ±Infinity, big and negative integers, floats, non-ASCII, undefined */
const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 31) - 1, 2 ** 53, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 1.5),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const plain = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 20 }), fc.dictionary(fc.string({ maxLength: 20 }).filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 20 })),
})).v;

describe('fastpack: the same bytes in, the same values out as @msgpack/msgpack', () => {
  it('packArray(x) decodes (by the library) to what the library encoder would have written, or gives up', () => {
    fc.assert(
      fc.property(fc.array(plain, { maxLength: 8 }), (items) => {
        const fast = packArray(items);
        const lib = encoder.encode(items);
        if (fast !== undefined) expect(decoder.decode(fast)).toEqual(decoder.decode(lib));
      }),
      { numRuns: 3000 },
    );
  });
  it('packEnvelope writes the bytes packArray writes for the same envelope array', () => {
    const bodies = [{ x: 0.5, u: -1.25 }, {}, { n: [1, 2, { a: null }], s: 'ok', b: true, z: undefined }, { big: 2 ** 40, neg: -70000 }];
    for (const slot of [0, 200, 70_000, 2 ** 32 - 1])
      for (const round of [0, 1, 300])
        for (const body of bodies)
          for (const noreply of [false, true]) {
            const items = [2, 0x9abcdef0, slot, round, 're:price', 'ue-12', body, ...(noreply ? [true] : [])];
            expect(packEnvelope(2, 0x9abcdef0, slot, round, 're:price', 'ue-12', body, noreply, true)).toEqual(packArray(items));
          }
    for (const odd of [{ a: new Uint8Array(1) }, { s: 'é' }]) expect(packEnvelope(2, 1, 0, 0, 'k', 'f', odd, false, true)).toBeUndefined();
    expect(packEnvelope(2, 1, 0, 0, 'ké', 'f', {}, false, true)).toBeUndefined();
  });
  it('maps around 16 entries (one walk below, two from 16 on), with undefined values and nested maps: the library’s bytes', () => {
    for (let keys = 0; keys <= 20; keys++)
      for (const holes of [0, 1, 3])
        for (const nest of [false, true]) {
          const m: Record<string, unknown> = {};
          for (let i = 0; i < keys; i++) m[`k${i}`] = i % 5 === 0 && i / 5 < holes ? undefined : i * 1.5;
          if (nest) m.inner = { ...m, deep: { a: 1, b: undefined } };
          const fast = packArray([m, 'after']);
          expect(fast, `${keys} keys, ${holes} undefined, nested ${nest}`).toEqual(encoder.encode([m, 'after']));
        }
    // a key inherited from a prototype the fast path takes (null's: none) never slips in; a polluted Object.prototype gives up
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.evil = 1;
    try {
      expect(packArray([{ a: 1 }])).toBeUndefined();
      expect(packArray([Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`k${i}`, i]))])).toBeUndefined();
    } finally {
      delete polluted.evil;
    }
  });
  it('packArray takes the fast path for envelope-like plain data, and gives up on what it does not cover', () => {
    expect(packArray([2, 123456789, 0, 7, 're:price', 'ue-12', { x: 0.5, u: -1.25, n: [1, 2, 3], s: 'ok' }])).toBeInstanceOf(Uint8Array);
    for (const odd of [new Uint8Array(2), new Date(0), new Map(), 'é', 10n, { a: new Uint8Array(1) }]) expect(packArray([odd])).toBeUndefined();
  });
  it('unpack(bytes) equals the library decode of the same bytes, or gives up (arbitrary values)', () => {
    fc.assert(
      fc.property(fc.oneof(plain, fc.anything({ maxDepth: 4, withTypedArray: true, withBigInt: false })), (x) => {
        let data: Uint8Array;
        try {
          data = encoder.encode(x);
        } catch {
          return;
        }
        const fast = unpack(data);
        if (fast === GAVE_UP) return;
        const lib = libDecode(data);
        expect(lib.ok).toBe(true);
        if (lib.ok) expect(fast).toEqual(lib.v);
      }),
      { numRuns: 3000 },
    );
  });
  it('unpack never throws and never accepts bytes the library rejects (random and truncated bytes)', () => {
    const valid = encoder.encode([2, 3735928559, 1, 2, 'price', 'mec-0', { p: 1.5, xs: [1, -2, 3.25], s: 'abc', m: { k: null, t: true } }]);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ maxLength: 16 })).map(([cut, junk]) => new Uint8Array([...valid.subarray(0, cut), ...junk]))), (data) => {
        let fast: unknown;
        expect(() => (fast = unpack(data))).not.toThrow();
        if (fast === GAVE_UP) return;
        const lib = libDecode(data);
        expect(lib.ok).toBe(true);
        if (lib.ok) expect(fast).toEqual(lib.v);
      }),
      { numRuns: 5000 },
    );
    expect(unpack(valid)).toEqual(decoder.decode(valid));
  });
  it('floats: written where they belong after the scratch grew, and read from a message that starts inside a larger buffer, message after message', () => {
    const floats = [0.1, -0, NaN, Infinity, -1e-300, 2 ** 53 + 2, 1.5, -Math.PI];
    // 600 floats of 9 bytes pass the scratch's first 2048 bytes
    const many = Array.from({ length: 600 }, (_, i) => floats[i % floats.length] * (i + 1));
    expect(packArray([many, { x: 0.25 }])).toEqual(encoder.encode([many, { x: 0.25 }]));
    const one = encoder.encode({ x: 0.1, u: -2.5e-8 });
    const two = encoder.encode({ x: 7.75, u: 1e300 });
    const big = new Uint8Array(3 + one.length + two.length);
    big.set(one, 3);
    big.set(two, 3 + one.length);
    const first = big.subarray(3, 3 + one.length);
    expect(unpack(first)).toEqual({ x: 0.1, u: -2.5e-8 });
    expect(unpack(big.subarray(3 + one.length))).toEqual({ x: 7.75, u: 1e300 });
    // the same array, new bytes in it: read anew
    first.set(encoder.encode({ x: -0.5, u: 3.25 }));
    expect(unpack(first)).toEqual({ x: -0.5, u: 3.25 });
    // float 32 (the library writes none; other clients may)
    expect(unpack(new Uint8Array([0x92, 0xca, 0x3f, 0xc0, 0, 0, 0xca, 0xc1, 0x20, 0, 0]))).toEqual([1.5, -10]);
  });
});

describe('valueEnd: where one msgpack value ends, as the library reads it', () => {
  /** any msgpack the library writes, binary and extension values included */
  const any = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, leaf, fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.string({ minLength: 30, maxLength: 70000 }), fc.array(tie('v'), { maxLength: 20 }), fc.dictionary(fc.string({ maxLength: 20 }).filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 20 })),
  })).v;
  const big = new Encoder({ ignoreUndefined: true, useBigInt64: true });
  const enc = (v: unknown) => big.encode(v);

  it('is the value’s length; every value of several back to back is found; any cut inside it gives -1', () => {
    fc.assert(
      fc.property(fc.array(any, { minLength: 1, maxLength: 4 }), fc.nat(), (vs, cutSeed) => {
        const parts = vs.map(enc);
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) (all.set(p, o), (o += p.length));
        o = 0;
        for (const p of parts) {
          expect(valueEnd(all, o, all.length)).toBe(o + p.length);
          const cut = o + (cutSeed % p.length);
          expect(valueEnd(all, o, cut)).toBe(-1);
          o += p.length;
        }
      }),
      { numRuns: 400 },
    );
  });

  it('extension types, 32-bit lengths and 0xc1, by hand', () => {
    const cases: [number[], number][] = [
      [[0xd4, 1, 0], 3],
      [[0xd5, 1, 0, 0], 4],
      [[0xd6, 1, 0, 0, 0, 0], 6],
      [[0xd7, 1, ...new Array(8).fill(0)], 10],
      [[0xd8, 1, ...new Array(16).fill(0)], 18],
      [[0xc7, 2, 1, 9, 9], 5],
      [[0xc8, 0, 2, 1, 9, 9], 6],
      [[0xc9, 0, 0, 0, 2, 1, 9, 9], 8],
      [[0xdb, 0, 0, 0, 1, 0x41], 6],
      [[0xdd, 0, 0, 0, 2, 1, 2], 7],
      [[0xdf, 0, 0, 0, 1, 1, 2], 7],
      [[0xdc, 0, 2, 1, 2], 5],
      [[0xde, 0, 1, 1, 2], 5],
      [[0xde, 0, 2, 1, 2, 3, 4], 7],
      [[0xde, 0, 2, 1, 2, 3], -1],
      [[0xc1], -1],
      [[0x92, 0xc1, 1], -1],
      // a length claiming more values than there are bytes left
      [[0xdd, 0xff, 0xff, 0xff, 0xff, 1], -1],
      [[0xdf, 0x7f, 0xff, 0xff, 0xff, 1], -1],
      [[], -1],
    ];
    for (const [bytes, end] of cases) expect(valueEnd(Uint8Array.from(bytes), 0, bytes.length)).toBe(end);
    // 16-bit array and map headers as the library writes them (16 items or more)
    for (const v of [Array.from({ length: 20 }, (_, i) => i), Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]))]) {
      const b = encoder.encode([v, 1]);
      expect(valueEnd(b, 1, b.length)).toBe(b.length - 1);
    }
    // and the library agrees on the ones it reads
    expect(libDecode(Uint8Array.from([0xdd, 0, 0, 0, 2, 1, 2]))).toEqual({ ok: true, v: [1, 2] });
  });

  it('random bytes: never throws, and an end it finds is one the library reads a value up to', () => {
    const lenient = new Decoder({ useBigInt64: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const e = valueEnd(b, 0, b.length);
        expect(e).toBeGreaterThanOrEqual(-1);
        expect(e).toBeLessThanOrEqual(b.length);
        if (e > 0) {
          let ok = true;
          try {
            lenient.decode(b.subarray(0, e));
          } catch (err) {
            // the library refuses some values it can frame (an unknown extension type): framing is all valueEnd claims
            ok = /extension|ext/i.test(String(err));
          }
          expect(ok).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('packRows writes the bytes packArray writes for the same rows envelope, whatever the numbers', () => {
    const num = fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 32 - 1, -(2 ** 31) - 1, 2 ** 53, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 1.5));
    const head = packArray([2, 0x9abcdef0])!.slice(1);
    const mid = packArray(['rows', 'w1'])!.slice(1);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 4 }), fc.array(num, { minLength: 160, maxLength: 160 }), fc.nat(), fc.nat(70_000), (rows, width, pool, slot, round) => {
        const keys = Array.from({ length: width }, (_, k) => `k${k}`);
        const at = Array.from({ length: rows }, (_, r) => (r * 7919) % 100_000);
        const values = Array.from({ length: rows * width }, (_, i) => pool[i % pool.length]);
        const cols = keys.map((_, k) => at.map((_, r) => values[r * width + k]));
        const n = packRows(head, slot, round, mid, 're:price', at, keys, values, rows);
        expect(scratch().slice(0, n)).toEqual(packArray([2, 0x9abcdef0, slot, round, 'rows', 'w1', { kind: 're:price', at, keys, cols }]));
      }),
      { numRuns: 500 },
    );
  });
});
