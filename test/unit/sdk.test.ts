/**
 * The public library (mod.ts) as a model author uses it: the worked example run in process against
 * its reference (and a run stopped early must fail that check), and `mecsim new`'s refusals.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mecsim from '../../mod.ts';
import { kelly } from '../../examples/kelly/index.ts';
import { anticipatingBid, nash, optimum } from '../../examples/kelly/model.ts';
import { scaffold, ScaffoldError } from '../../orchestrator/scaffold.ts';
import { catalog } from '../../catalog/catalog.ts';
import type { Scenario } from '../../scenarios/types.ts';

const example = kelly as unknown as Scenario;

describe('mecsim as a library', () => {
  it('exports the contract helpers and nothing of the runtime', () => {
    for (const k of ['ConfigError', 'stream', 'param', 'configSchema', 'partsOf', 'sortRoster', 'InProcessRun', 'runInProcess', 'seriesFigure']) expect(mecsim, k).toHaveProperty(k);
    for (const k of ['runScenario', 'runDistributed', 'catalog', 'acquireNats']) expect(mecsim, k).not.toHaveProperty(k);
  });

  it('the worked example is a valid scenario and equals its reference in process, with its claims holding', async () => {
    expect(mecsim.scenarioProblems(example)).toEqual([]);
    const r = await mecsim.runInProcess(example, { users: 12, slots: 3, seed: 7 });
    expect(r.ok).toBe(true);
    for (const s of r.slots) {
      expect(s.outcome.converged).toBe(true);
      // the mechanism's allocation x_i = C·b_i/Σb uses the whole capacity
      expect(s.outcome.equilibrium.allocated).toBeCloseTo(Number(s.outcome.equilibrium.capacity), 9);
    }
    expect((r.results?.claims as { verdict: string }[]).map((c) => c.verdict)).toEqual(['holds', 'holds']);
  });

  it('the example: same seed, same trajectory; its check fails a run stopped early', async () => {
    const a = await mecsim.runInProcess(example, { users: 6, seed: 3 });
    const b = await mecsim.runInProcess(example, { users: 6, seed: 3 });
    expect(b.slots.map((s) => s.trajectory)).toEqual(a.slots.map((s) => s.trajectory));
    const loose = await mecsim.runInProcess(example, { users: 6, seed: 3, options: { tolerance: 1e-2 } });
    expect(loose.ok).toBe(false);
    const short = await mecsim.runInProcess(example, { users: 6, seed: 3, options: { 'max-rounds': 5 } });
    expect(short.slots.every((s) => !s.outcome.converged && !s.reference.compare.ok)).toBe(true);
  });

  it('the example\'s second mechanism (its own followers and reference) reaches the Nash equilibrium, within 75 % of the optimum', async () => {
    const r = await mecsim.runInProcess(example, { users: 3, slots: 3, seed: 5, mechanism: 'price-anticipating' });
    expect(r.ok).toBe(true);
    const taking = await mecsim.runInProcess(example, { users: 3, slots: 3, seed: 5 });
    r.slots.forEach((s, i) => expect(Number(s.outcome.equilibrium.welfare)).toBeLessThan(Number(taking.slots[i].outcome.equilibrium.welfare)));
    expect((r.results?.claims as { id: string; verdict: string }[])[0]).toMatchObject({ id: 'johari-tsitsiklis-75', verdict: 'holds' });
    expect(() => mecsim.resolveConfig(example, { users: 1, mechanism: 'price-anticipating' })).toThrow(/at least 2 users/);
  });

  it("a mechanism's own slot line is used for its runs, the scenario's for the others (describeSlotOf)", async () => {
    const own = { ...example, mechanisms: example.mechanisms.map((m) => (m.id === 'price-anticipating' ? { ...m, describeSlot: (d: { equilibrium: Record<string, unknown> }) => `own ${d.equilibrium.welfare}` } : m)) };
    const r = await mecsim.runInProcess(own, { users: 3, slots: 1, seed: 5, mechanism: 'price-anticipating' });
    const [slot] = r.slots;
    expect(mecsim.describeSlotOf(own, 'price-anticipating')!(slot.outcome, slot.reference)).toBe(`own ${slot.outcome.equilibrium.welfare}`);
    expect(mecsim.describeSlotOf(own, 'price-taking')!(slot.outcome, slot.reference)).toMatch(/^price \S+ \(reference /);
    expect(mecsim.describeSlotOf(own, undefined)).toBeDefined();
    expect(mecsim.describeSlotOf({ ...own, describeSlot: undefined }, 'price-taking')).toBeUndefined();
  });

  it("the example's optimum satisfies the equilibrium conditions it solves", () => {
    const w = [1, 2, 5, 9, 9.5];
    const o = optimum(w, 4);
    expect(o.allocation.reduce((a, b) => a + b, 0)).toBeCloseTo(4, 10);
    // KKT: w_i/(1 + x_i) = p where x_i > 0, and w_i ≤ p where x_i = 0
    o.allocation.forEach((x, i) => (x > 0 ? expect(w[i] / (1 + x)).toBeCloseTo(o.price, 10) : expect(w[i]).toBeLessThanOrEqual(o.price)));
  });

  it('mecsim/run refuses a scenario object the agents could not load (before anything starts)', async () => {
    const { runDistributed } = await import('../../run.ts');
    await expect(runDistributed({ ...example, id: 'kelly-copy' })).rejects.toThrow(/not loaded from a module/);
  });

  it("the example's Nash equilibrium: every bid is a best reply to the others' total", () => {
    const w = [1, 2, 5, 9, 9.5];
    const C = 4;
    const e = nash(w, C);
    const bids = e.allocation.map((x) => x * e.price);
    const total = bids.reduce((a, b) => a + b, 0);
    bids.forEach((b, i) => expect(anticipatingBid(w[i], total - b, C)).toBeCloseTo(b, 9));
    expect(e.welfare).toBeLessThan(optimum(w, C).welfare);
  });

  it('rejects bad parameters of the example with the key named', () => {
    expect(() => mecsim.resolveConfig(example, { options: { gain: 2 } })).toThrow(/gain: must be a number in \(0, 2\)/);
    expect(() => mecsim.resolveConfig(example, { config: { weights: [1, -2] } })).toThrow(/weights\[1\]/);
  });
});

describe('mecsim new', () => {
  const parent = () => mkdtempSync(join(tmpdir(), 'mecsim-scaffold-'));

  it('writes a folder named after the scenario, depending on this mecsim by path', () => {
    const dir = parent();
    const s = scaffold('edge-x', dir, catalog.ids());
    expect(readdirSync(dir)).toEqual(['edge-x']); // no temporary folder left beside it
    expect(s.files.sort()).toEqual(['README.md', 'index.test.ts', 'index.ts', 'package.json']);
    const pkg = JSON.parse(readFileSync(join(s.dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'edge-x', type: 'module', exports: './index.ts' });
    expect(pkg.dependencies.mecsim).toMatch(/^file:\//);
    expect(readFileSync(join(s.dir, 'index.ts'), 'utf8')).toContain("const ID = 'edge-x';");
  });

  it('refuses a name that is not an id, a built-in id, and an existing folder (left untouched)', () => {
    const dir = parent();
    for (const bad of ['', 'Edge', 'a b', '../x', '-x', 'x'.repeat(65)]) expect(() => scaffold(bad, dir, catalog.ids()), bad).toThrow(ScaffoldError);
    expect(() => scaffold(catalog.ids()[0], dir, catalog.ids())).toThrow(/built-in/);
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'mine.txt'), 'keep');
    expect(() => scaffold('taken', dir, catalog.ids())).toThrow(/already exists/);
    expect(readdirSync(join(dir, 'taken'))).toEqual(['mine.txt']);
    expect(readdirSync(dir)).toEqual(['taken']);
    writeFileSync(join(dir, 'file'), '');
    expect(() => scaffold('y', join(dir, 'file'), catalog.ids())).toThrow(/is a file/);
    expect(existsSync(join(dir, 'y'))).toBe(false);
  });
});
