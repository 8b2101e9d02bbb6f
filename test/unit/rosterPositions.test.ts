/** orchestrator/run/joinBarrier.ts RosterPositions: a follower's roster position, which names its replies as rows. */
import { describe, expect, it } from 'vitest';
import { RosterPositions } from '../../orchestrator/run/joinBarrier.ts';
import { sortRoster } from '../../scenarios/contract.ts';

const spec = (role: string, index: number) => ({ id: `${role}-${index}`, role, index });

describe('RosterPositions', () => {
  it('gives every follower its position in the sorted roster, with gaps in the indices or without, and nothing to an agent not in it', () => {
    const rosters = [
      sortRoster([...Array.from({ length: 50 }, (_, i) => spec('ue', i)), ...Array.from({ length: 3 }, (_, i) => spec('mec', i))], ['mec', 'ue']),
      sortRoster([spec('ue', 0), spec('ue', 2), spec('ue', 3), spec('mec', 5), spec('mec', 1)], ['mec', 'ue']),
      sortRoster([spec('ue', 7)], ['ue']),
    ];
    for (const roster of rosters) {
      const p = new RosterPositions(roster);
      roster.forEach((a, i) => expect(p.of(a), a.id).toBe(i));
      expect(p.of(spec('cloud', 0))).toBeUndefined();
      expect(p.of(spec('ue', 1000))).toBeUndefined();
      expect(p.of({ id: 'leader', role: 'ue', index: 0 })).toBeUndefined();
    }
  });
});
