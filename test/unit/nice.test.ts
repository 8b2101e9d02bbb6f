import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { renice, RunError, workerNice } from '../../orchestrator/run.ts';

describe('follower process niceness', () => {
  it('is 5 by default, MECSIM_WORKER_NICE otherwise (0 turns it off), and refuses anything but 0–19 with a usage error', () => {
    expect(workerNice({})).toBe(5);
    expect(workerNice({ MECSIM_WORKER_NICE: '0' })).toBe(0);
    expect(workerNice({ MECSIM_WORKER_NICE: '12' })).toBe(12);
    for (const bad of ['-1', '20', '2.5', 'high']) {
      expect(() => workerNice({ MECSIM_WORKER_NICE: bad }), bad).toThrow(/MECSIM_WORKER_NICE must be an integer from 0 to 19/);
      try {
        workerNice({ MECSIM_WORKER_NICE: bad });
      } catch (e) {
        expect(e).toBeInstanceOf(RunError);
        expect((e as RunError).exitCode).toBe(2);
      }
    }
  });

  it('lowers a spawned process\'s priority by that much, and leaves it alone at 0', async () => {
    const base = getPriority();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      expect(renice(child.pid, 5)).toBeUndefined();
      expect(getPriority(child.pid)).toBe(Math.max(base, 5)); // lowered to 5, never raised
      expect(renice(other.pid, 0)).toBeUndefined();
      expect(getPriority(other.pid)).toBe(base);
      expect(renice(999_999_999, 5)).toMatch(/.+/); // no such process: the error, not a throw
    } finally {
      child.kill();
      other.kill();
    }
  });
});
