import { describe, expect, it } from 'vitest';
import { stream } from '../../scenarios/common/rng.ts';

describe('seeded streams', () => {
  it('same name, same draws; different names, different draws', () => {
    const a = stream(1, 'ue', 3, 'params');
    const b = stream(1, 'ue', 3, 'params');
    const c = stream(1, 'ue', 4, 'params');
    const da = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(da);
    expect(c.next()).not.toEqual(da[0]);
  });
  it('poisson and exponential have the right means', () => {
    const r = stream(7, 'moments');
    let sp = 0;
    let se = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      sp += r.poisson(3);
      se += r.exp(2);
    }
    expect(sp / n).toBeCloseTo(3, 1);
    expect(se / n).toBeCloseTo(0.5, 1);
  });
});
