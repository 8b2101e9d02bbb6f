/**
 * The control protocol (bus/control.ts): every kind's validator takes a good body and refuses
 * malformed ones; the sender rules; ControlChannel sends, counts and drops (never throws).
 */
import { describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../bus/codec.ts';
import { CONTROL_KINDS, ControlChannel, ORCHESTRATOR, orchestratorOnly, Speakers, validate, type ControlBodies, type ControlKind } from '../../bus/control.ts';
import { Counters } from '../../bus/counters.ts';
import { hostOfSubject, subjects } from '../../bus/subjects.ts';

const metrics = { rounds: 2, messages: 10, deliveries: 12, bytes: 300, timeToEquilibriumMs: 1.5, roundLatencyMs: [0.5, 1], missingReplies: 0, nilReplies: 0, messagesByKind: { price: 2, 're:price': 8 }, leaderCpuMs: 3, roundKinds: ['price', 'price'], resent: 0 };
const counts = { msgs: 1, bytes: 10 };

/** a well-formed body of every kind */
const GOOD: { [K in ControlKind]: ControlBodies[K] } = {
  join: { role: 'ue', index: -1, pid: 42, host: 'box', worker: 'w1', nonce: 'box:42:w1:0' },
  joins: { pid: 42, host: 'box', worker: 'w1', nonce: 'box:42:w1:b0', agents: [{ role: 'ue', index: 0 }, { role: 'ue', index: 1 }] },
  welcome: { id: 'ue-0', role: 'ue', index: 0, scenario: 'ping', init: { a: 1 }, leader: 'mec-0', roster: [{ id: 'ue-0', role: 'ue', index: 0 }], roundTimeoutMs: 1000, maxBytes: 1 << 20, resume: { slot: 1, snapshot: {} }, rejoin: true, heartbeatMs: 2000 },
  welcomes: { welcomes: [{ id: 'ue-0', role: 'ue', index: 0, scenario: 'ping', init: { a: 1 }, leader: 'mec-0', roundTimeoutMs: 1000, maxBytes: 1 << 20 }] },
  reject: { reason: 'no such agent' },
  retry: { reason: 'wait' },
  ready: { id: 'ue-0' },
  readies: { ids: ['ue-0', 'ue-1'] },
  alive: { host: 'box', pid: 42, worker: 'w1' },
  slot: { slot: 3 },
  'slot-done': { slot: 0, outcome: { equilibrium: { p: 1 }, converged: true, notes: ['n'], extra: {} }, trajectory: [{ slot: 0, round: 1, p: 1.5, ok: true, tag: 'x', none: null }], metrics, snapshot: { s: 1 } },
  'slot-failed': { message: 'boom' },
  resend: { ids: ['ue-1', 'ue-2'], slot: 2 },
  replayed: { ids: ['ue-1'] },
  restore: { snapshot: { s: 1 } },
  rerun: {},
  state: { snapshot: { s: 1 } },
  shutdown: {},
  bye: { host: 'w1', pid: 42, agents: 3, cpuMs: 12.5, cpuSinceReadyMs: 10, cpuSinceSlot1Ms: 4, maxRssBytes: 1e8, counters: { out: { join: counts }, in: { ctl: counts }, outByKind: { bye: counts }, drops: { stale: 1 } } },
  abort: { reason: 'the run failed' },
  heartbeat: { everyMs: 2000 },
  'agent-failed': { message: 'state lost' },
};

/** malformed bodies of every kind: wrong types, missing fields, non-finite numbers, bad array elements, long strings */
const BAD: { [K in ControlKind]: unknown[] } = {
  join: [{}, { ...GOOD.join, index: -2 }, { ...GOOD.join, index: 1.5 }, { ...GOOD.join, role: 7 }, { ...GOOD.join, worker: 'x'.repeat(65) }, { ...GOOD.join, pid: '42' }],
  joins: [{ ...GOOD.joins, agents: [] }, { ...GOOD.joins, agents: [{ role: 'ue', index: -1 }] }, { ...GOOD.joins, nonce: undefined }, { ...GOOD.joins, agents: Array.from({ length: 513 }, (_, index) => ({ role: 'ue', index })) }, { ...GOOD.joins, agents: { role: 'ue', index: 0 } }],
  welcomes: [{ welcomes: [] }, { welcomes: [{ ...GOOD.welcome, init: [] }] }, { welcomes: GOOD.welcome }, {}],
  welcome: [{ ...GOOD.welcome, role: 'King!' }, { ...GOOD.welcome, init: [] }, { ...GOOD.welcome, roster: [{ id: 'ue-0', role: 'ue' }] }, { ...GOOD.welcome, roundTimeoutMs: 0 }, { ...GOOD.welcome, resume: { slot: 1 } }, { ...GOOD.welcome, rejoin: 'yes' }],
  reject: [{}, { reason: 1 }, { reason: 'x'.repeat(5000) }],
  retry: [{}, { reason: null }],
  ready: [{}, { id: '' }, { id: 3 }],
  readies: [{ ids: [] }, { ids: ['ue-0', ''] }, { ids: 'ue-0' }, { id: 'ue-0' }],
  alive: [{ host: 'box', pid: -1, worker: 'w1' }, { host: 'box', pid: 1 }],
  slot: [{}, { slot: -1 }, { slot: 'zero' }, { slot: NaN }, { slot: Infinity }],
  'slot-done': [
    { ...GOOD['slot-done'], outcome: undefined },
    { ...GOOD['slot-done'], outcome: { equilibrium: 1, converged: true } },
    { ...GOOD['slot-done'], trajectory: {} },
    { ...GOOD['slot-done'], trajectory: [{ p: [1] }] },
    { ...GOOD['slot-done'], metrics: { ...metrics, roundLatencyMs: [1, 'x'] } },
    { ...GOOD['slot-done'], metrics: { ...metrics, rounds: NaN } },
    { ...GOOD['slot-done'], metrics: { ...metrics, messagesByKind: { price: 'many' } } },
    { ...GOOD['slot-done'], snapshot: [1] },
  ],
  'slot-failed': [{}, { message: { toString: 1 } }],
  resend: [{ ids: 'ue-1', slot: 0 }, { ids: ['ue-1', 2], slot: 0 }, { ids: [] }],
  replayed: [{ ids: [1] }, { ids: 'ue-1' }],
  restore: [{ snapshot: 1 }, { snapshot: [] }],
  rerun: [null, [], 'x'],
  state: [{}, { snapshot: 'x' }],
  shutdown: [null, 1],
  bye: [{ ...GOOD.bye, counters: undefined }, { ...GOOD.bye, cpuMs: -1 }, { ...GOOD.bye, cpuSinceSlot1Ms: -1 }, { ...GOOD.bye, cpuSinceSlot1Ms: 'x' }, { ...GOOD.bye, counters: { ...GOOD.bye.counters, drops: { stale: 'x' } } }, { ...GOOD.bye, counters: { ...GOOD.bye.counters, out: { join: { msgs: 1 } } } }],
  abort: [{ reason: 5 }],
  heartbeat: [{}, { everyMs: 0 }, { everyMs: 1.5 }, { everyMs: '2000' }, null],
  'agent-failed': [{}, { message: ['x'] }],
};

describe('control protocol: validators', () => {
  it('declares every kind the runtime exchanges', () => {
    expect(CONTROL_KINDS.sort()).toEqual(['abort', 'agent-failed', 'alive', 'bye', 'heartbeat', 'join', 'joins', 'readies', 'ready', 'reject', 'replayed', 'rerun', 'resend', 'restore', 'retry', 'shutdown', 'slot', 'slot-done', 'slot-failed', 'state', 'welcome', 'welcomes']);
  });

  for (const kind of Object.keys(GOOD) as ControlKind[]) {
    it(`${kind}: accepts a good body, refuses malformed ones with a reason`, () => {
      const ok = validate(kind, GOOD[kind]);
      expect(ok).toEqual({ ok: true, body: GOOD[kind] });
      expect(BAD[kind].length).toBeGreaterThan(0);
      for (const body of BAD[kind]) {
        const v = validate(kind, body);
        expect(v.ok, `${kind} ${JSON.stringify(body)}`).toBe(false);
        if (!v.ok) expect(v.reason).toMatch(new RegExp(`^${kind}: `));
      }
    });
  }

  it('optional fields may be absent; unknown fields are ignored', () => {
    expect(validate('welcome', { ...GOOD.welcome, roster: undefined, resume: undefined, rejoin: undefined, heartbeatMs: undefined, extra: 1 }).ok).toBe(true);
    expect(validate('replayed', {}).ok).toBe(true);
    expect(validate('restore', {}).ok).toBe(true);
  });
});

describe('control protocol: who may send what', () => {
  const speakers = () => {
    const s = new Speakers('mec-0');
    s.grant('leader', ['mec-0']);
    s.grant('w1', ['ue-0', 'ue-1']);
    return s;
  };

  it('slot answers and replay confirmations only from the leader', () => {
    const s = speakers();
    for (const k of ['slot-done', 'slot-failed', 'replayed'] as const) {
      expect(s.check(k, undefined, 'mec-0')).toBeUndefined();
      expect(s.check(k, undefined, 'ue-0')).toMatch(/only the leader/);
      expect(s.check(k, undefined, ORCHESTRATOR)).toMatch(/only the leader/);
    }
  });

  it('ready and agent-failed only from the host that holds the agent', () => {
    const s = speakers();
    for (const k of ['ready', 'agent-failed'] as const) {
      expect(s.check(k, 'w1', 'ue-0')).toBeUndefined();
      expect(s.check(k, 'leader', 'ue-0')).toMatch(/not its host \(w1 is\)/);
      expect(s.check(k, 'w2', 'ue-0')).toMatch(/not its host/);
      expect(s.check(k, 'w1', 'ue-9')).toMatch(/holds no such agent/);
      expect(s.check(k, undefined, 'ue-0')).toMatch(/names no host/);
    }
    s.revoke(['ue-0']); // an external host taken for dead loses its say
    expect(s.check('agent-failed', 'w1', 'ue-0')).toMatch(/holds no such agent/);
    expect(s.check('agent-failed', 'w1', 'ue-1')).toBeUndefined();
  });

  it('joins and readies only from the host their subject names', () => {
    const s = speakers();
    for (const k of ['joins', 'readies'] as const) {
      expect(s.check(k, 'w1', 'w1')).toBeUndefined();
      expect(s.check(k, 'w1', 'ue-0')).toMatch(/only that host sends it/);
      expect(s.check(k, 'w1', 'w2')).toMatch(/only that host sends it/);
      expect(s.check(k, undefined, 'w1')).toMatch(/only that host sends it/);
    }
  });

  it('alive from a known host, bye only from the host its subject names, join only on a host subject', () => {
    const s = speakers();
    expect(s.check('alive', 'w1', 'ue-0')).toBeUndefined();
    expect(s.check('alive', 'w9', 'ue-0')).toMatch(/hosts no agent/);
    expect(s.check('bye', 'w1', 'w1')).toBeUndefined();
    expect(s.check('bye', 'w1', 'leader')).toMatch(/bye from leader/);
    expect(s.check('bye', 'w9', 'w9')).toMatch(/bye/);
    expect(s.check('join', 'w9', 'ue-new')).toBeUndefined();
    expect(s.check('join', undefined, 'ue-new')).toMatch(/names no host/);
  });

  it('the orchestrator’s kinds only from the orchestrator', () => {
    const s = speakers();
    for (const k of ['welcome', 'reject', 'retry', 'slot', 'resend', 'shutdown', 'abort', 'heartbeat'] as const) {
      expect(s.check(k, undefined, ORCHESTRATOR)).toBeUndefined();
      expect(s.check(k, undefined, 'mec-0')).toMatch(/only the orchestrator/);
      // the rule an agent host applies to what it hears on ctl.all
      expect(orchestratorOnly(k, ORCHESTRATOR)).toBeUndefined();
      expect(orchestratorOnly(k, 'ue-0')).toMatch(/only the orchestrator/);
    }
  });
});

describe('ControlChannel', () => {
  const run = 'ctl-run';
  const subj = subjects(run);
  const fake = () => {
    const published: { subject: string; data: Uint8Array; reply?: string }[] = [];
    const nc = { publish: (subject: string, data: Uint8Array, o?: { reply?: string }) => void published.push({ subject, data, reply: o?.reply }) };
    return { nc: nc as never, published };
  };

  it('send encodes, publishes and counts by family and kind', () => {
    const { nc, published } = fake();
    const counters = new Counters();
    const ch = new ControlChannel(nc, run, counters, ORCHESTRATOR);
    const data = ch.send(subj.ctl('mec-0'), 'slot', { slot: 4 }, { slot: 4 });
    expect(published).toHaveLength(1);
    expect(published[0].subject).toBe(subj.ctl('mec-0'));
    expect(counters.out.ctl).toEqual({ msgs: 1, bytes: data.byteLength });
    expect(counters.outByKind.slot).toEqual({ msgs: 1, bytes: data.byteLength });
    const back = ch.read(data, subj.ctl('mec-0'), ['slot'], 1 << 10);
    expect(back).toMatchObject({ kind: 'slot', slot: 4, from: ORCHESTRATOR, body: { slot: 4 }, noreply: false });
    ch.send(subj.orchBye('w1'), 'bye', GOOD.bye, { from: 'w1' });
    expect(counters.out.inbox.msgs).toBe(1);
  });

  it('read drops (counted, never thrown) undecodable bytes, unexpected kinds, malformed bodies and forged senders', () => {
    const { nc } = fake();
    const counters = new Counters();
    const ch = new ControlChannel(nc, run, counters, ORCHESTRATOR);
    const s = subj.orchSlots;
    const onlyLeader = (_k: string, from: string) => (from === 'mec-0' ? undefined : 'not the leader');
    expect(ch.read(new Uint8Array([0xc1, 0, 1]), s, ['slot-done'], 1 << 20, onlyLeader)).toBeUndefined();
    expect(ch.read(encodeEnvelope(run, 0, 0, 'mec-0', 'price', {}), s, ['slot-done'], 1 << 20, onlyLeader)).toBeUndefined();
    expect(ch.read(encodeEnvelope(run, 0, 0, 'mec-0', 'slot-done', { slot: 0, outcome: 5 }), s, ['slot-done'], 1 << 20, onlyLeader)).toBeUndefined();
    expect(ch.read(encodeEnvelope(run, 0, 0, 'ue-1', 'slot-done', GOOD['slot-done']), s, ['slot-done'], 1 << 20, onlyLeader)).toBeUndefined();
    expect(ch.read(encodeEnvelope(run, 0, 0, 'mec-0', 'slot-done', { toString: 1, valueOf: {} }), s, ['slot-done'], 1 << 20, onlyLeader)).toBeUndefined();
    expect(counters.drops).toEqual({ malformed: 1, 'unknown-kind': 1, 'bad-body': 2, 'forged-sender': 1 });
    const ok = ch.read(encodeEnvelope(run, 0, 0, 'mec-0', 'slot-done', GOOD['slot-done']), s, ['slot-done', 'slot-failed'], 1 << 20, onlyLeader);
    expect(ok?.kind).toBe('slot-done');
    expect(ok?.body).toEqual(GOOD['slot-done']);
  });
});

describe('subjects of the control protocol', () => {
  it('every agent→orchestrator subject but the leader’s answers names the host', () => {
    const s = subjects('r1');
    expect(s.hostJoin('w1')).toBe(`${s.base}.join.w1`);
    expect(s.joinAll).toBe(`${s.base}.join.*`);
    expect(s.orchSlots).toBe(`${s.base}.inbox.orch.slots`);
    expect(s.orchReplayed).toBe(`${s.base}.inbox.orch.replayed`);
    expect(s.orchFailed('w2')).toBe(`${s.base}.inbox.orch.failed.w2`);
    expect(s.orchBye('leader')).toBe(`${s.base}.inbox.orch.bye.leader`);
    expect(hostOfSubject(s.hostJoin('w1'), `${s.join}.`)).toBe('w1');
    expect(hostOfSubject(s.join, `${s.join}.`)).toBeUndefined();
    expect(hostOfSubject(`${s.join}.a.b`, `${s.join}.`)).toBeUndefined();
    expect(hostOfSubject(s.orchBye('w3'), s.orchByeAll.slice(0, -1))).toBe('w3');
  });
});
