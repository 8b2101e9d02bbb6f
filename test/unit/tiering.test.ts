import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BASELINE_AT_FIRST_CALL, BUSY_SEMI_SPACE_MB, COLLECT_BEFORE_ROUNDS, COMPILE_ON_MAIN_THREAD, LEADER_HEAP_GROWING_PERCENT, LEADER_INTERRUPT_BUDGET, MAX_INLINED_CUMULATIVE, MANY_AGENTS, MANY_MESSAGES, NO_LOOP_PEELING, YOUNG_SEMI_SPACE_MB, tieringArgs } from '../../agents/tiering.ts';

describe('node flags by how many messages a process takes a round', () => {
  const saved = process.env.MECSIM_V8_TIERING;
  afterEach(() => {
    if (saved === undefined) delete process.env.MECSIM_V8_TIERING;
    else process.env.MECSIM_V8_TIERING = saved;
  });
  const inline = `--max-inlined-bytecode-size-cumulative=${MAX_INLINED_CUMULATIVE}`;
  const main = COMPILE_ON_MAIN_THREAD;
  const gc = COLLECT_BEFORE_ROUNDS;
  const semi = [`--min-semi-space-size=${BUSY_SEMI_SPACE_MB}`, `--max-semi-space-size=${BUSY_SEMI_SPACE_MB}`];
  const young = `--max-semi-space-size=${YOUNG_SEMI_SPACE_MB}`;
  const growing = `--heap-growing-percent=${LEADER_HEAP_GROWING_PERCENT}`;
  const base = BASELINE_AT_FIRST_CALL;
  const budget = `--interrupt-budget=${LEADER_INTERRUPT_BUDGET}`;
  const peel = NO_LOOP_PEELING;

  it("a one-agent process gets none; a packed worker the inlining cap, baseline code, no loop peeling and V8's initial young generation; one of MANY_MESSAGES agents a larger fixed one instead of the last two", () => {
    expect(tieringArgs(1, false)).toEqual([]);
    expect(tieringArgs(MANY_AGENTS - 1, false)).toEqual([]);
    expect(tieringArgs(MANY_AGENTS, false)).toEqual([inline, main, gc, base, peel, young]);
    expect(tieringArgs(MANY_MESSAGES - 1, false)).toEqual([inline, main, gc, base, peel, young]);
    expect(tieringArgs(MANY_MESSAGES, false)).toEqual([inline, main, gc, base, ...semi]);
  });

  it('the leader by its followers; a leader of many collects its old generation sooner and takes code as hot later', () => {
    expect(tieringArgs(1, true, 10)).toEqual([inline, main, gc, base, peel, young]);
    expect(tieringArgs(1, true, MANY_MESSAGES - 1)).toEqual([inline, main, gc, base, peel, young]);
    expect(tieringArgs(1, true, MANY_MESSAGES)).toEqual([inline, main, gc, base, ...semi, growing, budget]);
    expect(tieringArgs(1, true, 100_000)).toEqual([inline, main, gc, base, ...semi, growing, budget]);
  });

  it("the benchmark's floor processes: the same, without baseline code at the first call, the loop peeling flag or the leader's budget; the young generation alike", () => {
    expect(tieringArgs(1, true, MANY_MESSAGES - 1, 'floor')).toEqual([inline, main, gc, young]);
    expect(tieringArgs(MANY_AGENTS, false, 0, 'floor')).toEqual([inline, main, gc, young]);
    expect(tieringArgs(MANY_MESSAGES, false, 0, 'floor')).toEqual([inline, main, gc, ...semi]);
    expect(tieringArgs(1, true, MANY_MESSAGES, 'floor')).toEqual([inline, main, gc, ...semi, growing]);
  });

  it('MECSIM_V8_TIERING=default leaves V8 as it is', () => {
    process.env.MECSIM_V8_TIERING = 'default';
    expect(tieringArgs(10_000, false)).toEqual([]);
    expect(tieringArgs(1, true, 100_000)).toEqual([]);
  });

  it('a process started with the flags collects before its rounds; one without them is left alone', () => {
    const script = "import('./agents/tiering.ts').then((t) => { let runs = 0; const real = globalThis.gc; if (real) globalThis.gc = () => (runs++, real()); t.collectBeforeRounds(); console.log(runs); })";
    const run = (flags: string[]) => spawnSync(process.execPath, [...flags, '--import', 'tsx', '-e', script], { encoding: 'utf8' });
    const withFlags = run(tieringArgs(MANY_AGENTS, false));
    expect(withFlags.stderr).toBe('');
    expect(withFlags.stdout.trim()).toBe('1');
    expect(run([]).stdout.trim()).toBe('0');
  });
});
