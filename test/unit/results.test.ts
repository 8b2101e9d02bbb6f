/** Result-file helpers: CSV round trip, statistics on long runs, thinning for figures. */
import { describe, expect, it } from 'vitest';
import { latencyStats, toCsv } from '../../orchestrator/results.ts';
import { parseCsv, thin } from '../../orchestrator/report.ts';
import { medianInterval, parseSeeds, parseVary, setDotted, summarise } from '../../orchestrator/sweep.ts';

describe('results', () => {
  it('latency statistics over 200,000 rounds (a long sequential run) do not overflow the call stack', () => {
    const xs = Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 1000);
    const s = latencyStats(xs);
    expect(s.max).toBe(999);
    expect(s.count).toBe(200_000);
    expect(latencyStats([]).max).toBe(0);
  });

  it('parseCsv reads back what toCsv writes (quotes, commas, empty cells, numbers, booleans)', () => {
    const rows = [
      { a: 1, b: 'x,y', c: true, d: null },
      { a: -2.5e-7, b: 'say "hi"\nthere', c: false, d: 'z' },
    ];
    const back = parseCsv(toCsv(rows));
    expect(back).toEqual([
      { a: 1, b: 'x,y', c: true, d: null },
      { a: -2.5e-7, b: 'say "hi"\nthere', c: false, d: 'z' },
    ]);
  });

  it('thin keeps at most about max points, the first and the last', () => {
    const xs = Array.from({ length: 10_001 }, (_, i) => i);
    const t = thin(xs, 1000);
    expect(t.length).toBeLessThanOrEqual(1001);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBe(10_000);
    expect(thin([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });

  it('a sweep summarises each point across seeds: the median and an order-statistic 95 % interval for it', () => {
    // 20 seeds: x_(6) and x_(15) bound the median with coverage 1 − 2·P(Bin(20, ½) ≤ 5) = 0.9586
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
    const ci = medianInterval(xs);
    expect(ci).toMatchObject({ median: 10.5, lo: 6, hi: 15 });
    expect(ci.coverage).toBeCloseTo(0.9586, 4);
    // fewer than 6 seeds: no interval reaches 95 %; the range, with its real coverage
    expect(medianInterval([3, 1, 2])).toMatchObject({ median: 2, lo: 1, hi: 3, coverage: 0.75 });
    const run = (mechanism: string, f: number, seed: number, price: number) => ({ mechanism, 'server.f': f, users: 5, seed, ok: true, 'eq.price': price, rounds: 7 });
    const rows = summarise([run('a', 1, 1, 10), run('a', 1, 2, 12), run('a', 1, 3, 11), run('a', 2, 1, 20), run('b', 1, 1, 5)], 'server.f');
    expect(rows.map((r) => [r.mechanism, r['server.f'], r.runs])).toEqual([
      ['a', 1, 3],
      ['a', 2, 1],
      ['b', 1, 1],
    ]);
    expect(rows[0]).toMatchObject({ 'eq.price.median': 11, 'eq.price.lo': 10, 'eq.price.hi': 12, 'rounds.median': 7 });
  });

  it('--vary and --seeds: dotted keys into the resolved config, a per-user key for every user, values with a unit', () => {
    expect(parseVary('users.r=1e7,2e7')).toEqual({ key: 'users.r', values: [1e7, 2e7] });
    expect(parseVary('link.rtt=0,5,20ms')).toEqual({ key: 'link.rtt', values: ['0ms', '5ms', '20ms'] });
    expect(parseVary('auction=complete,incomplete').values).toEqual(['complete', 'incomplete']);
    expect(() => parseVary('r=')).toThrow(/key=v1,v2/);
    expect(parseSeeds('1-3,7')).toEqual([1, 2, 3, 7]);
    expect(() => parseSeeds('3-1')).toThrow(/--seeds/);
    const cfg = { seed: 1, server: { f: 4e9, X: null }, users: [{ r: 1 }, { r: 2 }] };
    expect(setDotted(cfg, 'users.r', 9)).toEqual({ seed: 1, server: { f: 4e9, X: null }, users: [{ r: 9 }, { r: 9 }] });
    expect(setDotted(cfg, 'users.1.r', 9).users).toEqual([{ r: 1 }, { r: 9 }]);
    expect(setDotted(cfg, 'server.X', 5).server).toEqual({ f: 4e9, X: 5 });
    expect(cfg.users[0].r).toBe(1); // the input is not changed
    expect(() => setDotted(cfg, 'server.g', 1)).toThrow(/not a parameter/);
    expect(() => setDotted(cfg, 'r', 1)).toThrow(/did you mean users\.r/);
    expect(() => setDotted(cfg, 'users', 1)).toThrow(/not a parameter/);
    // the link model's section is optional everywhere: a varied link key starts it, an unknown one is refused
    expect(setDotted(cfg, 'link.rtt', '20ms').link).toEqual({ rtt: '20ms' });
    expect(setDotted({ ...cfg, link: { loss: 0.01 } }, 'link.rtt', 5).link).toEqual({ loss: 0.01, rtt: 5 });
    expect(() => setDotted(cfg, 'link.speed', 1)).toThrow(/not a parameter/);
  });
});
