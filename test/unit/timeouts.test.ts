import { describe, expect, it } from 'vitest';
import { joinTimeoutMs, machineNow, MAX_JOIN_MS, MAX_SLOWDOWN, scaledMs, slowdown } from '../../bus/timeouts.ts';

const idle2 = { cores: 2, load: 0 };

describe('default timeouts scale with the work and the machine', () => {
  it('slowdown: 1 on an idle or merely busy machine, the load per core beyond that, bounded', () => {
    expect(slowdown(idle2)).toBe(1);
    expect(slowdown({ cores: 2, load: 1 })).toBe(1);
    expect(slowdown({ cores: 2, load: 11 })).toBe(6); // the machine where 8 tests failed: 7 sessions on 2 cores
    expect(slowdown({ cores: 8, load: 11 })).toBe(1.5);
    expect(slowdown({ cores: 2, load: 500 })).toBe(MAX_SLOWDOWN);
    expect(slowdown({ cores: 0, load: NaN })).toBe(1);
    const now = slowdown(machineNow());
    expect(now).toBeGreaterThanOrEqual(1);
    expect(now).toBeLessThanOrEqual(MAX_SLOWDOWN);
  });

  it('joinTimeoutMs: the former defaults on an idle machine for small runs, never less', () => {
    expect(joinTimeoutMs({ agents: 7, processes: 3, external: false }, idle2)).toBe(30_000);
    expect(joinTimeoutMs({ agents: 7, processes: 0, external: true }, idle2)).toBe(120_000);
    for (const m of [idle2, { cores: 64, load: 0 }, { cores: 2, load: 40 }])
      for (const agents of [1, 61, 2001, 10_001, 200_000]) {
        for (const external of [false, true]) {
          const t = joinTimeoutMs({ agents, processes: external ? 0 : Math.min(agents, 50), external }, m);
          expect(t).toBeGreaterThanOrEqual(Math.max(external ? 120_000 : 30_000, agents * 20));
        }
      }
  });

  it('joinTimeoutMs grows with the processes to start and with the load', () => {
    // 60 users + 1 leader, one process each: about 11 s of start-up on 2 idle cores, so more than the old 30 s
    const work = { agents: 61, processes: 61, external: false };
    const idle = joinTimeoutMs(work, idle2);
    expect(idle).toBeGreaterThan(30_000);
    expect(idle).toBeLessThan(60_000);
    const busy = joinTimeoutMs(work, { cores: 2, load: 11 });
    expect(busy).toBe(6 * idle);
    // more cores start processes side by side
    expect(joinTimeoutMs(work, { cores: 8, load: 0 })).toBeLessThan(idle);
    // packed: few processes, mostly the per-agent part
    expect(joinTimeoutMs({ agents: 2001, processes: 5, external: false }, idle2)).toBeGreaterThan(2001 * 20);
    // the load stretches a default only so far
    expect(joinTimeoutMs({ agents: 20_000, processes: 200, external: false }, { cores: 2, load: 100 })).toBe(MAX_JOIN_MS);
  });

  it('scaledMs stretches a hang detector by the slowdown', () => {
    expect(scaledMs(20_000, idle2)).toBe(20_000);
    expect(scaledMs(20_000, { cores: 2, load: 11 })).toBe(120_000);
    expect(scaledMs(1000)).toBeGreaterThanOrEqual(1000);
  });
});
