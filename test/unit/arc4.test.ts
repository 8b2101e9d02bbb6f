import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Arc4 } from '../../scenarios/common/arc4.ts';
import { scheduleJs, scheduleWasm } from '../../scenarios/common/rc4Schedule.ts';
import { stream } from '../../scenarios/common/rng.ts';

/** the first `n` doubles of seedrandom's generator and of ours for one key */
function both(key: string, n: number): [number[], number[]] {
  const a = seedrandom(key);
  const b = new Arc4(key);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(a.double());
    ys.push(b.double());
  }
  return [xs, ys];
}

describe('Arc4 gives the numbers of seedrandom for the same key', () => {
  it("mecsim's stream keys, including seeds and paths of every shape a scenario uses", () => {
    for (let seed = 0; seed < 50; seed++)
      for (const path of [['ue', seed, 'params'], ['ue', 99_999, 'slot', 3], ['historical', seed * 1000], ['baseline', 'random-price', 0], []]) {
        const key = `mecsim|${seed}|${path.join('|')}`;
        const [xs, ys] = both(key, 30);
        expect(ys, key).toEqual(xs);
      }
  });

  it('any key: empty, long (over 256 characters, where seedrandom mixes the key onto itself), non-ASCII', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ minLength: 250, maxLength: 800 }), fc.string({ unit: 'binary', maxLength: 300 })), (key) => {
        const [xs, ys] = both(key, 12);
        expect(ys).toEqual(xs);
      }),
      { numRuns: 400 },
    );
  });

  it('streams draw from it: stream(seed, …path) equals seedrandom(`mecsim|seed|path`)', () => {
    const g = stream(7, 'ue', 12, 'params');
    const ref = seedrandom('mecsim|7|ue|12|params');
    for (let i = 0; i < 100; i++) expect(g.next()).toBe(ref.double());
  });
});

describe("the key schedule in WebAssembly is the one in JavaScript (the fallback where there is no WebAssembly)", () => {
  it('any key bytes and length: the same state and j', () => {
    const wasm = scheduleWasm();
    const buffer = new ArrayBuffer(512);
    const mem = { state: new Uint8Array(buffer, 0, 256), key: new Uint8Array(buffer, 256, 256) };
    const js = scheduleJs(mem);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), (key) => {
        wasm.mem.key.set(key);
        mem.key.set(key);
        expect(wasm.schedule(key.length)).toBe(js(key.length));
        expect(wasm.mem.state).toEqual(mem.state);
      }),
      { numRuns: 500 },
    );
  });
});
