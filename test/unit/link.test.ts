import { describe, expect, it } from 'vitest';
import { DirectedLink, formatDelay, LinkConfigError, LinkModel, mergeLinkFlags, parseDelay, parseDuration, parseLinkFlag, RtoEstimator, type Delay, type LinkClass } from '../../bus/link.ts';
import { LinkArrivals } from '../../bus/linkHold.ts';
import { checkConfig } from '../../scenarios/common/schema.ts';
import { getScenario } from '../../scenarios/index.ts';

const cls = (delay: Delay, jitterMs = 0, loss = 0): LinkClass => ({ delay, jitterMs, loss });
const key = (slot: number, attempt = 1, kind = 'price', round = 1) => ({ slot, round, kind, attempt });

/** n draws of one link, one per slot */
function sample(c: LinkClass, n: number, seed = 7, factor = 1): { xs: number[]; lost: number } {
  const l = new DirectedLink(c, factor, seed, 'mec', 'ue-3');
  const xs: number[] = [];
  let lost = 0;
  for (let i = 0; i < n; i++) {
    const d = l.draw(key(i));
    xs.push(d.delayMs);
    if (d.lost) lost++;
  }
  return { xs, lost };
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

describe('link model: parsing', () => {
  it('reads durations with and without units', () => {
    expect(parseDuration('k', '20ms')).toBe(20);
    expect(parseDuration('k', '1.5s')).toBe(1500);
    expect(parseDuration('k', '500us')).toBe(0.5);
    expect(parseDuration('k', '12')).toBe(12);
    expect(parseDuration('k', 3)).toBe(3);
    for (const bad of ['20xs', '-1ms', '', 'ms', '61s', -2, Infinity, null]) expect(() => parseDuration('--rtt', bad)).toThrow(LinkConfigError);
    expect(() => parseDuration('--rtt', '20xs')).toThrow(/--rtt: must be a duration/);
  });

  it('reads every distribution and writes it back the same', () => {
    for (const s of ['10ms', 'uniform(5ms,15ms)', 'normal(10ms,2ms)', 'lognormal(10ms,0.5)', 'pareto(10ms,2.5)']) expect(formatDelay(parseDelay('k', s))).toBe(s);
    expect(parseDelay('k', 'const(4ms)')).toEqual({ dist: 'const', ms: 4 });
    expect(parseDelay('k', 7)).toEqual({ dist: 'const', ms: 7 });
  });

  it('refuses bad distributions with the key and the expected form', () => {
    expect(() => parseDelay('link.classes.ue>mec.delay', 'foo(1)')).toThrow(/link\.classes\.ue>mec\.delay: unknown distribution "foo"/);
    expect(() => parseDelay('k', 'uniform(15ms,5ms)')).toThrow(/min ≤ max/);
    expect(() => parseDelay('k', 'pareto(10ms,1)')).toThrow(/alpha ≤ 1 has no mean/);
    expect(() => parseDelay('k', 'lognormal(10ms)')).toThrow(/takes 2 arguments/);
    expect(() => parseDelay('k', 'normal(10ms,x)')).toThrow(/must be a duration/);
  });

  it('checks class names against the run roles and refuses unknown keys and impossible losses', () => {
    expect(() => LinkModel.parse({ classes: { 'ue>cloud': { delay: '5ms' } } }, ['ue', 'mec'])).toThrow(/"cloud" is not a role of this run \(its roles: ue, mec/);
    expect(() => LinkModel.parse({ classes: { uemec: {} } }, ['ue', 'mec'])).toThrow(/directed role pair A>B/);
    expect(() => LinkModel.parse({ rt: 5 })).toThrow(/link\.rt: unknown key/);
    expect(() => LinkModel.parse({ classes: { 'ue>mec': { lose: 0.1 } } })).toThrow(/link\.classes\.ue>mec\.lose: unknown key/);
    expect(() => LinkModel.parse({ loss: 1 })).toThrow(/link\.loss: must be a probability in \[0, 1\)/);
    expect(() => LinkModel.parse([])).toThrow(/link: must be an object/);
    // roles are scenario-declared strings: any the run has is accepted
    expect(() => LinkModel.parse({ classes: { 'drone>tower': { delay: '5ms' } } }, ['drone', 'tower'])).not.toThrow();
  });

  it('picks the most specific class, then the top level', () => {
    const m = LinkModel.parse({ rtt: '20ms', loss: 0.01, classes: { 'ue>mec': { delay: '3ms' }, 'ue>*': { delay: '4ms' }, '*>cloud': { delay: '5ms', loss: 0.2 }, '*>*': { jitter: '1ms' } } });
    expect(m.classOf('ue', 'mec').delay).toEqual({ dist: 'const', ms: 3 });
    expect(m.classOf('ue', 'cloud').delay).toEqual({ dist: 'const', ms: 4 });
    expect(m.classOf('mec', 'cloud')).toEqual({ delay: { dist: 'const', ms: 5 }, jitterMs: 0, loss: 0.2 });
    // `*>*` overrides only its jitter; its delay and loss are the top level's
    expect(m.classOf('mec', 'ue')).toEqual({ delay: { dist: 'const', ms: 10 }, jitterMs: 1, loss: 0.01 });
    expect(LinkModel.parse({ rtt: 8 }).classOf('a', 'b')).toEqual({ delay: { dist: 'const', ms: 4 }, jitterMs: 0, loss: 0 });
    expect(LinkModel.parse({}).off).toBe(true);
    expect(LinkModel.parse({ loss: 0.1 }).off).toBe(false);
  });

  it('lays the flags over the config section', () => {
    expect(mergeLinkFlags(undefined, {})).toBeUndefined();
    expect(mergeLinkFlags({ rtt: 10, loss: 0.1 }, {})).toEqual({ rtt: 10, loss: 0.1 });
    expect(mergeLinkFlags({ rtt: 10, classes: { 'a>b': { delay: '1ms' } } }, { rtt: '0.03s', loss: '0.02', link: ['ue>mec=lognormal(10ms,0.5),jitter=1ms,loss=0.01', 'mec>ue=loss=0.3'] })).toEqual({
      rtt: '30ms',
      loss: 0.02,
      classes: { 'a>b': { delay: '1ms' }, 'ue>mec': { delay: 'lognormal(10ms,0.5)', jitter: '1ms', loss: 0.01 }, 'mec>ue': { loss: 0.3 } },
    });
    expect(() => parseLinkFlag('ue-mec=3ms')).toThrow(/--link: must look like A>B=/);
    expect(() => parseLinkFlag('ue>mec=3ms,4ms')).toThrow(/one delay only/);
    expect(() => parseLinkFlag('ue>mec=3ms,loss=2')).toThrow(/loss: must be a probability/);
  });

  it('is a key of every scenario\'s config file, checked by the schema', () => {
    for (const id of ['stackelberg', 'budget-nash', 'futures-spot', 'offload-energy', 'wholesale-buyback']) {
      const sc = getScenario(id)!;
      const schema = sc.configSchema(sc.defaultMechanism);
      expect(() => checkConfig(schema, { link: { rtt: '20ms', loss: 0.05, classes: { 'ue>mec': { delay: 'pareto(10ms,2.5)' } } } })).not.toThrow();
      expect(() => checkConfig(schema, { link: { rtt: '20ms', classes: { 'ue>mec': { dely: '1ms' } } } })).toThrow(/link\.classes\.ue>mec\.dely/);
      expect(() => checkConfig(schema, { link: { loss: 1 } })).toThrow(/link\.loss/);
    }
  });
});

describe('link model: draws', () => {
  const c = cls({ dist: 'lognormal', meanMs: 10, sigma: 0.5 }, 2, 0.1);

  it('depends only on (seed, sender, receiver, slot, round, kind, attempt)', () => {
    const a = new DirectedLink(c, 1, 42, 'mec', 'ue-1');
    const b = new DirectedLink(c, 1, 42, 'mec', 'ue-1');
    for (let i = 0; i < 50; i++) expect(a.draw(key(i))).toEqual(b.draw(key(i)));
    const base = a.draw(key(3)).delayMs;
    const others = [
      new DirectedLink(c, 1, 43, 'mec', 'ue-1').draw(key(3)),
      new DirectedLink(c, 1, 42, 'ue-1', 'mec').draw(key(3)),
      new DirectedLink(c, 1, 42, 'mec', 'ue-2').draw(key(3)),
      a.draw(key(3, 2)),
      a.draw(key(3, 1, 'final')),
      a.draw(key(3, 1, 'price', 2)),
      a.draw(key(4)),
    ];
    for (const o of others) expect(o.delayMs).not.toBe(base);
  });

  it('gives a seed beyond 32 bits its own draws', () => {
    const x = new DirectedLink(c, 1, 1, 'a', 'b').draw(key(0)).delayMs;
    expect(new DirectedLink(c, 1, 1 + 2 ** 32, 'a', 'b').draw(key(0)).delayMs).not.toBe(x);
  });

  it('has roughly the configured moments for every distribution', () => {
    const n = 40_000;
    expect(sample(cls({ dist: 'const', ms: 7 }), 100).xs.every((x) => x === 7)).toBe(true);
    const u = sample(cls({ dist: 'uniform', minMs: 5, maxMs: 15 }), n).xs;
    expect(Math.min(...u)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...u)).toBeLessThanOrEqual(15);
    expect(mean(u)).toBeCloseTo(10, 1);
    expect(sd(u)).toBeCloseTo(10 / Math.sqrt(12), 1);
    const nm = sample(cls({ dist: 'normal', meanMs: 10, sdMs: 2 }), n).xs;
    expect(mean(nm)).toBeCloseTo(10, 1);
    expect(sd(nm)).toBeCloseTo(2, 1);
    // truncated at 0: a wide normal never goes below 0, and its mean moves up
    const wide = sample(cls({ dist: 'normal', meanMs: 1, sdMs: 5 }), n).xs;
    expect(Math.min(...wide)).toBeGreaterThanOrEqual(0);
    expect(mean(wide)).toBeGreaterThan(3);
    const ln = sample(cls({ dist: 'lognormal', meanMs: 10, sigma: 0.5 }), n).xs;
    expect(Math.abs(mean(ln) - 10) / 10).toBeLessThan(0.02);
    // median of a log-normal = mean · exp(−σ²/2)
    const sorted = [...ln].sort((a, b) => a - b);
    expect(Math.abs(sorted[n / 2] - 10 * Math.exp(-0.125)) / 10).toBeLessThan(0.02);
    const pa = sample(cls({ dist: 'pareto', meanMs: 10, alpha: 3 }), n).xs;
    expect(Math.min(...pa)).toBeGreaterThanOrEqual((10 * 2) / 3 - 1e-9);
    expect(Math.abs(mean(pa) - 10) / 10).toBeLessThan(0.03);
    // heavy tail: P(X > 4·xm) = 4^-alpha
    const xm = (10 * 2) / 3;
    expect(pa.filter((x) => x > 4 * xm).length / n).toBeCloseTo(4 ** -3, 2);
  });

  it('loses about the configured fraction, and adds jitter within its bounds around the same mean', () => {
    const n = 40_000;
    const { lost } = sample(cls({ dist: 'const', ms: 10 }, 0, 0.05), n);
    // binomial: sd = sqrt(n p (1-p)) ≈ 44; 4 sd
    expect(Math.abs(lost - 0.05 * n)).toBeLessThan(4 * Math.sqrt(n * 0.05 * 0.95));
    const j = sample(cls({ dist: 'const', ms: 10 }, 3), n).xs;
    expect(Math.min(...j)).toBeGreaterThanOrEqual(7);
    expect(Math.max(...j)).toBeLessThanOrEqual(13);
    expect(mean(j)).toBeCloseTo(10, 1);
  });

  it('scales a link\'s delays by its factor, and keeps notifications', () => {
    const a = sample(cls({ dist: 'lognormal', meanMs: 10, sigma: 0.5 }), 100).xs;
    const b = sample(cls({ dist: 'lognormal', meanMs: 10, sigma: 0.5 }), 100, 7, 2.5).xs;
    b.forEach((x, i) => expect(x).toBeCloseTo(2.5 * a[i], 9));
    const l = new DirectedLink(cls({ dist: 'const', ms: 1 }, 0, 0.9), 1, 1, 'a', 'b');
    for (let i = 0; i < 100; i++) expect(l.draw(key(i), true).lost).toBe(false);
    // the delay of a copy is the same whether or not it could have been lost
    expect(l.draw(key(5), true).delayMs).toBe(l.draw(key(5)).delayMs);
  });

  it('per-class links: messages up and down a pair of roles follow their own classes', () => {
    const m = LinkModel.parse({ classes: { 'mec>ue': { delay: '2ms' }, 'ue>mec': { delay: 'uniform(20ms,30ms)' } } }, ['mec', 'ue']);
    const down = m.link(1, { id: 'mec', role: 'mec' }, { id: 'ue-0', role: 'ue' });
    const up = m.link(1, { id: 'ue-0', role: 'ue' }, { id: 'mec', role: 'mec' });
    expect(down.draw(key(0)).delayMs).toBe(2);
    const x = up.draw(key(0)).delayMs;
    expect(x).toBeGreaterThanOrEqual(20);
    expect(x).toBeLessThanOrEqual(30);
    const factored = m.link(1, { id: 'ue-0', role: 'ue', factor: 2 }, { id: 'mec', role: 'mec', factor: 1.5 });
    expect(factored.factor).toBe(3);
  });

  it('gives the modelled round trip and a TCP-like first RTO', () => {
    const m = LinkModel.parse({ rtt: '20ms', rtoMin: '1ms' });
    expect(m.rtt('mec', 'ue')).toEqual({ meanMs: 20, devMs: 0 });
    expect(m.rtt('mec', 'ue', 2).meanMs).toBe(40);
    const ln = LinkModel.parse({ classes: { '*>*': { delay: 'lognormal(10ms,0.5)' } } }).rtt('a', 'b');
    expect(ln.meanMs).toBeGreaterThan(19);
    expect(ln.meanMs).toBeLessThan(21);
    expect(ln.devMs).toBeGreaterThan(2);
    const rto = new RtoEstimator({ meanMs: 20, devMs: 0 }, 1);
    expect(LinkModel.parse({ rtt: 5 }).lossy).toBe(false);
    expect(LinkModel.parse({ classes: { "a>b": { loss: 0.1 } } }).lossy).toBe(true);
    // the model's mean is taken as the first measurement R: RTO = R + 4·R/2 = 3R
    expect(rto.rtoMs()).toBe(60);
    for (let i = 0; i < 200; i++) rto.sample(25);
    // learnt: srtt → 25, rttvar → 0, so RTO → 25 + G
    expect(rto.rtoMs()).toBeCloseTo(26, 3);
  });
});

describe('link model: arrivals at a receiver', () => {
  it('holds each message for its delay, keeps the link\'s order, and numbers the copies', async () => {
    const link = new DirectedLink(cls({ dist: 'uniform', minMs: 0, maxMs: 40 }), 1, 3, 'mec', 'ue-0');
    const arrivals = new LinkArrivals(link);
    const got: number[] = [];
    const t0 = performance.now();
    const due: number[] = [];
    const at: number[] = [];
    for (let r = 1; r <= 12; r++) {
      due.push(link.draw({ slot: 0, round: r, kind: 'price', attempt: 1 }).delayMs);
      arrivals.arrive(0, r, 'price', false, () => {
        got.push(r);
        at.push(performance.now() - t0);
      });
    }
    expect(arrivals.holding).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // never before its own drawn delay, nor before the one ahead of it
    at.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(Math.max(...due.slice(0, i + 1)) - 0.001));
    // the draws are not already in order: the link's order is kept by holding
    expect(due.some((d, i) => i > 0 && d < due[i - 1])).toBe(true);
    // a control message after held ones waits for them
    const order: string[] = [];
    arrivals.arrive(1, 1, 'price', false, () => order.push('request'));
    arrivals.after(() => order.push('control'));
    await new Promise((r) => setTimeout(r, 80));
    expect(order).toEqual(['request', 'control']);
  });

  it('draws a retransmitted copy as the next attempt, and drops the lost ones', () => {
    const link = new DirectedLink(cls({ dist: 'const', ms: 0 }, 0, 0.5), 1, 9, 'ue-0', 'mec');
    const arrivals = new LinkArrivals(link);
    const expected = [1, 2, 3, 4, 5, 6].map((attempt) => !link.draw({ slot: 2, round: 7, kind: 're:price', attempt }).lost);
    const seen = expected.map(() => arrivals.arrive(2, 7, 're:price', false, () => undefined));
    expect(seen).toEqual(expected);
    expect(expected).toContain(true);
    expect(expected).toContain(false);
  });

  it('delivers at once, with no timer, when the delay is zero', () => {
    const arrivals = new LinkArrivals(new DirectedLink(cls({ dist: 'const', ms: 0 }), 1, 1, 'a', 'b'));
    let n = 0;
    arrivals.arrive(0, 1, 'price', false, () => n++);
    expect(n).toBe(1);
    expect(arrivals.holding).toBe(0);
  });
});
