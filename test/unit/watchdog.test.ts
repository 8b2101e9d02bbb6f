/**
 * The orchestrator watchdog of external agent hosts (agents/watchdog.ts), on a fake clock: unarmed it
 * never fires; armed, it fires once, after the limit and a second check, and never while the
 * orchestrator is heard; a host stalled itself gets one more check to read what was queued.
 */
import { describe, expect, it } from 'vitest';
import { OrchestratorWatch, SILENCE_FLOOR_MS, silenceLimitMs, type Clock } from '../../agents/watchdog.ts';
import { scaledMs } from '../../bus/timeouts.ts';

/** A clock whose time moves only when told; `advance` runs the tickers due on the way. */
class FakeClock implements Clock {
  t = 1_000_000;
  private tickers: { every: number; next: number; fn: () => void; stopped: boolean }[] = [];

  now(): number {
    return this.t;
  }

  every(ms: number, fn: () => void): { stop(): void } {
    const tk = { every: ms, next: this.t + ms, fn, stopped: false };
    this.tickers.push(tk);
    return { stop: () => (tk.stopped = true) };
  }

  /** Moves time by `ms`, running each ticker at its times (a stalled process: `stalled` runs none until the end, then one). */
  advance(ms: number, stalled = false): void {
    const end = this.t + ms;
    if (stalled) {
      this.t = end;
      for (const tk of this.live()) {
        tk.next = end + tk.every;
        tk.fn();
      }
      return;
    }
    for (;;) {
      const due = this.live().filter((tk) => tk.next <= end);
      if (!due.length) break;
      const tk = due.reduce((a, b) => (b.next < a.next ? b : a));
      this.t = tk.next;
      tk.next += tk.every;
      tk.fn();
    }
    this.t = end;
  }

  live() {
    return this.tickers.filter((tk) => !tk.stopped);
  }
}

function watch(limit = 10_000) {
  const clock = new FakeClock();
  const fired: { silentMs: number; limitMs: number; at: number }[] = [];
  const w = new OrchestratorWatch({ clock, limitMs: () => limit, onSilent: (silentMs, limitMs) => fired.push({ silentMs, limitMs, at: clock.now() }) });
  return { clock, fired, w };
}

describe('orchestrator watchdog', () => {
  it('watches nothing until armed: a host waiting for its orchestrator to start does not give up on it', () => {
    const { clock, fired, w } = watch();
    w.heard();
    clock.advance(10 * 60_000);
    expect(w.check()).toBe(false);
    expect(fired).toEqual([]);
    expect(clock.live()).toHaveLength(0);
  });

  it('armed, fires once, between the limit and the limit plus two checks of silence, and stops its ticker', () => {
    const { clock, fired, w } = watch(10_000);
    const t0 = clock.now();
    w.arm(1000); // checks every second
    clock.advance(60_000);
    expect(fired).toHaveLength(1);
    const [f] = fired;
    expect(f.limitMs).toBe(10_000);
    expect(f.silentMs).toBeGreaterThan(10_000);
    expect(f.at - t0).toBeGreaterThan(10_000);
    expect(f.at - t0).toBeLessThanOrEqual(10_000 + 2 * 1000);
    expect(clock.live()).toHaveLength(0);
    expect(w.check()).toBe(false);
    w.heard();
    w.arm(1000); // too late: it has given up on this orchestrator
    clock.advance(60_000);
    expect(fired).toHaveLength(1);
  });

  it('never fires while the orchestrator is heard (every beat, or only now and then within the limit)', () => {
    const { clock, fired, w } = watch(10_000);
    w.arm(500);
    for (let i = 0; i < 200; i++) {
      clock.advance(500);
      w.heard();
    }
    for (let i = 0; i < 30; i++) {
      clock.advance(9_500);
      w.heard();
    }
    expect(fired).toEqual([]);
    // then silence
    clock.advance(11_000);
    expect(fired).toHaveLength(1);
  });

  it('a heartbeat heard while the first check past the limit is pending saves the orchestrator (a stalled host reads its queue first)', () => {
    const { clock, fired, w } = watch(10_000);
    w.arm(1000);
    // the host itself is stalled for 20 s: its first check after the stall only suspects
    clock.advance(20_000, true);
    expect(fired).toEqual([]);
    // the heartbeats queued meanwhile are read before the next check
    w.heard();
    clock.advance(5_000);
    expect(fired).toEqual([]);
    // a stall with nothing queued: given up at the next check
    clock.advance(20_000, true);
    expect(fired).toEqual([]);
    clock.advance(1000);
    expect(fired).toHaveLength(1);
  });

  it('arming again (more welcomes, a heartbeat) counts as hearing, and keeps the first period', () => {
    const { clock, fired, w } = watch(10_000);
    w.arm(1000);
    clock.advance(8_000);
    w.arm(5000);
    clock.advance(8_000);
    expect(fired).toEqual([]);
    expect(clock.live()).toHaveLength(1);
    clock.advance(5_000);
    expect(fired).toHaveLength(1);
  });

  it('the limit: max(10 beats, 30 s), or MECSIM_ORCH_SILENCE_MS, stretched by the load as other hang detectors are', () => {
    // (read the load once: the limit and the expectation must use the same slowdown)
    const ratio = scaledMs(1_000_000) / 1_000_000;
    const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.ceil(b * 0.5) + 1);
    near(silenceLimitMs(2000, {}), SILENCE_FLOOR_MS * ratio);
    near(silenceLimitMs(10_000, {}), 100_000 * ratio);
    near(silenceLimitMs(2000, { MECSIM_ORCH_SILENCE_MS: '3000' }), 3000 * ratio);
    expect(silenceLimitMs(2000, { MECSIM_ORCH_SILENCE_MS: 'x' })).toBeGreaterThanOrEqual(SILENCE_FLOOR_MS);
    expect(silenceLimitMs(60_000, {})).toBeGreaterThanOrEqual(600_000);
  });
});
