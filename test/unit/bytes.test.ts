import { describe, expect, it } from 'vitest';
import { copyBytes } from '../../bus/bytes.ts';

describe('copyBytes', () => {
  it('copies exactly the first n bytes to the offset, touching nothing else, for every length 0–130 (the unrolled steps, their tail and TypedArray.set)', () => {
    const src = Uint8Array.from({ length: 140 }, (_, i) => (i * 37 + 11) & 0xff);
    for (let n = 0; n <= 130; n++) {
      for (const at of [0, 1, 7, 13]) {
        const dst = new Uint8Array(160).fill(0xaa);
        copyBytes(dst, at, n === src.length ? src : src.subarray(0, n + 3), n);
        const want = new Uint8Array(160).fill(0xaa);
        want.set(src.subarray(0, n), at);
        expect(dst, `n=${n} at=${at}`).toEqual(want);
      }
    }
  });

  it('copies a whole source of 64 bytes or more, and a view into a larger buffer', () => {
    const buf = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const view = buf.subarray(50, 150);
    const dst = new Uint8Array(120);
    copyBytes(dst, 10, view, view.length);
    expect(Array.from(dst.subarray(10, 110))).toEqual(Array.from(view));
    expect(dst[9]).toBe(0);
    expect(dst[110]).toBe(0);
  });
});
