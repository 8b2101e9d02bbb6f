/**
 * The runtime over a real NATS server with real agent processes, using the diagnostic `ping`
 * scenario (no economics), so failures here are the runtime's, not a scenario's.
 */
import { connect } from '@nats-io/transport-node';
import { encode as rawEncode } from '@msgpack/msgpack';
import { describe, expect, it, inject } from 'vitest';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../bus/codec.ts';
import { rawEnvelope } from '../helpers/wire.ts';
import { subjects } from '../../bus/subjects.ts';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { outDir, processesOf, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('runtime (ping scenario)', () => {
  it('process and packed placements give identical results, equal to the reference; the same seed gives the same trajectory', async () => {
    const cfg = resolveCfg('ping', { users: 12, seed: 3, slots: 2, options: { rounds: 5 } });
    const a = await runDistributed('ping', cfg, 'process');
    const b = await runDistributed('ping', cfg, 'packed:5');
    const c = await runDistributed('ping', cfg, 'packed:5');
    for (const s of [a, b, c]) {
      expect(s.status).toBe('complete');
      expect(s.ok).toBe(true);
    }
    expect(b.workers).toBe(1 + 3); // leader + ceil(12/5)
    const eq = (s: Record<string, any>) => s.perSlot.map((r: any) => r.equilibrium);
    expect(eq(b)).toEqual(eq(a));
    expect(eq(c)).toEqual(eq(b));
    const traj = (s: Record<string, any>) => readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8');
    expect(traj(a).split('\n').length).toBe(1 + 10 + 1);
    expect(traj(b)).toBe(traj(a));
    expect(traj(c)).toBe(traj(a));
    expect(a.runMetrics.rounds).toBe(10);
    expect(b.runMetrics.messages).toBe(a.runMetrics.messages);
  });

  it('our published-message count equals the server’s when it is ours alone', async () => {
    const cfg = resolveCfg('ping', { users: 8, seed: 1, options: { rounds: 7 } });
    const s = await runDistributed('ping', cfg, 'packed:4', { natsUrl: undefined }); // private server: /varz is ours
    expect(s.runMetrics.counters.server).not.toBeNull();
    // the total memory counts the server it owns (read from /varz), the orchestrator and every agent process
    const m = s.runMetrics.processes;
    expect(m.natsServerRssBytes).toBeGreaterThan(0);
    expect(m.peakRssBytesTotal).toBe(m.peakRssBytesSum + m.orchestratorPeakRssBytes + m.natsServerRssBytes);
    expect(s.runMetrics.counters.ours.published).toBe(s.runMetrics.counters.server.inMsgs);
    // a worker's replies to a broadcast went out together (bus/replyBatch.ts): fewer NATS messages than messages counted
    const counted = Object.values(s.runMetrics.counters.ours.byFamily as Record<string, { msgs: number }>).reduce((n, f) => n + f.msgs, 0);
    expect(s.runMetrics.counters.ours.published).toBeLessThan(counted);
    expect(s.runMetrics.counters.ours.bytes).toBe(s.runMetrics.counters.server.inBytes);
    // mechanism messages: 7 broadcasts + 7 × 8 replies
    expect(s.metrics.messages).toBe(7 + 7 * 8);
  });

  it('drops and counts malformed, mistyped, non-finite, wrong-run, forged and stale messages; the run still ends correctly', async () => {
    const cfg = resolveCfg('ping', { users: 6, seed: 2, options: { rounds: 400 } });
    const clean = await runDistributed('ping', cfg, 'packed:3');
    const runId = `inject-${Date.now()}`;
    const nc = await connect({ servers: inject('natsUrl') });
    const subj = subjects(runId);
    let injected = false;
    const s = await runDistributed('ping', cfg, 'packed:3', {
      runId,
      onProgress: (p) => {
        if (p.phase !== 'slot' || injected) return;
        injected = true;
        const targets = [subj.bcast('ue'), subj.reply('mec-0', 'ue', 'w1'), subj.direct('ue-2'), subj.join, subj.ctlAll, subj.ctl('mec-0')];
        const bad = [
          new Uint8Array([0xc1, 0x00, 0xff]),
          rawEncode('just a string'),
          rawEnvelope({ v: ENVELOPE_VERSION, run: runId, slot: 'zero', round: 1, from: 'mec-0', kind: 'ping', body: { x: 1 } }),
          rawEnvelope({ v: ENVELOPE_VERSION, run: runId, slot: 0, round: 1, from: 'mec-0', kind: 'ping', body: { x: NaN } }),
          encodeEnvelope('some-other-run', 0, 1, 'mec-0', 'ping', { x: 1 }),
        ];
        for (const t of targets) for (const b of bad) nc.publish(t, b);
        // a reply on w1's subject from ue-4 (on w2), and a stale one for a long-gone round
        nc.publish(subj.reply('mec-0', 'ue', 'w1'), encodeEnvelope(runId, 0, 1, 'ue-4', 're:ping', { y: 1e9 }));
        nc.publish(subj.reply('mec-0', 'ue', 'w1'), encodeEnvelope(runId, 0, 999_999, 'ue-1', 're:ping', { y: 1e9 }));
      },
    });
    await nc.drain();
    expect(s.status).toBe('complete');
    expect(s.ok).toBe(true);
    expect(s.equilibrium).toEqual(clean.equilibrium);
    const drops = s.runMetrics.drops;
    expect(drops.malformed).toBeGreaterThanOrEqual(6);
    expect(drops['wrong-type']).toBeGreaterThanOrEqual(3);
    expect(drops['non-finite']).toBeGreaterThanOrEqual(3);
    expect(drops['wrong-run']).toBeGreaterThanOrEqual(3);
    expect(drops['forged-sender']).toBe(1);
    expect(drops.stale).toBe(1);
    const log = readFileSync(join(outDir, runId, 'agents.log'), 'utf8');
    expect(log).toMatch(/dropped message \(malformed\)/);
  });

  it('with restarts off (--restarts 0), a killed user agent ends the run with an error naming it, and leaves no orphan process', async () => {
    const cfg = resolveCfg('ping', { users: 4, seed: 1, options: { rounds: 100_000 } });
    const runId = `kill-${Date.now()}`;
    let killed = false;
    const p = runDistributed('ping', cfg, 'process', {
      runId,
      maxRestarts: 0, // (restarts are tested in faults.test.ts)
      onProgress: (ev) => {
        if (ev.phase === 'slot' && !killed) {
          killed = true;
          setTimeout(() => {
            const victim = processesOf(runId).find((pid) => execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).includes('--index 2 '));
            if (victim) process.kill(victim, 'SIGKILL');
          }, 300);
        }
      },
    });
    await expect(p).rejects.toThrow(/w\d+ \[ue-2\].*exited on SIGKILL/);
    expect(processesOf(runId)).toEqual([]);
    const summary = JSON.parse(readFileSync(join(outDir, runId, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/ue-2/);
  });

  it('a join timeout names the agents that did not join', async () => {
    const cfg = resolveCfg('ping', { users: 3, seed: 1 });
    await expect(runDistributed('ping', cfg, 'process', { joinTimeoutMs: 1 })).rejects.toThrow(/did not join within 1 ms: .*mec-0/);
  });
});
