import { describe, expect, it } from 'vitest';
import { leaderLink, arrivalsFor } from '../../bus/linkHold.ts';
import { LinkPlan, linkLine, withLink } from '../../orchestrator/run/linkPlan.ts';
import { RunError } from '../../orchestrator/run/plan.ts';
import { getScenario } from '../../scenarios/index.ts';
import { sortRoster } from '../../scenarios/inprocess.ts';
import type { AgentSpec, CompleteScenario, JsonObject } from '../../scenarios/types.ts';

const stackelberg = getScenario('stackelberg') as CompleteScenario;
const cfgOf = (link?: JsonObject): JsonObject => ({ ...stackelberg.resolve({ seed: 4, slots: 1, users: 4, options: {} }), ...(link ? { link } : {}) });
/** stackelberg with a per-agent factor: ue-i is 1 + i times as far */
const far: CompleteScenario = { ...stackelberg, linkFactor: (_cfg, a: AgentSpec) => (a.role === 'ue' ? 1 + a.index : 1) };

function plan(s: CompleteScenario, cfg: JsonObject) {
  const agents = s.agents(cfg as never);
  const leaderId = s.leaderId(cfg as never);
  return { p: LinkPlan.of(s, cfg, agents, leaderId), agents, leaderId, roster: sortRoster(agents.filter((a) => a.id !== leaderId), s.roles) };
}

describe('the link plan', () => {
  it('is absent without a link section', () => {
    expect(plan(stackelberg, cfgOf()).p).toBeUndefined();
  });

  it('refuses a class naming a role the run does not have, as a usage error', () => {
    const bad = () => plan(stackelberg, cfgOf({ classes: { 'ue>broker': { delay: '1ms' } } }));
    expect(bad).toThrow(RunError);
    expect(bad).toThrow(/"broker" is not a role of this run/);
    try {
      bad();
    } catch (e) {
      expect((e as RunError).exitCode).toBe(2);
    }
    expect(() => withLink(stackelberg, cfgOf(), { classes: { 'x>ue': {} } })).toThrow(/"x" is not a role/);
  });

  it('gives each welcome the section and seed, and the scenario\'s factors where it has them', () => {
    const { p, agents, leaderId, roster } = plan(far, cfgOf({ rtt: '10ms' }));
    const leader = agents.find((a) => a.id === leaderId)!;
    const lw = p!.welcomeFor(leader, roster);
    expect(lw).toMatchObject({ section: { rtt: '10ms' }, seed: 4, leaderRole: 'mec', factor: 1 });
    expect(lw.rosterFactors).toEqual(roster.map((a) => 1 + a.index));
    const ue2 = agents.find((a) => a.id === 'ue-2')!;
    expect(p!.welcomeFor(ue2, roster)).toMatchObject({ factor: 3, leaderFactor: 1 });
    expect(plan(stackelberg, cfgOf({ rtt: '10ms' })).p!.welcomeFor(ue2, roster).factor).toBeUndefined();
    // both ends of a link agree on its factor: requests held at ue-2, replies held at the leader
    const down = arrivalsFor(p!.welcomeFor(ue2, roster), { id: leaderId, role: 'mec', factor: 1 }, { id: 'ue-2', role: 'ue', factor: 3 })!;
    const up = leaderLink(lw, leader, roster).arrivals.get('ue-2')!;
    expect(down.link.draw({ slot: 0, round: 1, kind: 'price', attempt: 1 }).delayMs).toBe(15);
    expect(up.link.draw({ slot: 0, round: 1, kind: 're:price', attempt: 1 }).delayMs).toBe(15);
    // no loss configured: no retransmission timer
    expect(leaderLink(lw, leader, roster).rto).toBeUndefined();
    expect(leaderLink({ ...lw, section: { rtt: '10ms', loss: 0.1 } }, leader, roster).rto!.map((r) => r.rtoMs())).toEqual(roster.map((a) => 10 * (1 + a.index) + Math.max(25, 2 * 10 * (1 + a.index))));
  });

  it('refuses a factor that is not positive and finite', () => {
    const zero: CompleteScenario = { ...stackelberg, linkFactor: () => 0 };
    expect(() => plan(zero, cfgOf({ rtt: 1 }))).toThrow(/a link factor must be a number in \(0, 1000\]/);
  });

  it('describes the model for summary.json and the console', () => {
    const { p } = plan(stackelberg, cfgOf({ rtt: '20ms', loss: 0.01, classes: { 'ue>mec': { delay: 'uniform(5ms,15ms)' } } }));
    const d = p!.describe() as any;
    expect(d.config).toEqual({ rtt: '20ms', loss: 0.01, classes: { 'ue>mec': { delay: 'uniform(5ms,15ms)' } } });
    expect(d.default).toEqual({ delay: '10ms', meanDelayMs: 10, jitterMs: 0, loss: 0.01 });
    expect(d.classes['ue>mec']).toEqual({ delay: 'uniform(5ms,15ms)', meanDelayMs: 10, jitterMs: 0, loss: 0.01 });
    expect(d.modelledRtt['mec>ue>mec'].meanMs).toBeCloseTo(20, 1);
    const line = linkLine({ link: d, faults: { linkRetransmissions: 3, linkLost: 2, linkEchoes: 1 } });
    expect(line).toMatch(/link model: one-way 10ms loss 0\.01 · ue>mec uniform\(5ms,15ms\) loss 0\.01 · modelled round trip mec>ue>mec 20(\.\d+)? ms · 3 retransmissions \(2 messages lost, 1 late replies answered twice\)/);
    expect(linkLine({ link: null })).toBeUndefined();
  });
});
