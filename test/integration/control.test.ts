/**
 * The orchestrator's control inboxes under forged and malformed traffic, on an external server with
 * no permissions (the tests' server: anyone may publish anything): joins sent from before the run
 * subscribes until it ends, a slot answer with a malformed body, slot answers, ready, agent-failed
 * and bye forged from hosts that may not speak for the agent they name. The run completes equal to
 * a clean run; every one of them is dropped and counted, none crashes the run or becomes a result.
 */
import { connect } from '@nats-io/transport-node';
import { describe, expect, it, inject } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeEnvelope } from '../../bus/codec.ts';
import { subjects } from '../../bus/subjects.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('control messages are validated for shape and sender', () => {
  it('forged and malformed control messages are dropped and counted; the run equals a clean run', async () => {
    const cfg = resolveCfg('ping', { users: 6, seed: 3, options: { rounds: 200 } });
    const clean = await runDistributed('ping', cfg, 'packed:3');
    const runId = `control-${Date.now()}`;
    const s = subjects(runId);
    const nc = await connect({ servers: inject('natsUrl') });
    // joins from a host that is not one of the run's processes, from before the orchestrator listens
    // (a join that came early once threw in its reader) until the run ends; their answers go nowhere
    const joinBody = (index: number) => ({ role: 'ue', index, pid: 1, host: 'evil', worker: 'evil', nonce: `evil:${index}` });
    let n = 0;
    const spam = setInterval(() => {
      nc.publish(s.hostJoin('evil'), encodeEnvelope(runId, 0, 0, 'ue-new', 'join', joinBody(n++ % 2 ? -1 : 0)), { reply: `${s.inbox('evil')}.x` });
      nc.publish(s.hostJoin('evil'), encodeEnvelope(runId, 0, 0, 'ue-0', 'join', joinBody(0)), { reply: `${s.inbox('w1')}.x` }); // answer asked for on another host's inbox
    }, 5);
    let attacked = false;
    const summary = await runDistributed('ping', cfg, 'packed:3', {
      runId,
      onProgress: (p) => {
        if (p.phase !== 'slot' || p.line !== undefined || attacked) return;
        attacked = true;
        const forged = { slot: p.slot, outcome: { equilibrium: { made: 'up' }, converged: true }, trajectory: [], metrics: { rounds: 1, messages: 1, deliveries: 1, bytes: 1, timeToEquilibriumMs: 1, roundLatencyMs: [1], missingReplies: 0, nilReplies: 0, messagesByKind: {}, leaderCpuMs: 1, roundKinds: ['x'], resent: 0 } };
        const send = (subject: string, from: string, kind: string, body: object) => nc.publish(subject, encodeEnvelope(runId, p.slot, 0, from, kind, body));
        send(s.orchSlots, 'mec-0', 'slot-done', { slot: p.slot, outcome: { equilibrium: 5 }, trajectory: 'x' }); // malformed: once a TypeError
        send(s.orchSlots, 'mec-0', 'slot-done', { slot: p.slot, outcome: { toString: 1 }, metrics: null });
        send(s.orchSlots, 'ue-0', 'slot-done', forged); // a follower's forged result
        send(s.orchSlots, 'ue-0', 'slot-failed', { message: 'forged' });
        send(s.orchReplayed, 'ue-1', 'replayed', { ids: ['ue-1'] });
        send(s.orchFailed('w2'), 'ue-0', 'agent-failed', { message: 'forged: w2 does not host ue-0' }); // once ended the run
        send(s.orchFailed('evil'), 'ue-0', 'agent-failed', { message: 'forged from a stranger' });
        send(s.orchFailed('w1'), 'ue-0', 'agent-failed', { message: 12 }); // right host, malformed body
        send(s.hostJoin('w2'), 'ue-0', 'ready', { id: 'ue-0' });
        send(s.join, 'ue-0', 'ready', { id: 'ue-0' }); // the bare join subject names no host
        send(s.orchBye('w1'), 'w2', 'bye', { host: 'w2' });
      },
    }).finally(() => clearInterval(spam));
    await nc.drain();
    expect(attacked).toBe(true);
    expect(n).toBeGreaterThan(10);
    expect(summary.status).toBe('complete');
    expect(summary.ok).toBe(true);
    expect(summary.equilibrium).toEqual(clean.equilibrium);
    expect(readFileSync(join(outDir, runId, 'trajectory.csv'), 'utf8')).toBe(readFileSync(join(outDir, clean.runId, 'trajectory.csv'), 'utf8'));
    const drops = summary.runMetrics.drops;
    expect(drops['bad-body'], JSON.stringify(drops)).toBeGreaterThanOrEqual(3);
    expect(drops['forged-sender'], JSON.stringify(drops)).toBeGreaterThanOrEqual(6);
    expect(readFileSync(join(outDir, runId, 'run.log'), 'utf8')).toMatch(/dropped message \(forged-sender\)/);
  });
});
