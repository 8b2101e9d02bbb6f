/** The bench's check of the scale targets: which rows measure which target, and the verdict. */
import { describe, expect, it } from 'vitest';
import { targetChecks, type BenchRow } from '../../orchestrator/bench.ts';

const row = (o: Partial<BenchRow>): BenchRow => ({ scenario: 'stackelberg', mechanism: 'gsrp-search', users: 1000, placement: 'packed:250', ratio: 1.4, peakMemoryMiB: 500, joinMaxMs: 3000, ...o }) as BenchRow;

describe('bench targets', () => {
  it('checks the ratio at N = 1000 and 10,000, memory at 10,000, and the join of 100 process-placement agents', () => {
    const t = targetChecks([
      row({ users: 100 }),
      row({ users: 1000, ratio: 1.5 }),
      row({ users: 10_000, ratio: 2.1, peakMemoryMiB: 3100 }),
      row({ mechanism: 'gsrp-search/process', users: 100, placement: 'process', joinMaxMs: 20_001 }),
    ]);
    expect(t.map((x) => [x.row, x.value, x.met])).toEqual([
      ['stackelberg gsrp-search N=1000', 1.5, true],
      ['stackelberg gsrp-search N=10000', 2.1, false],
      ['stackelberg gsrp-search N=10000', 3100, false],
      ['stackelberg gsrp-search/process N=100', 20_001, false],
    ]);
  });
});
