import { describe, expect, it } from 'vitest';
import { usableCores } from '../../bus/cores.ts';
import { AUTO_PROCESS_MAX, autoPlacement, checkProcessBudget, parsePlacement, planWorkers, PROCESS_MIB, RunError } from '../../orchestrator/run.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';

describe('placement', () => {
  const cfg = stackelberg.resolve({ seed: 1, slots: 1, users: 1000, options: {} });
  const agents = stackelberg.agents(cfg);
  const leader = stackelberg.leaderId(cfg);

  it('plans the leader alone, then workers of K followers (auto: one worker per core above 32 followers)', () => {
    const sizes = (p: string, cores?: number) => planWorkers(agents, leader, parsePlacement(p), stackelberg.roles, cores).map((g) => g.length);
    expect(sizes('packed:300')).toEqual([1, 300, 300, 300, 100]);
    expect(sizes('auto', 2)).toEqual([1, 500, 500]);
    expect(sizes('auto', 4)).toEqual([1, 250, 250, 250, 250]);
    expect(sizes('auto', 3)).toEqual([1, 334, 334, 332]);
    expect(sizes('auto')).toEqual(sizes('auto', usableCores()));
    expect(sizes('packed:300', 2)).toEqual(sizes('packed:300', 64)); // only auto looks at the cores
    expect(sizes('process')).toHaveLength(1001);
  });

  it('auto: one process per follower up to 32, else one worker per core (never a worker of none)', () => {
    expect(autoPlacement(AUTO_PROCESS_MAX, 2)).toEqual({ kind: 'process' });
    expect(autoPlacement(AUTO_PROCESS_MAX + 1, 2)).toEqual({ kind: 'packed', k: 17 });
    expect(autoPlacement(40, 64)).toEqual({ kind: 'packed', k: 1 });
    expect(autoPlacement(1000, 1)).toEqual({ kind: 'packed', k: 1000 });
    expect(autoPlacement(1000, 0)).toEqual({ kind: 'packed', k: 1000 });
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
