/** The bench's check of the targets: which rows measure which target, and the verdict. */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_AGENT_LIMIT, formatTarget, referenceMisses, referenceNote, targetChecks, type BenchRow } from '../../orchestrator/bench.ts';

const row = (o: Partial<BenchRow>): BenchRow => ({ scenario: 'stackelberg', mechanism: 'gsrp-search', users: 1000, placement: 'packed:250', ratio: 1.4, cpuRatio: 1.2, peakMemoryMiB: 500, joinMaxMs: 3000, joinPerSec: 300, spuriousResent: 0, leaderBytesPerAgent: null, orchestratorBytesPerAgent: null, ...o }) as BenchRow;

describe('bench targets', () => {
  it('checks time and CPU per round at N = 1000 and 10,000 (against both floors), memory at 10,000, and the join of 100 process-placement agents', () => {
    const t = targetChecks([
      row({ users: 100 }),
      row({ users: 1000, ratio: 1.5, cpuRatio: 1.51, ratioShared: 1.7, cpuRatioShared: 1.4 }),
      row({ users: 10_000, ratio: 2.1, peakMemoryMiB: 3100 }),
      row({ mechanism: 'gsrp-search/process', users: 100, placement: 'process', joinMaxMs: 20_001 }),
    ]);
    expect(t.map((x) => [x.row, x.value, x.met])).toEqual([
      ['stackelberg gsrp-search N=1000', 1.5, true],
      ['stackelberg gsrp-search N=1000', 1.51, false],
      ['stackelberg gsrp-search N=1000', 1.7, false],
      ['stackelberg gsrp-search N=1000', 1.4, true],
      ['stackelberg gsrp-search N=10000', 2.1, false],
      ['stackelberg gsrp-search N=10000', 1.2, true],
      ['stackelberg gsrp-search N=10000', 3100, false],
      ['stackelberg gsrp-search/process N=100', 20_001, false],
    ]);
  });

  it('a ratio measured in several repeats shows their range, and says when they disagree with the verdict on their median', () => {
    const repeated = row({ users: 1000, repeats: 3, ratio: 1.1, ratioMin: 1.0, ratioMax: 1.2, cpuRatio: 1.2, cpuRatioMin: 1.1, cpuRatioMax: 1.3, ratioShared: 1.4, ratioSharedMin: 1.3, ratioSharedMax: 1.6, cpuRatioShared: 1.55, cpuRatioSharedMin: 1.45, cpuRatioSharedMax: 1.7 });
    const lines = targetChecks([repeated]).map(formatTarget);
    expect(lines[0]).toBe("target: per-round time ≤ 1.5 × the raw NATS floor (mecsim's client path): stackelberg gsrp-search N=1000: 1.1 (limit 1.5; repeats 1–1.2) — met");
    expect(lines[2]).toBe('target: per-round time ≤ 1.5 × the floor with one broadcast subscription per process: stackelberg gsrp-search N=1000: 1.4 (limit 1.5; repeats 1.3–1.6) — met, not in every repeat');
    expect(lines[3]).toBe("target: CPU per round ≤ 1.5 × that floor's: stackelberg gsrp-search N=1000: 1.55 (limit 1.5; repeats 1.45–1.7) — NOT met, met in some repeats");
    // one measurement: no range; a figure that is no ratio (memory): none either
    const once = targetChecks([row({ users: 10_000, repeats: 1, ratioMin: 1, ratioMax: 2 })]).map(formatTarget);
    expect(once[0]).toBe("target: per-round time ≤ 1.5 × the raw NATS floor (mecsim's client path): stackelberg gsrp-search N=10000: 1.4 (limit 1.5) — met");
    expect(targetChecks([repeated, row({ users: 10_000, repeats: 3 })]).find((t) => t.target.startsWith('peak'))!.spread).toBeUndefined();
  });

  it('the --scale row at 100,000: per-round ratio, memory, join rate (at least), spurious retransmissions, bytes per agent', () => {
    const t = targetChecks([row({ users: 100_000, ratio: 1.3, peakMemoryMiB: 2900, joinPerSec: 9_999, spuriousResent: 1, leaderBytesPerAgent: BYTES_PER_AGENT_LIMIT, orchestratorBytesPerAgent: BYTES_PER_AGENT_LIMIT + 1 })]);
    expect(t.map((x) => [x.target.split(' ')[0], x.value, x.met])).toEqual([
      ['per-round', 1.3, true],
      ['peak', 2900, true],
      ['agents', 9_999, false],
      ['spurious', 1, false],
      ["leader's", BYTES_PER_AGENT_LIMIT, true],
      ["orchestrator's", BYTES_PER_AGENT_LIMIT + 1, false],
    ]);
    // a figure the run did not give (no leader process found) is not checked
    expect(targetChecks([row({ users: 100_000, leaderBytesPerAgent: null })]).some((x) => x.target.startsWith("leader's"))).toBe(false);
  });
});

describe("the bench's note on a row that did not equal its reference", () => {
  const rep = (slots: [number, boolean, string?][]) => ({ summary: { perSlot: slots.map(([slot, ok, note]) => ({ slot, compare: { ok, note, against: 'the reference optimum' } })) } });

  it('names each missed slot once over every repeat, in slot order, with the first note given for it', () => {
    const misses = referenceMisses([
      rep([[0, true], [1, false, 'stopped at a local maximum'], [2, true]]),
      rep([[0, true], [1, false, 'a later note'], [2, false, 'profit gap 1e-5']]),
      rep([[0, false], [1, true], [2, true]]),
    ]);
    expect(misses).toEqual([
      { slot: 0, note: 'the reference optimum' },
      { slot: 1, note: 'stopped at a local maximum' },
      { slot: 2, note: 'profit gap 1e-5' },
    ]);
    expect(referenceMisses([rep([[0, true], [1, true]])])).toEqual([]);
  });

  it('shows three slots and says how many more, on one line naming the row', () => {
    const referenceMissesOf = (n: number) => Array.from({ length: n }, (_, i) => ({ slot: i * 2, note: `note ${i}` }));
    const five = referenceNote({ scenario: 'stackelberg', mechanism: 'gsrp-search', users: 1000, referenceMisses: referenceMissesOf(5) });
    expect(five).toBe("note: stackelberg gsrp-search N=1000 did not equal the reference (=ref NO) — slot 0: note 0; slot 2: note 1; slot 4: note 2; and 2 more (each run's summary.json has the slot's compare)");
    const one = referenceNote({ scenario: 'stackelberg', mechanism: 'gsrp-step', users: 10, referenceMisses: referenceMissesOf(1) });
    expect(one).toBe("note: stackelberg gsrp-step N=10 did not equal the reference (=ref NO) — slot 0: note 0 (each run's summary.json has the slot's compare)");
    expect(one.includes('\n')).toBe(false);
  });
});
