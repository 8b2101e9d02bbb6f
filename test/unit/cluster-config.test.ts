/**
 * `mecsim cluster init`'s users and files (orchestrator/cluster.ts), without a server: each role's
 * rules are RunPermissions' own for a host of that role, every run a cluster serves is confined to
 * its own subjects, and bad input is a clear error.
 */
import { describe, expect, it } from 'vitest';
import { subjects } from '../../bus/subjects.ts';
import { clusterConfig, ClusterUsers, parseHosts } from '../../orchestrator/cluster.ts';
import { RunPermissions } from '../../orchestrator/permissions.ts';
import type { AgentSpec } from '../../scenarios/types.ts';

const agents = (spec: Record<string, number>): AgentSpec[] =>
  Object.entries(spec).flatMap(([role, n]) => Array.from({ length: n }, (_, i) => ({ id: n === 1 && role !== 'ue' && role !== 'mec' ? role : `${role}-${i}`, role, index: i }) as AgentSpec));

const nodes = parseHosts('nats-1,nats-2,nats-3', '/data');

describe('cluster users', () => {
  it('a follower role gets exactly RunPermissions’ follower rules for any host; the leader’s role the leader’s', () => {
    const a = agents({ broker: 1, mec: 3, ue: 4 });
    const users = new ClusterUsers([{ runId: 'r1', leaderId: 'broker', agents: a }]);
    const perms = new RunPermissions('r1', 'broker');
    const ue = users.role('ue');
    expect(ue.rules.publish.allow).toEqual(perms.followerHost('*', a.filter((x) => x.role === 'ue')).publish);
    expect(ue.rules.subscribe.allow).toEqual(perms.followerHost('*', a.filter((x) => x.role === 'ue')).subscribe);
    expect(ue.rules.subscribe.deny).toEqual([`${subjects('r1').base}.inbox.orch.>`]);
    expect(ue.leads).toEqual([]);
    const mec = users.role('mec').rules.publish.allow;
    expect(mec).toContain(`${subjects('r1').base}.rep.broker.mec.*`);
    expect(mec).not.toContain(`${subjects('r1').base}.rep.broker.ue.*`);
    expect(mec).not.toContain(`${subjects('r1').base}.bc.>`);
    expect(users.role('broker').rules.publish.allow).toEqual(perms.leaderHost('*').publish);
    expect(users.role('broker').leads).toEqual(['broker (run r1)']);
    // a role the run lacks may only ask to join
    expect(users.role('cloud')).toMatchObject({ joinOnly: true, rules: { publish: { allow: [`${subjects('r1').base}.join.*`] } } });
  });

  it('two runs: each user is confined to the two runs’ subjects, and the roles follow each run (mec leads one, follows the other, which init points out)', () => {
    const r1 = { runId: 'a', leaderId: 'mec-0', agents: agents({ mec: 1, ue: 2 }) };
    const r2 = { runId: 'b', leaderId: 'broker', agents: agents({ broker: 1, mec: 2, ue: 2 }) };
    const c = clusterConfig({ runs: [r1, r2], nodes });
    const roots = [subjects('a').base, subjects('b').base];
    for (const u of c.users) {
      const all = [...u.rules.publish.allow, ...u.rules.subscribe.allow].filter((p) => p.startsWith('mecsim.'));
      for (const p of all) expect(roots.some((r) => p.startsWith(`${r}.`)), `${u.user}: ${p}`).toBe(true);
    }
    const mec = c.users.find((u) => u.user === 'mec')!;
    expect(mec.rules.publish.allow).toContain(`${roots[0]}.bc.>`);
    expect(mec.rules.publish.allow).not.toContain(`${roots[1]}.bc.>`);
    expect(mec.rules.publish.allow).toContain(`${roots[1]}.rep.broker.mec.*`);
    // one credential per role across the runs: mec's followers in b hold a's leader rights, and init says so
    expect(c.notes.join('\n')).toMatch(/role mec both leads and follows/);
  });

  it('a role that both leads and follows in one run is said so (its followers hold the leader’s rights)', () => {
    const c = clusterConfig({ runs: [{ runId: 'x', leaderId: 'mec-0', agents: agents({ mec: 3, ue: 1 }) }], nodes });
    expect(c.notes.join('\n')).toMatch(/role mec both leads and follows/);
  });

  it('files: one config per node with routes to the others through the route user, accounts, a credentials file per user; passwords differ and can be kept', () => {
    const run = { runId: 'compose', leaderId: 'mec-0', agents: agents({ mec: 1, ue: 3 }) };
    const c = clusterConfig({ runs: [run], nodes });
    expect(Object.keys(c.files).sort()).toEqual(['accounts.conf', 'creds/broker.env', 'creds/cloud.env', 'creds/mec.env', 'creds/orchestrator.env', 'creds/route.env', 'creds/ue.env', 'nats-1.conf', 'nats-2.conf', 'nats-3.conf']);
    expect(c.files['nats-2.conf']).toContain(`"nats-route://route:${c.route.pass}@nats-1:6222", "nats-route://route:${c.route.pass}@nats-3:6222"`);
    expect(new Set([...c.users.map((u) => u.pass), c.route.pass]).size).toBe(c.users.length + 1);
    const again = clusterConfig({ runs: [run], nodes }, Object.fromEntries([...c.users.map((u) => [u.user, u.pass]), ['route', c.route.pass]]));
    expect(again.files).toEqual(c.files);
  });

  it('bad input is a clear error', () => {
    expect(() => parseHosts('', '/d')).toThrow(/no host/);
    expect(() => parseHosts('a:1:2', '/d')).toThrow(/host or host:clientPort:clusterPort:httpPort/);
    expect(() => parseHosts('10.0.0.1:4222:6222:99999', '/d')).toThrow(/port 99999/);
    expect(() => clusterConfig({ runs: [], nodes })).toThrow(/at least one run/);
    expect(() => clusterConfig({ runs: [{ runId: 'a', leaderId: 'mec-0', agents: [] }, { runId: 'a', leaderId: 'mec-0', agents: [] }], nodes })).toThrow(/given twice/);
    expect(parseHosts('mecsim-nats-0.mecsim-nats-headless', '/data')[0]).toMatchObject({ name: 'mecsim-nats-0', routeAddress: 'mecsim-nats-0.mecsim-nats-headless:6222' });
    expect(parseHosts('127.0.0.1:1:2:3', '/data')[0]).toMatchObject({ name: 'nats-1', listen: '127.0.0.1', storeDir: '/data/nats-1' });
  });
});
