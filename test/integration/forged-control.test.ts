/**
 * Every control subject is guarded (issue 16, Build 2), over real nats-server processes:
 *   1. the per-role users runAuth generates, on a private server: a follower host's credential that
 *      publishes any control kind on a subject it does not own (a slot answer, a replay confirmation,
 *      another host's failure report, bye or join, the leader's or everyone's control) is refused by
 *      the server and nothing reaches the orchestrator; its own subjects go through;
 *   2. the same forgeries during a real run: the run equals a clean one;
 *   3. on an external server without authentication anyone may publish, so malformed control bodies
 *      on every orchestrator subject and on the leader's control subject are dropped and counted,
 *      and the run equals the reference.
 * 2 and 3 need the runtime on the host-id subject scheme of bus/subjects.ts (joins on
 * `join.<host>`, failures and byes on `inbox.orch.failed.<host>` / `inbox.orch.bye.<host>`): the
 * permissions of 1 refuse the bare `join` of the scheme before it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, inject, it } from 'vitest';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../bus/codec.ts';
import { subjects } from '../../bus/subjects.ts';
import { startNatsServer } from '../../orchestrator/natsServer.ts';
import { runAuth, type Credential } from '../../orchestrator/permissions.ts';
import type { AgentSpec } from '../../scenarios/types.ts';
import { rawEnvelope } from '../helpers/wire.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** waits until `cond` holds; only a hang fails, so the limit is generous */
async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The permission violations the server reported to one connection (`-ERR 'Permissions Violation for …'`). */
class Violations {
  readonly seen: { operation: string; subject: string }[] = [];

  constructor(nc: NatsConnection) {
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const st of nc.status()) {
        if (st.type !== 'error') continue;
        const e = (st as { error?: { name?: string; operation?: string; subject?: string } }).error;
        if (e?.name === 'PermissionViolationError') this.seen.push({ operation: e.operation ?? '', subject: e.subject ?? '' });
      }
    } catch {
      /* the connection closed */
    }
  }

  refused(operation: 'publish' | 'subscription', subject: string): boolean {
    return this.seen.some((v) => v.operation === operation && v.subject === subject);
  }
}

/** One control message: where it goes, as which kind, from whom, with what body. */
interface Control {
  subject: string;
  kind: string;
  from: string;
  body: Record<string, unknown>;
}

const send = (nc: NatsConnection, runId: string, slot: number, c: Control) => nc.publish(c.subject, encodeEnvelope(runId, slot, 0, c.from, c.kind, c.body));

/** a slot answer that would end the run with a made-up equilibrium, if it were taken */
const forgedOutcome = (slot: number) => ({
  slot,
  outcome: { equilibrium: { p: 42, Z: 1 }, converged: true, notes: [] },
  trajectory: [],
  metrics: { rounds: 1, messages: 1, bytes: 1, timeToEquilibriumMs: 1, roundLatencyMs: [1] },
});

/**
 * Every control kind a follower host could forge, on subjects it does not own: the leader's answers,
 * another host's failure report, bye and join, and the orchestrator's control. Host `me` hosts
 * `mine`; `other` is another follower host hosting `theirs`; the leader is `leader`.
 */
function forgeries(base: string, o: { other: string; theirs: string; mine: string; leader: string; slot: number }): Control[] {
  const b = base;
  return [
    { subject: `${b}.inbox.orch.slots`, kind: 'slot-done', from: o.leader, body: forgedOutcome(o.slot) },
    { subject: `${b}.inbox.orch.slots`, kind: 'slot-failed', from: o.leader, body: { slot: o.slot, message: 'forged' } },
    { subject: `${b}.inbox.orch.replayed`, kind: 'replayed', from: o.leader, body: { ids: [o.theirs] } },
    { subject: `${b}.inbox.orch.failed.${o.other}`, kind: 'agent-failed', from: o.theirs, body: { message: 'forged: blames an innocent agent' } },
    { subject: `${b}.inbox.orch.failed.leader`, kind: 'agent-failed', from: o.leader, body: { message: 'forged' } },
    { subject: `${b}.inbox.orch.bye.${o.other}`, kind: 'bye', from: o.other, body: {} },
    { subject: `${b}.inbox.orch.bye.leader`, kind: 'bye', from: 'leader', body: {} },
    { subject: `${b}.join.${o.other}`, kind: 'join', from: o.theirs, body: { role: 'ue', index: 0 } },
    { subject: `${b}.join.${o.other}`, kind: 'ready', from: o.theirs, body: { id: o.theirs } },
    { subject: `${b}.join.leader`, kind: 'alive', from: o.leader, body: {} },
    { subject: `${b}.ctl.${o.leader}`, kind: 'slot', from: 'orchestrator', body: { slot: o.slot + 1 } },
    { subject: `${b}.ctl.${o.leader}`, kind: 'abort', from: 'orchestrator', body: { reason: 'forged' } },
    { subject: `${b}.ctl.all`, kind: 'shutdown', from: 'orchestrator', body: {} },
    { subject: `${b}.ctl.all`, kind: 'abort', from: 'orchestrator', body: { reason: 'forged' } },
    // (a forged heartbeat would keep external hosts waiting on a dead orchestrator)
    { subject: `${b}.ctl.all`, kind: 'heartbeat', from: 'orchestrator', body: { everyMs: 1 } },
    { subject: `${b}.ctl.${o.mine}`, kind: 'restore', from: 'orchestrator', body: {} },
  ];
}

const spec = (id: string, role: string, index: number) => ({ id, role, index }) as AgentSpec;

describe('forged control from a follower host’s credential (generated permissions, private nats-server)', () => {
  it('is refused by the server and never reaches the orchestrator; the host’s own subjects go through', async () => {
    const runId = `forged-${Date.now()}`;
    const b = subjects(runId).base;
    const ues = Array.from({ length: 6 }, (_, i) => spec(`ue-${i}`, 'ue', i));
    const plan = [{ id: 'leader', agents: [spec('mec-0', 'mec', 0)] }, { id: 'w1', agents: ues.slice(0, 3) }, { id: 'w2', agents: ues.slice(3) }];
    const auth = runAuth(runId, 'mec-0', plan);
    const server = await startNatsServer({ extraConfig: auth.config });
    const conns: NatsConnection[] = [];
    const as = async (c: Credential) => {
      const nc = await connect({ servers: server.url, user: c.user, pass: c.pass });
      conns.push(nc);
      return nc;
    };
    try {
      const orch = await as(auth.orchestrator);
      const heard: string[] = [];
      orch.subscribe(`${b}.>`, { callback: (_e, m) => void heard.push(m.subject) });
      await orch.flush();

      // a follower host forges every control kind; then publishes on its own subjects
      const w1 = await as(auth.hosts.w1);
      const w1Refused = new Violations(w1);
      const forged = forgeries(b, { other: 'w2', theirs: 'ue-3', mine: 'ue-0', leader: 'mec-0', slot: 0 });
      for (const c of forged) send(w1, runId, 0, c);
      const own: Control[] = [
        { subject: `${b}.join.w1`, kind: 'alive', from: 'ue-0', body: {} },
        { subject: `${b}.inbox.orch.failed.w1`, kind: 'agent-failed', from: 'ue-1', body: { message: 'its own agent' } },
        { subject: `${b}.inbox.orch.bye.w1`, kind: 'bye', from: 'w1', body: {} },
        { subject: `${b}.rep.mec-0.ue.w1`, kind: 're:price', from: 'ue-2', body: { x: 1, u: 1 } },
      ];
      for (const c of own) send(w1, runId, 0, c);
      await w1.flush();
      // one publisher, one subscriber: its messages arrive in order, so once its own are in, a forged one would be too
      await until('the follower’s own messages at the orchestrator', () => own.every((c) => heard.includes(c.subject)));
      await until('a refusal for every forged subject', () => forged.every((c) => w1Refused.refused('publish', c.subject)));
      expect(heard.filter((s) => forged.some((c) => c.subject === s))).toEqual([]);
      expect(w1Refused.seen.filter((v) => own.some((c) => c.subject === v.subject))).toEqual([]);
      expect(w1.isClosed()).toBe(false); // refused, not disconnected: the host goes on with its own work

      // the leader's host: its answers go through; another host's subjects and control are refused
      const leader = await as(auth.hosts.leader);
      const leaderRefused = new Violations(leader);
      const leaderOwn: Control[] = [
        { subject: `${b}.inbox.orch.slots`, kind: 'slot-done', from: 'mec-0', body: forgedOutcome(0) },
        { subject: `${b}.inbox.orch.replayed`, kind: 'replayed', from: 'mec-0', body: { ids: ['ue-3'] } },
        { subject: `${b}.join.leader`, kind: 'alive', from: 'mec-0', body: {} },
        { subject: `${b}.inbox.orch.bye.leader`, kind: 'bye', from: 'leader', body: {} },
      ];
      const leaderForged: Control[] = [
        { subject: `${b}.inbox.orch.failed.w1`, kind: 'agent-failed', from: 'ue-0', body: { message: 'forged' } },
        { subject: `${b}.join.w1`, kind: 'ready', from: 'ue-0', body: { id: 'ue-0' } },
        { subject: `${b}.inbox.orch.bye.w2`, kind: 'bye', from: 'w2', body: {} },
        { subject: `${b}.ctl.all`, kind: 'shutdown', from: 'orchestrator', body: {} },
        { subject: `${b}.rep.mec-0.ue.w1`, kind: 're:price', from: 'ue-0', body: { x: 1, u: 1 } },
      ];
      heard.length = 0;
      for (const c of leaderForged) send(leader, runId, 0, c);
      for (const c of leaderOwn) send(leader, runId, 0, c);
      await leader.flush();
      await until('the leader’s own messages at the orchestrator', () => leaderOwn.every((c) => heard.includes(c.subject)));
      await until('a refusal for every subject the leader does not own', () => leaderForged.every((c) => leaderRefused.refused('publish', c.subject)));
      expect(heard.filter((s) => leaderForged.some((c) => c.subject === s))).toEqual([]);

      // listening in on the orchestrator's subjects is refused too, and hears nothing
      const eavesdropped: string[] = [];
      const subErrors: string[] = [];
      for (const s of [`${b}.inbox.orch.>`, `${b}.join.*`]) w1.subscribe(s, { callback: (e, m) => void (e ? subErrors.push(s) : eavesdropped.push(m.subject)) });
      await w1.flush();
      await until('the refused subscriptions', () => w1Refused.refused('subscription', `${b}.inbox.orch.>`) && w1Refused.refused('subscription', `${b}.join.*`));
      orch.publish(`${b}.inbox.orch.slots`, new Uint8Array([1]));
      orch.publish(`${b}.join.w2`, new Uint8Array([1]));
      await orch.flush();
      await w1.flush();
      await sleep(200);
      expect(eavesdropped).toEqual([]);
      expect(subErrors.sort()).toEqual([`${b}.inbox.orch.>`, `${b}.join.*`].sort());
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await server.stop();
    }
  });

  // needs the runtime on the host-id subject scheme (see the file's comment)
  it('during a real run: every forged control kind is refused, and the run equals a clean run', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 5, users: 6, slots: 3 });
    const clean = await runDistributed('stackelberg', cfg, 'packed:3', { natsUrl: undefined });
    const runId = `forged-run-${Date.now()}`;
    const b = subjects(runId).base;
    let intruder: NatsConnection | undefined;
    let refused: Violations | undefined;
    const sent = new Set<string>();
    const dirty = await runDistributed('stackelberg', cfg, 'packed:3', {
      natsUrl: undefined,
      runId,
      onNatsReady: async ({ url, hosts }) => {
        // packed:3 over 6 users: w1 hosts ue-0..ue-2, w2 hosts ue-3..ue-5; the intruder is w1's own credential
        intruder = await connect({ servers: url, user: hosts.w1.user, pass: hosts.w1.pass });
        refused = new Violations(intruder);
      },
      onProgress: (p) => {
        if (p.phase !== 'slot' || p.line !== undefined || !intruder) return;
        // as each slot starts: a forged answer for it, and every other control kind
        for (const c of forgeries(b, { other: 'w2', theirs: 'ue-3', mine: 'ue-0', leader: 'mec-0', slot: p.slot })) {
          send(intruder, runId, p.slot, c);
          sent.add(c.subject);
        }
        void intruder.flush().catch(() => undefined);
      },
    });
    await until('the server’s refusals', () => [...sent].every((s) => refused!.refused('publish', s)));
    await intruder?.close();
    expect(sent.size).toBeGreaterThanOrEqual(10);
    expect(dirty.status).toBe('complete');
    expect(dirty.ok).toBe(true);
    expect(dirty.perSlot.map((r: any) => r.equilibrium)).toEqual(clean.perSlot.map((r: any) => r.equilibrium));
    expect(readFileSync(join(outDir, dirty.runId, 'trajectory.csv'), 'utf8')).toBe(readFileSync(join(outDir, clean.runId, 'trajectory.csv'), 'utf8'));
    expect(dirty.runMetrics.rounds).toBe(clean.runMetrics.rounds);
    expect(dirty.runMetrics.restarts).toEqual([]);
    expect(dirty.runMetrics.drops).toEqual({}); // nothing forged reached anyone
    const serverLog = readFileSync(join(outDir, dirty.runId, 'nats-server.log'), 'utf8');
    for (const s of [`${b}.inbox.orch.slots`, `${b}.inbox.orch.failed.w2`, `${b}.ctl.all`]) expect(serverLog).toContain(s);
  });
});

/**
 * Malformed control bodies, each of which a subscriber must drop (and count) rather than act on or
 * crash over: not msgpack, not an envelope, another run's, envelope fields of the wrong type, huge
 * or negative numbers, bodies of the wrong type or missing their fields. None is a well-formed
 * message of the current slot, which on a server without authentication anyone may send by design.
 */
function malformed(runId: string, subject: string, kind: string, from: string): { subject: string; data: Uint8Array; what: string }[] {
  const env = (over: Record<string, unknown>) => rawEnvelope({ v: ENVELOPE_VERSION, run: runId, slot: 0, round: 0, from, kind, body: {}, ...over });
  const badBodies: Record<string, Record<string, unknown>[]> = {
    'slot-done': [{}, { outcome: 'x', metrics: 5 }, { slot: 0, outcome: { equilibrium: 'none' }, trajectory: 'x', metrics: [] }, { slot: 'zero', outcome: {}, trajectory: [], metrics: {} }],
    // (a replayed body without ids is well-formed: the same kind is the leader's notification to a follower)
    replayed: [{ ids: 'ue-0' }, { ids: [1, 2] }, { ids: [null] }],
    'agent-failed': [{}, { message: 42 }, { message: ['x'] }],
    bye: [{ counters: 'x' }, { counters: { out: 5 } }, { cpuSinceReadyMs: 'x', maxRssBytes: -1 }],
    join: [{}, { role: 7, index: 'x' }, { role: 'ue', index: 1e300 }, { role: 'ue', index: -5 }],
    ready: [{}, { id: 5 }, { id: ['ue-0'] }],
    alive: [{ host: 5 }, { slot: 'x' }],
    slot: [{ slot: 'x' }, { slot: 1e300 }],
  };
  const out = [
    { what: 'not msgpack', data: new Uint8Array([0xc1, 0xff, 0x00, 0x13]) },
    { what: 'text', data: new TextEncoder().encode('{"kind":"slot-done"}') },
    { what: 'not an envelope', data: rawEnvelope({ v: 'x' }).subarray(0, 3) },
    { what: 'wrong run', data: encodeEnvelope(`${runId}-other`, 0, 0, from, kind, {}) },
    { what: 'slot huge', data: env({ slot: 1e300 }) },
    { what: 'slot 2^64', data: env({ slot: 2 ** 64 }) },
    { what: 'slot negative', data: env({ slot: -1 }) },
    { what: 'round fractional', data: env({ round: 1.5 }) },
    { what: 'from a number', data: env({ from: 42 }) },
    { what: 'kind a map', data: env({ kind: { k: 1 } }) },
    { what: 'body a string', data: env({ body: 'x' }) },
    { what: 'body an array', data: env({ body: [1, 2] }) },
    { what: 'body missing', data: env({ body: undefined }) },
    { what: 'non-finite', data: env({ body: { x: Infinity } }) },
    ...(badBodies[kind] ?? []).map((body, i) => ({ what: `${kind} body ${i}`, data: env({ body }) })),
  ];
  return out.map((m) => ({ ...m, subject }));
}

describe('malformed control from an unauthenticated client on an external server', () => {
  // needs the runtime on the host-id subject scheme (see the file's comment)
  it('a second bye from a host is dropped and counted as a duplicate: a host’s counters are taken once', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 6, users: 6, slots: 1 });
    const runId = `twobyes-${Date.now()}`;
    const b = subjects(runId).base;
    const nc = await connect({ servers: inject('natsUrl') }); // the tests' server asks for no credentials
    const counts = { msgs: 0, bytes: 0 };
    const bye = { host: 'w1', pid: 1, agents: 3, cpuMs: 0, cpuSinceReadyMs: 0, maxRssBytes: 0, counters: { out: { reply: counts }, in: { bcast: counts }, outByKind: {}, drops: {} } };
    const pids = new Map<string, number>();
    try {
      const s = await runDistributed('stackelberg', cfg, 'packed:3', {
        runId,
        onSpawn: (w) => pids.set(w.id, w.pid),
        // As the orchestrator asks its hosts for their byes, w2 is held still for a second, so the
        // orchestrator is still collecting when both w1's bye and this one have come, in either order.
        onProgress: (p) => {
          if (p.phase !== 'shutdown') return;
          const w2 = pids.get('w2')!;
          process.kill(w2, 'SIGSTOP');
          setTimeout(() => process.kill(w2, 'SIGCONT'), 1000);
          send(nc, runId, 0, { subject: `${b}.inbox.orch.bye.w1`, kind: 'bye', from: 'w1', body: bye });
        },
      });
      expect(s.status).toBe('complete');
      expect(s.runMetrics.drops.duplicate, JSON.stringify(s.runMetrics.drops)).toBe(1);
      const hosts = s.runMetrics.processes.hosts.map((h: { host: string }) => h.host);
      expect(hosts).toEqual(['leader', 'w1', 'w2']);
      expect(readFileSync(join(outDir, runId, 'run.log'), 'utf8')).toMatch(/a second bye from host w1/);
    } finally {
      await nc.close();
    }
  });

  it('malformed bodies from an unauthenticated client on an external server are dropped', async () => {
    const server = await startNatsServer({ jetstream: true });
    try {
      const cfg = resolveCfg('stackelberg', { seed: 6, users: 6, slots: 3 });
      const clean = await runDistributed('stackelberg', cfg, 'packed:3');
      const runId = `malformed-${Date.now()}`;
      const b = subjects(runId).base;
      const nc = await connect({ servers: server.url }); // no credentials: the server asks for none
      // every orchestrator subject of the table, and the leader's control subject
      const targets: [string, string, string][] = [
        [`${b}.join.w1`, 'join', 'ue-0'],
        [`${b}.join.w1`, 'ready', 'ue-1'],
        [`${b}.join.w2`, 'alive', 'ue-3'],
        [`${b}.join.leader`, 'ready', 'mec-0'],
        [`${b}.join.nobody`, 'join', 'ue-9'],
        [`${b}.inbox.orch.slots`, 'slot-done', 'mec-0'],
        [`${b}.inbox.orch.slots`, 'slot-failed', 'mec-0'],
        [`${b}.inbox.orch.replayed`, 'replayed', 'mec-0'],
        [`${b}.inbox.orch.failed.w1`, 'agent-failed', 'ue-0'],
        [`${b}.inbox.orch.failed.w2`, 'agent-failed', 'ue-4'],
        [`${b}.inbox.orch.bye.w1`, 'bye', 'w1'],
        [`${b}.inbox.orch.bye.leader`, 'bye', 'leader'],
        [`${b}.ctl.mec-0`, 'slot', 'orchestrator'],
      ];
      const sent: { subject: string; what: string }[] = [];
      const publishAll = (only?: (subject: string) => boolean) => {
        for (const [subject, kind, from] of targets.filter(([subject]) => !only || only(subject)))
          for (const m of malformed(runId, subject, kind, from)) {
            nc.publish(m.subject, m.data);
            sent.push({ subject: m.subject, what: m.what });
          }
        void nc.flush().catch(() => undefined);
      };
      const s = await runDistributed('stackelberg', cfg, 'packed:3', {
        natsUrl: server.url,
        runId,
        onProgress: (p) => {
          // while the agents join (on the join subjects: nothing else need be listened to yet), and as each slot starts
          if (p.phase === 'join' && p.joined === 1) publishAll((subject) => subject.startsWith(`${b}.join.`));
          if (p.phase === 'slot' && p.line === undefined && p.slot < 2) publishAll();
        },
      });
      await nc.drain();
      expect(sent.length).toBeGreaterThan(2 * 150);
      expect(s.status).toBe('complete');
      expect(s.ok).toBe(true);
      expect(s.perSlot.map((r: any) => r.equilibrium)).toEqual(clean.perSlot.map((r: any) => r.equilibrium));
      expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(readFileSync(join(outDir, clean.runId, 'trajectory.csv'), 'utf8'));
      expect(s.runMetrics.restarts).toEqual([]);
      // each message had one subscriber (the orchestrator, or the leader's host for its control) and was dropped there
      const drops: Record<string, number> = s.runMetrics.drops;
      const total = Object.values(drops).reduce((a, x) => a + x, 0);
      const bySubject: Record<string, number> = {};
      for (const m of sent) bySubject[m.subject.slice(b.length + 1)] = (bySubject[m.subject.slice(b.length + 1)] ?? 0) + 1;
      expect(total, `drops ${JSON.stringify(drops)}; sent ${JSON.stringify(bySubject)}`).toBeGreaterThanOrEqual(sent.length);
      for (const reason of ['malformed', 'wrong-run', 'wrong-type', 'non-finite', 'bad-body']) expect(drops[reason] ?? 0, `${reason}: ${JSON.stringify(drops)}`).toBeGreaterThan(0);
      expect(clean.runMetrics.drops).toEqual({});
      expect(readFileSync(join(outDir, runId, 'run.log'), 'utf8')).toMatch(/dropped message \(/); // the orchestrator's
      expect(readFileSync(join(outDir, runId, 'agents.log'), 'utf8')).toMatch(/dropped message \(/); // the leader's, for its control
    } finally {
      await server.stop();
    }
  });
});
