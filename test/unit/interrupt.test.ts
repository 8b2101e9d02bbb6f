/** Ctrl-C and SIGTERM for the commands that run simulations (orchestrator/interrupt.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { Interrupt } from '../../orchestrator/interrupt.ts';

// a signal no test runner relies on, sent with process.emit (no real signal reaches the worker)
const SIG: NodeJS.Signals = 'SIGUSR2';

describe('Interrupt', () => {
  const made: Interrupt[] = [];
  const make = () => {
    const exits: number[] = [];
    const lines: string[] = [];
    const it = new Interrupt({ signals: [SIG], graceMs: 60_000, exit: (c) => void exits.push(c), say: (l) => void lines.push(l) }).install();
    made.push(it);
    return { it, exits, lines };
  };
  afterEach(() => {
    for (const i of made.splice(0)) i.dispose();
    process.removeAllListeners(SIG);
  });

  it('the first signal aborts, the second exits at once with 130', () => {
    const { it: i, exits, lines } = make();
    process.emit(SIG, SIG);
    expect(i.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    process.emit(SIG, SIG);
    expect(exits).toEqual([130]);
    expect(lines.at(-1)).toMatch(/SIGUSR2 again: exiting now/);
  });

  it('done without a signal: its handlers go', () => {
    const { it: i } = make();
    const before = process.listenerCount(SIG);
    i.dispose();
    expect(process.listenerCount(SIG)).toBe(before - 1);
  });

  it('done after the first signal: a second one in the last stretch still exits with 130', () => {
    const { it: i, exits } = make();
    process.emit(SIG, SIG);
    i.dispose();
    expect(process.listenerCount(SIG)).toBe(1);
    process.emit(SIG, SIG);
    expect(exits).toEqual([130]);
  });
});
