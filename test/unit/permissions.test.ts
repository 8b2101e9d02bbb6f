/**
 * The generated per-role permissions, read back from the config text the server gets: each host may
 * publish only its own control subjects (the brief's table in bus/subjects.ts), only the leader's
 * host answers slots and confirms replays, a follower reports only its own failure, nobody but the
 * orchestrator publishes control or listens on the orchestrator's subjects. The same rules are
 * enforced by a real nats-server in test/integration/forged-control.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../scenarios/types.ts';
import { subjects } from '../../bus/subjects.ts';
import { runAuth, RunPermissions } from '../../orchestrator/permissions.ts';

interface ParsedUser {
  user: string;
  password: string;
  publish: string[];
  subscribe: string[];
}

/** The users of a generated `authorization` block (one user map per line, lists of quoted subjects). */
function parseConfig(config: string): Map<string, ParsedUser> {
  expect(config).toMatch(/^authorization \{\nusers = \[\n[\s\S]*\n\]\n\}$/);
  const users = new Map<string, ParsedUser>();
  for (const line of config.split('\n').filter((l) => l.startsWith('{ user: '))) {
    const m = /^\{ user: ("[^"]*"), password: ("[^"]*"), permissions: \{ publish: (\[[^\]]*\]), subscribe: (\[[^\]]*\]) \} \}$/.exec(line);
    expect(m, line.slice(0, 200)).not.toBeNull();
    const u: ParsedUser = { user: JSON.parse(m![1]), password: JSON.parse(m![2]), publish: JSON.parse(m![3]), subscribe: JSON.parse(m![4]) };
    expect(users.has(u.user)).toBe(false);
    users.set(u.user, u);
  }
  return users;
}

/** NATS subject matching: `*` is one token, `>` one or more trailing tokens. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Whether a subscription on `wanted` (itself possibly a pattern) is inside one allowed pattern. */
function covers(pattern: string, wanted: string): boolean {
  const p = pattern.split('.');
  const w = wanted.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return w.length > i;
    if (i >= w.length) return false;
    if (p[i] === '*') {
      if (w[i] === '>') return false;
      continue;
    }
    if (p[i] !== w[i]) return false;
  }
  return p.length === w.length;
}

const spec = (id: string, role: string, index: number) => ({ id, role, index }) as AgentSpec;
const RUN = 'perm-unit-1';
const b = subjects(RUN).base;
const other = subjects('another-run').base;
// the leader alone; two user hosts of one role and one host of a second follower role
const plan = [
  { id: 'leader', agents: [spec('mec-0', 'mec', 0)] },
  { id: 'w1', agents: [spec('ue-0', 'ue', 0), spec('ue-1', 'ue', 1)] },
  { id: 'w2', agents: [spec('ue-2', 'ue', 2), spec('ue-3', 'ue', 3)] },
  { id: 'w3', agents: [spec('bs-0', 'bs', 0)] },
];

describe('generated per-role permissions', () => {
  const auth = runAuth(RUN, 'mec-0', plan);
  const users = parseConfig(auth.config);
  const mayPublish = (u: string, subject: string) => users.get(u)!.publish.some((p) => matches(p, subject));
  const maySubscribe = (u: string, wanted: string) => users.get(u)!.subscribe.some((p) => covers(p, wanted));
  const hosts = ['leader', 'w1', 'w2', 'w3'];

  it('has one user per host and one for the orchestrator, with the credentials runAuth hands out', () => {
    expect([...users.keys()]).toEqual(['orchestrator', ...hosts]);
    expect(users.get('orchestrator')!.password).toBe(auth.orchestrator.pass);
    for (const h of hosts) expect(users.get(h)!.password).toBe(auth.hosts[h].pass);
    expect(new Set([...users.values()].map((u) => u.password)).size).toBe(users.size);
  });

  it('the leader’s host publishes prices, direct messages, its own join and bye, the slot answers and the replay confirmations, and nothing else', () => {
    for (const s of [`${b}.bc.ue`, `${b}.bc.bs`, `${b}.to.ue-0`, `${b}.join.leader`, `${b}.inbox.orch.slots`, `${b}.inbox.orch.replayed`, `${b}.inbox.orch.bye.leader`]) expect(mayPublish('leader', s), s).toBe(true);
    const refused = [
      `${b}.join`, `${b}.join.w1`, `${b}.inbox.orch.bye.w1`, `${b}.inbox.orch.failed.leader`, `${b}.inbox.orch.failed.w1`, `${b}.inbox.orch.slots.x`, `${b}.inbox.orch.abc123`, `${b}.inbox.orch`,
      `${b}.ctl.mec-0`, `${b}.ctl.ue-0`, `${b}.ctl.all`, `${b}.rep.mec-0.ue.w1`, `${b}.inbox.w1.x`, `${b}.owner`, `${other}.bc.ue`, '$JS.API.INFO', 'x',
    ];
    for (const s of refused) expect(mayPublish('leader', s), s).toBe(false);
  });

  it('a follower’s host publishes only its own reply subject for each role it hosts, its own join, failure reports and bye', () => {
    for (const s of [`${b}.join.w1`, `${b}.rep.mec-0.ue.w1`, `${b}.inbox.orch.failed.w1`, `${b}.inbox.orch.bye.w1`]) expect(mayPublish('w1', s), s).toBe(true);
    const refused = [
      // another host's replies, a role it does not host, the old per-agent subjects; other hosts' joins, failures and byes
      `${b}.rep.mec-0.ue.w2`, `${b}.rep.mec-0.bs.w1`, `${b}.rep.mec-0.bs.w3`, `${b}.rep.mec-0.ue.*`, `${b}.rep.mec-0.ue-0`, `${b}.rep.mec-0.ue.w1.x`, `${b}.rep.other.ue.w1`, `${b}.join.w2`, `${b}.join.leader`, `${b}.join`, `${b}.inbox.orch.failed.w2`, `${b}.inbox.orch.failed.leader`, `${b}.inbox.orch.bye.w2`, `${b}.inbox.orch.bye.leader`,
      // the leader's answers, the orchestrator's control, the leader's prices
      `${b}.inbox.orch.slots`, `${b}.inbox.orch.replayed`, `${b}.inbox.orch.failed`, `${b}.inbox.orch.bye`, `${b}.inbox.orch.abc123.def`, `${b}.ctl.mec-0`, `${b}.ctl.ue-0`, `${b}.ctl.all`, `${b}.bc.ue`, `${b}.to.ue-1`,
      `${b}.inbox.w2.x`, `${b}.owner`, `${other}.rep.mec-0.ue.w1`, `${other}.join.w1`, '$JS.API.INFO',
    ];
    for (const s of refused) expect(mayPublish('w1', s), s).toBe(false);
    expect(mayPublish('w3', `${b}.rep.mec-0.bs.w3`)).toBe(true);
    expect(mayPublish('w3', `${b}.rep.mec-0.ue.w3`)).toBe(false);
  });

  it('nobody but the orchestrator publishes control, join replies or any other subject under inbox.orch', () => {
    const orchestratorOnly = [`${b}.ctl.mec-0`, `${b}.ctl.ue-0`, `${b}.ctl.all`, `${b}.inbox.leader.x.y`, `${b}.inbox.w1.x.y`, `${b}.inbox.orch.x`, `${b}.inbox.orch.slots.w1`, `${b}.owner`];
    for (const s of orchestratorOnly) {
      expect(mayPublish('orchestrator', s), s).toBe(true);
      for (const h of hosts) expect(mayPublish(h, s), `${h} on ${s}`).toBe(false);
    }
    // the orchestrator keeps the leader's state in the run's KV bucket
    expect(mayPublish('orchestrator', '$JS.API.STREAM.CREATE.KV_mecsim-perm-unit-1')).toBe(true);
    expect(mayPublish('orchestrator', '$KV.mecsim-perm-unit-1.leader')).toBe(true);
    expect(mayPublish('orchestrator', '$KV.mecsim-another.leader')).toBe(false);
    expect(mayPublish('orchestrator', `${other}.ctl.all`)).toBe(false);
  });

  it('subscriptions: nobody but the orchestrator listens on its inboxes or the joins; each host hears its own subjects', () => {
    for (const s of [`${b}.>`, `${b}.inbox.orch.>`, `${b}.inbox.orch.slots`, `${b}.inbox.orch.failed.*`, `${b}.join.*`, `${b}.join.w1`, `${b}.inbox.>`]) {
      expect(maySubscribe('orchestrator', s), s).toBe(true);
      for (const h of hosts) expect(maySubscribe(h, s), `${h} on ${s}`).toBe(false);
    }
    for (const s of [`${b}.rep.mec-0.*.*`, `${b}.rep.mec-0.ue.w2`, `${b}.ctl.mec-0`, `${b}.ctl.all`, `${b}.inbox.leader.>`]) expect(maySubscribe('leader', s), s).toBe(true);
    for (const s of [`${b}.bc.ue`, `${b}.to.ue-0`, `${b}.ctl.ue-0`, `${b}.inbox.w1.>`]) expect(maySubscribe('leader', s), s).toBe(false);
    for (const s of [`${b}.bc.ue`, `${b}.to.ue-0`, `${b}.to.ue-1`, `${b}.ctl.all`, `${b}.inbox.w1.>`, `${b}.inbox.w1.abc.1`]) expect(maySubscribe('w1', s), s).toBe(true);
    for (const s of [`${b}.bc.bs`, `${b}.bc.*`, `${b}.to.ue-2`, `${b}.to.*`, `${b}.ctl.mec-0`, `${b}.ctl.ue-0`, `${b}.rep.mec-0.ue.w1`, `${b}.rep.mec-0.*.*`, `${b}.inbox.w2.>`, `${b}.inbox.leader.x`]) expect(maySubscribe('w1', s), s).toBe(false);
    expect(maySubscribe('w3', `${b}.bc.bs`)).toBe(true);
    expect(maySubscribe('w3', `${b}.bc.ue`)).toBe(false);
  });

  it('every pattern of every host lies under the run’s root', () => {
    for (const h of hosts) for (const p of [...users.get(h)!.publish, ...users.get(h)!.subscribe]) expect(p.startsWith(`${b}.`), `${h}: ${p}`).toBe(true);
  });

  it('refuses host ids that are not one subject token, that would own the orchestrator’s inbox, or that repeat', () => {
    for (const id of ['w.1', 'w*', '>', '', 'a b']) expect(() => runAuth(RUN, 'mec-0', [{ id, agents: [spec('ue-0', 'ue', 0)] }]), id).toThrow(/host id/);
    expect(() => runAuth(RUN, 'mec-0', [{ id: 'orch', agents: [spec('ue-0', 'ue', 0)] }])).toThrow(/reserved/);
    expect(() => runAuth(RUN, 'mec-0', [{ id: 'orchestrator', agents: [spec('ue-0', 'ue', 0)] }])).toThrow(/reserved/);
    expect(() => runAuth(RUN, 'mec-0', [{ id: 'w1', agents: [spec('ue-0', 'ue', 0)] }, { id: 'w1', agents: [spec('ue-1', 'ue', 1)] }])).toThrow(/planned twice/);
  });

  it('RunPermissions gives the same rules as the config', () => {
    const p = new RunPermissions(RUN, 'mec-0');
    expect(p.host(plan[0])).toEqual({ publish: users.get('leader')!.publish, subscribe: users.get('leader')!.subscribe });
    expect(p.host(plan[1])).toEqual({ publish: users.get('w1')!.publish, subscribe: users.get('w1')!.subscribe });
  });
});

describe('size of the generated config at 100,000 agents', () => {
  it('names one subject per agent (its direct subject) and a few patterns per host', () => {
    // 100,000 users packed in 4 follower hosts (planWorkers with packed:25000) and the leader alone
    const N = 100_000;
    const users = Array.from({ length: N }, (_, i) => spec(`ue-${i}`, 'ue', i));
    const workers = [{ id: 'leader', agents: [spec('mec-0', 'mec', 0)] }, ...[0, 1, 2, 3].map((k) => ({ id: `w${k + 1}`, agents: users.slice(k * 25_000, (k + 1) * 25_000) }))];
    const bytes = Buffer.byteLength(runAuth('stackelberg-20261202-055500-s1-abcd', 'mec-0', workers).config);
    // Per agent only its direct subject (`"mecsim.<r>.to.ue-12345", `: about 30 bytes); a reply
    // subject per host and role, not per agent.
    expect(bytes).toBeLessThanOrEqual(32 * N + 1000 * workers.length);
    console.log(`generated permissions at ${N} agents in 4 follower hosts: ${bytes} bytes`);
  });
});
