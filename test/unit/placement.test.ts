import { describe, expect, it } from 'vitest';
import { checkProcessBudget, parsePlacement, planWorkers, PROCESS_MIB, RunError } from '../../orchestrator/run.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';

describe('placement', () => {
  const cfg = stackelberg.resolve({ seed: 1, slots: 1, users: 1000, options: {} });
  const agents = stackelberg.agents(cfg);
  const leader = stackelberg.leaderId(cfg);

  it('plans the leader alone, then workers of K followers (auto: 4 workers above 32 followers)', () => {
    const sizes = (p: string) => planWorkers(agents, leader, parsePlacement(p), stackelberg.roles).map((g) => g.length);
    expect(sizes('packed:300')).toEqual([1, 300, 300, 300, 100]);
    expect(sizes('auto')).toEqual([1, 250, 250, 250, 250]);
    expect(sizes('process')).toHaveLength(1001);
  });

  it('refuses more agent processes than the memory holds, before anything starts, and says what to use', () => {
    const processes = planWorkers(agents, leader, { kind: 'process' }, stackelberg.roles).length;
    const fits = (processes * PROCESS_MIB) / 0.8;
    expect(() => checkProcessBudget(processes, { kind: 'process' }, fits)).not.toThrow();
    let err: unknown;
    try {
      checkProcessBudget(processes, { kind: 'process' }, fits - 100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/--placement process would start 1001 agent processes.*packed:K or auto/);
  });
});
