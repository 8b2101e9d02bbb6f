/**
 * scripts/compute-cost.ts: a scenario's own computation, slot by slot, with no bus. It runs the same
 * protocol as the in-process run (the same rounds a slot), prints CPU it measured, and refuses bad
 * arguments with a message and exit code 2.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/compute-cost.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('scripts/compute-cost.ts', () => {
  it('prints each slot with the in-process run’s rounds and the CPU time it took', async () => {
    const r = run('stackelberg', '--users', '20', '--slots', '3', '--seed', '4');
    expect(r.status, r.stderr).toBe(0);
    const slots = [...r.stdout.matchAll(/^slot (\d+): (\d+) rounds, ([\d.]+) ms CPU, ([\d.]+) ms a round$/gm)];
    expect(slots.map((m) => Number(m[1]))).toEqual([0, 1, 2]);
    const ip = new InProcessRun(stackelberg, stackelberg.resolve({ seed: 4, slots: 3, users: 20, options: {} }));
    for (const m of slots) expect(Number(m[2])).toBe((await ip.runSlot(Number(m[1]))).rounds);
    expect(slots.reduce((a, m) => a + Number(m[3]), 0)).toBeGreaterThan(0);
  }, 60_000);

  it.each([
    [['nosuch'], 'unknown scenario "nosuch"'],
    [['stackelberg', '--users', '0'], '--users must be a positive integer, not "0"'],
    [['stackelberg', '--option', 'noequals'], '--option takes key=value, not "noequals"'],
    [[], 'name one scenario'],
    [['stackelberg', '--foo'], "Unknown option '--foo'"],
    [['stackelberg', '--mechanism', 'nope'], '--mechanism: must be one of gsrp-search, gsrp-step, not "nope"'],
  ])('%j: exit 2 and says why', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  }, 60_000);
});
