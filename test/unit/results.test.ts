/** Result-file helpers: CSV round trip, statistics on long runs, thinning for figures. */
import { describe, expect, it } from 'vitest';
import { latencyStats, toCsv } from '../../orchestrator/results.ts';
import { parseCsv, thin } from '../../orchestrator/report.ts';
import { aggregate, type SweepRow } from '../../orchestrator/sweep.ts';

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

  it('a sweep aggregates median, min and max per size over repeats', () => {
    const row = (users: number, repeat: number, t: number): SweepRow => ({ users, repeat, runId: `r${users}-${repeat}`, ok: true, agents: users + 1, processes: 2, slots: 1, rounds: 10, messages: 10 * users, bytes: 1, timeToEquilibriumMs: t, roundP50Ms: 1, agentsJoinedMaxMs: 1, peakMemoryMiB: 100, wallMs: 1 });
    const a = aggregate([row(10, 0, 5), row(10, 1, 1), row(10, 2, 3), row(100, 0, 9)]);
    expect(a.map((x) => x.users)).toEqual([10, 100]);
    expect(a[0]).toMatchObject({ repeats: 3, ok: 3, 'timeToEquilibriumMs.median': 3, 'timeToEquilibriumMs.min': 1, 'timeToEquilibriumMs.max': 5, 'messages.median': 100 });
  });
});
