import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Arc4 } from '../../scenarios/common/arc4.ts';
import { machineJs, machineWasm } from '../../scenarios/common/rc4Machine.ts';
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

describe('the generator in WebAssembly is the one in JavaScript (the fallback where there is no WebAssembly)', () => {
  it('any key bytes and length: the same state after the schedule, and the same doubles', () => {
    const wasm = machineWasm();
    const js = machineJs();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.integer({ min: 0, max: 40 }), (key, draws) => {
        wasm.key.set(key);
        js.key.set(key);
        wasm.schedule(key.length);
        js.schedule(key.length);
        expect(wasm.state).toEqual(js.state);
        for (let d = 0; d < draws; d++) expect(wasm.double()).toBe(js.double());
        expect(wasm.state).toEqual(js.state);
      }),
      { numRuns: 500 },
    );
  });
});

describe('streams share the machine: each draws as if it were alone', () => {
  it('interleaved draws of many streams equal each drawn alone', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }), (order) => {
        const keys = [0, 1, 2, 3, 4, 5].map((k) => `mecsim|3|ue|${k}|slot|2`);
        const streams: (Arc4 | undefined)[] = [];
        const got: number[][] = keys.map(() => []);
        for (const k of order) {
          streams[k] ??= new Arc4(keys[k]);
          got[k].push(streams[k]!.double());
        }
        keys.forEach((key, k) => {
          const ref = seedrandom(key);
          expect(got[k]).toEqual(got[k].map(() => ref.double()));
        });
      }),
      { numRuns: 300 },
    );
  });
});
