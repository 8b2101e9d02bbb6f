/**
 * Scale curves (orchestrator/scale.ts): a run's scale figures from its summary, the shaping of a
 * users sweep's summary into the figure's points, the figure's log–log panels, and the placement a
 * 100,000-user sweep gets by default.
 */
import { describe, expect, it } from 'vitest';
import { benchPlacement } from '../../orchestrator/bench.ts';
import { renderSvg } from '../../orchestrator/report.ts';
import { planWorkers } from '../../orchestrator/run.ts';
import { freeCorner, isScaleSweep, scaleCsvRows, scaleMeasures, scalePoints, scaleSpec, SCALE_PANELS } from '../../orchestrator/scale.ts';
import { summarise } from '../../orchestrator/sweep.ts';
import type { Row } from '../../scenarios/common/figures.ts';

const MiB = 2 ** 20;
const runSummary = (o: { natsServerRssBytes?: number | null } = {}) => ({
  agents: { total: 101, followers: 100 },
  runMetrics: {
    agentStartToJoinedMs: { max: 2020, count: 101 },
    processes: {
      hosts: [
        { host: 'leader', agents: 1, maxRssBytes: 80 * MiB },
        { host: 'w1', agents: 50, maxRssBytes: 100 * MiB },
        { host: 'w2', agents: 50, maxRssBytes: 100 * MiB },
      ],
      orchestratorPeakRssBytes: 120 * MiB,
      natsServerRssBytes: o.natsServerRssBytes ?? null,
      peakRssBytesTotal: 400 * MiB + (o.natsServerRssBytes ?? 0),
    },
  },
});

describe('scaleMeasures', () => {
  it('mean round time, join rate and memory per agent from a run summary; a server the run was given is added to every process’s memory', () => {
    const m = scaleMeasures(runSummary(), [1, 2, 3, 6], 30 * MiB);
    expect(m.roundMs).toBe(3);
    expect(m.joinMaxMs).toBe(2020);
    expect(m.joinPerSec).toBe(50); // 101 agents in 2.02 s
    expect(m.peakBytesTotal).toBe(430 * MiB);
    expect(m.bytesPerAgent).toBe(Math.round((430 * MiB) / 101));
    expect(m.leaderBytesPerAgent).toBe(Math.round((80 * MiB) / 101));
    expect(m.orchestratorBytesPerAgent).toBe(Math.round((120 * MiB) / 101));
    // the floor is measured apart
    expect([m.floorRoundMs, m.roundToFloor]).toEqual([null, null]);
  });

  it('a run that read its own server’s memory keeps it and gets nothing added; missing figures are null', () => {
    const m = scaleMeasures(runSummary({ natsServerRssBytes: 20 * MiB }), [], 30 * MiB);
    expect(m.peakBytesTotal).toBe(420 * MiB);
    expect(m.roundMs).toBeNull();
    const bare = scaleMeasures({ agents: { total: 3 }, runMetrics: { processes: { hosts: [] } } }, [2]);
    expect([bare.joinMaxMs, bare.joinPerSec, bare.leaderBytesPerAgent, bare.bytesPerAgent]).toEqual([null, null, null, null]);
  });
});

/** summary.csv rows of a users sweep: one mechanism, three sizes, the scale columns' medians and intervals. */
function sweepSummary(mechanisms = ['gsrp-search']): Row[] {
  const runs: Row[] = [];
  for (const mechanism of mechanisms)
    for (const users of [10, 100, 1000])
      for (const seed of [1, 2, 3])
        runs.push({
          mechanism,
          users,
          seed,
          ok: true,
          roundMs: 0.1 * users + seed,
          floorRoundMs: 0.05 * users + seed,
          roundToFloor: 1.5,
          timeToEquilibriumMs: 40 * (0.1 * users + seed),
          joinMaxMs: 300 + users,
          joinPerSec: users / ((300 + users) / 1000),
          bytesPerAgent: 4e8 / users,
          leaderBytesPerAgent: 8e7 / users,
          // absent (e.g. a run that could not read it): not drawn
          orchestratorBytesPerAgent: users === 10 ? null : 1e8 / users,
          wallMs: 1000,
          peakMemoryMiB: 400,
        });
  return summarise(runs, 'users');
}

describe('scale figure data', () => {
  it('summary rows become one point per panel, series and N, with the median and its interval; the scale columns are summarised', () => {
    const summary = sweepSummary();
    expect(summary.map((r) => [r.users, r.runs, r['roundMs.median'], r['floorRoundMs.median']])).toEqual([
      [10, 3, 3, 2.5],
      [100, 3, 12, 7],
      [1000, 3, 102, 52],
    ]);
    expect(isScaleSweep(summary)).toBe(true);
    expect(isScaleSweep(summary.slice(0, 1))).toBe(false);
    const points = scalePoints(summary);
    const of = (panel: string, series: string) => points.filter((p) => p.panel === panel && p.series === series).map((p) => [p.users, p.median, p.lo, p.hi]);
    expect(of('round', 'mecsim')).toEqual([
      [10, 3, 2, 4],
      [100, 12, 11, 13],
      [1000, 102, 101, 103],
    ]);
    expect(of('round', 'raw NATS floor').map((x) => x[1])).toEqual([2.5, 7, 52]);
    expect(of('equilibrium', 'time to equilibrium').map((x) => x[1])).toEqual([120, 480, 4080]);
    expect(of('join', 'slowest join').map((x) => x[1])).toEqual([310, 400, 1300]);
    expect(of('memory', 'all processes').map((x) => x[1])).toEqual([4e7, 4e6, 4e5]);
    // a figure no run had is left out, not drawn as zero
    expect(of('memory', 'orchestrator').map((x) => x[0])).toEqual([100, 1000]);
    // units with every point, for the CSV beside the figure
    expect(new Set(points.filter((p) => p.panel !== 'memory').map((p) => p.unit))).toEqual(new Set(['ms']));
    expect(points.find((p) => p.panel === 'memory')!.unit).toBe('bytes');
    const csv = scaleCsvRows(points);
    expect(Object.keys(csv[0])).toEqual(['panel', 'quantity', 'unit', 'series', 'mechanism', 'users', 'median', 'lo', 'hi', 'runs']);
  });

  it('with several mechanisms each series is named with its mechanism; zero or negative values (which a log axis cannot show) are left out', () => {
    const summary = sweepSummary(['a', 'b']);
    summary[0]['roundMs.median'] = 0;
    const points = scalePoints(summary);
    expect(new Set(points.filter((p) => p.panel === 'round').map((p) => p.series))).toEqual(new Set(['mecsim (a)', 'mecsim (b)', 'raw NATS floor (a)', 'raw NATS floor (b)']));
    expect(points.filter((p) => p.series === 'mecsim (a)').map((p) => p.users)).toEqual([100, 1000]);
  });
});

describe('scale figure', () => {
  it('four log–log panels against N; the round time and the floor share one panel and one y axis; every axis titled with its unit', async () => {
    const spec = scaleSpec('demo', scalePoints(sweepSummary())) as any;
    expect(spec.concat).toHaveLength(4);
    expect(spec.concat.map((p: any) => p.title.text)).toEqual(SCALE_PANELS.map((p) => p.title));
    for (const panel of spec.concat)
      for (const layer of panel.layer) {
        expect(layer.encoding.x.scale.type).toBe('log');
        expect(layer.encoding.y.scale.type).toBe('log');
        expect(layer.encoding.x.title).toBe('users N (count)');
        expect(layer.encoding.y.title).toMatch(/\((ms|bytes)\)$/);
      }
    const round = spec.concat[0];
    expect(round.transform).toEqual([{ filter: { field: 'panel', equal: 'round' } }]);
    expect(round.layer[1].encoding.color.scale.domain).toEqual(['mecsim', 'raw NATS floor']);
    // the floor dashed and grey, mecsim solid
    expect(round.layer[1].encoding.strokeDash.scale.range).toEqual([
      [1, 0],
      [5, 3],
    ]);
    expect(round.layer[1].encoding.color.legend).not.toBeNull();
    expect(spec.concat[1].layer[1].encoding.color.legend).toBeNull(); // one series: no legend
    const svg = await renderSvg(spec);
    expect(svg.startsWith('<svg')).toBe(true);
    const axes = [...svg.matchAll(/aria-label="([XY]-axis[^"]*)"/g)].map((m) => m[1].replace(/&#39;/g, "'"));
    expect(axes).toHaveLength(8);
    for (const a of axes) expect(a).toMatch(/^[XY]-axis titled '.*\([^()]+\)' for a log scale/);
    expect(svg).toContain('raw NATS floor');
    // fits the report's column (1100 px less padding)
    expect(Number(/^<svg[^>]*width="([\d.]+)"/.exec(svg)![1])).toBeLessThanOrEqual(1068);
  });

  it('a legend goes to a corner no curve crosses, and the axis is raised when none is free', () => {
    const pts = (series: string, ys: number[]) => [10, 100, 1000].map((users, i) => ({ panel: 'p', quantity: 'q', unit: 'ms', series, mechanism: 'm', users, median: ys[i], lo: ys[i], hi: ys[i], runs: 1 }));
    const rising = [...pts('a', [1, 10, 100]), ...pts('b', [0.5, 5, 50])];
    expect(freeCorner(rising, ['a', 'b'], [5, 2000], [0.25, 200], 300, 250)).toBe('top-left');
    const falling = [...pts('a', [100, 10, 1]), ...pts('b', [50, 5, 0.5])];
    expect(freeCorner(falling, ['a', 'b'], [5, 2000], [0.25, 200], 300, 250)).toBe('top-right');
    // flat curves across the top and bottom: no corner free, and the figure raises the axis
    const flat = [...pts('all processes', [100, 90, 80]), ...pts('leader', [1, 1, 1])];
    expect(freeCorner(flat, ['all processes', 'leader'], [5, 2000], [0.5, 200], 300, 250)).toBeNull();
    const spec = scaleSpec('demo', flat.map((p) => ({ ...p, panel: 'memory' }))) as any;
    const y = spec.concat[0].layer[1].encoding.y.scale.domain;
    expect(y[1]).toBeGreaterThan(200);
  });
});

describe('placement for large N', () => {
  it('auto packs 100,000 users into one worker per core (beside the leader), as the bench does', () => {
    const agents = [{ id: 'leader', role: 'leader' }, ...Array.from({ length: 100_000 }, (_, i) => ({ id: `u${i}`, role: 'user' }))] as never[];
    const auto = (cores?: number) => planWorkers(agents, 'leader', { kind: 'auto' }, ['leader', 'user'], cores).map((g) => g.length);
    expect(auto(2)).toEqual([1, 50_000, 50_000]);
    expect(auto(4)).toEqual([1, 25_000, 25_000, 25_000, 25_000]);
    expect(planWorkers(agents, 'leader', benchPlacement(100_000, 2), ['leader', 'user']).map((g) => g.length)).toEqual(auto(2));
    expect(planWorkers(agents, 'leader', benchPlacement(100_000), ['leader', 'user']).map((g) => g.length)).toEqual(auto());
  });
});
