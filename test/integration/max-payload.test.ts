/**
 * A stock nats-server (max_payload 1 MiB, as in docker-compose.yml) runs any run: a slot answer
 * larger than the limit (read from the server's INFO) goes in chunk frames and is put back together
 * by the orchestrator (also from a leader restarted mid-slot); one that fits goes as one message;
 * forged or broken frames are dropped and counted; a welcome too large for the server (it is a
 * request's reply, never cut) refuses the run before any agent starts, saying what to do.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotAnswer } from '../../agents/leader.ts';
import { Chunker, FRAME_HEADER_BYTES, Reassembler, isChunkFrame } from '../../bus/chunks.ts';
import { decode, encodeEnvelope } from '../../bus/codec.ts';
import { ControlChannel, type SlotDone } from '../../bus/control.ts';
import { Counters } from '../../bus/counters.ts';
import { subjects } from '../../bus/subjects.ts';
import { startNatsServer, type NatsHandle } from '../../orchestrator/natsServer.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { getScenario } from '../../scenarios/index.ts';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';
import type { RunOptions } from '../../orchestrator/run.ts';
import { outDir, processesOf, resolveCfg, runDistributed } from '../helpers/run.ts';

const STOCK_MAX_PAYLOAD = 1024 * 1024;

describe('a slot answer sent as the leader sends it (SlotAnswer over a ControlChannel)', () => {
  const run = 'maxpay01';
  const subject = subjects(run).orchSlots;
  const metrics = { rounds: 1, messages: 2, deliveries: 2, bytes: 20, timeToEquilibriumMs: 1, roundLatencyMs: [1], missingReplies: 0, nilReplies: 0, messagesByKind: {}, leaderCpuMs: 1, roundKinds: ['price'], resent: 0 };
  const answer = (rows: number): SlotDone => ({ slot: 0, outcome: { equilibrium: { p: 1 }, converged: true }, trajectory: Array.from({ length: rows }, (_, round) => ({ slot: 0, round, price: 1 + round / 1000 })), metrics });
  const wire = () => {
    const sent: { subject: string; data: Uint8Array }[] = [];
    const nc = { publish: (s: string, data: Uint8Array) => void sent.push({ subject: s, data }) } as unknown as NatsConnection;
    const counters = new Counters();
    return { sent, counters, channel: new ControlChannel(nc, run, counters, 'mec-0') };
  };

  it('an answer under the limit is one message, the envelope itself (no frames), and a re-ask sends it again', () => {
    const { sent, counters, channel } = wire();
    const data = channel.encode('slot-done', answer(100), { slot: 0, from: 'mec-0' });
    expect(data.byteLength).toBeLessThan(STOCK_MAX_PAYLOAD);
    const a = SlotAnswer.of(new Chunker(), 0, 'slot-done', data, STOCK_MAX_PAYLOAD);
    a.send(channel, subject);
    expect(sent).toHaveLength(1);
    expect(sent[0].subject).toBe(subject);
    expect(sent[0].data).toBe(data);
    expect(isChunkFrame(sent[0].data)).toBe(false);
    expect(decode(sent[0].data, run).ok).toBe(true);
    expect(counters.outByKind['slot-done']).toEqual({ msgs: 1, bytes: data.byteLength });
    a.send(channel, subject);
    expect(sent[1].data).toBe(data);
  });

  it('a larger answer is frames of at most the limit, each counted; a re-ask sends the same frames (same message id)', () => {
    const { sent, counters, channel } = wire();
    const data = channel.encode('slot-done', answer(60_000), { slot: 0, from: 'mec-0' });
    expect(data.byteLength).toBeGreaterThan(STOCK_MAX_PAYLOAD);
    const a = SlotAnswer.of(new Chunker(), 0, 'slot-done', data, STOCK_MAX_PAYLOAD);
    a.send(channel, subject);
    const n = Math.ceil(data.byteLength / (STOCK_MAX_PAYLOAD - 22));
    expect(sent).toHaveLength(n);
    expect(sent.every((s) => isChunkFrame(s.data) && s.data.byteLength <= STOCK_MAX_PAYLOAD)).toBe(true);
    expect(counters.outByKind['slot-done'].msgs).toBe(n);
    a.send(channel, subject);
    // Buffer.equals: a deep toEqual over megabytes takes seconds
    expect(sent.slice(n).every((s, i) => Buffer.from(s.data).equals(sent[i].data))).toBe(true);
    // the first copy's first piece and the second copy's rest make the message
    const drops: string[] = [];
    const r = new Reassembler((reason) => void drops.push(reason));
    let whole: Uint8Array | undefined;
    for (const s of [sent[0], ...sent.slice(n + 1)]) whole = r.add('mec-0', s.data) ?? whole;
    expect(whole && Buffer.from(whole).equals(data)).toBe(true);
    expect(drops).toEqual([]);
  });
});

describe('runs over a nats-server with the stock max_payload (1 MiB)', () => {
  let server: NatsHandle;

  beforeAll(async () => {
    server = await startNatsServer({ maxPayloadBytes: STOCK_MAX_PAYLOAD, jetstream: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('stackelberg gsrp-step with step 0.01 and 50 users: a 1.2 MB slot answer arrives in frames, every round in the trajectory, equal to the reference', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 1, users: 50, mechanism: 'gsrp-step', options: { step: 0.01 } });
    const s = await runDistributed('stackelberg', cfg, 'packed:10', { natsUrl: server.url });
    expect(s.status).toBe('complete');
    expect(s.ok).toBe(true);
    expect(s.compare.ok).toBe(true);
    const ip = await new InProcessRun(stackelberg, cfg).runSlot(0);
    expect(ip.rounds).toBeGreaterThan(1000);
    expect(s.metrics.rounds).toBe(ip.rounds);
    expect(s.equilibrium).toEqual(ip.outcome.equilibrium);
    const csv = readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8');
    expect(csv).toBe(toCsv(ip.trajectory, ['slot', 'round']));
    expect(csv.trim().split('\n')).toHaveLength(ip.rounds + 1);
    // the answer went in frames (the leader counts each; the hosts' counters come with their bye)
    const answers = s.runMetrics.counters.ours.byKind['slot-done'];
    expect(answers.bytes).toBeGreaterThan(STOCK_MAX_PAYLOAD);
    expect(answers.msgs).toBeGreaterThanOrEqual(2);
    // nothing given up in the reassembly (a copy re-sent while the first was in flight would be a counted duplicate)
    expect(Object.keys(s.runMetrics.drops).filter((r) => r.startsWith('chunk-') && r !== 'chunk-duplicate')).toEqual([]);
  });

  it('the leader killed mid-slot: its replacement answers the slot again in frames, the run equals the reference', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 2, users: 50, slots: 3, mechanism: 'gsrp-step', options: { step: 0.01 } });
    let leaderPid = 0;
    let fired = false;
    const kill: Partial<RunOptions> = {
      onSpawn: (w) => void (w.id === 'leader' && (leaderPid = w.pid)),
      // 300 ms after slot 1 is asked for: a slot of ~1300 rounds takes seconds
      onProgress: (p) => {
        if (p.phase !== 'slot' || p.slot !== 1 || p.line !== undefined || fired) return;
        fired = true;
        setTimeout(() => process.kill(leaderPid, 'SIGKILL'), 300);
      },
    };
    const s = await runDistributed('stackelberg', cfg, 'packed:10', { ...kill, natsUrl: server.url });
    expect(s.status).toBe('complete');
    const restarts = s.runMetrics.restarts.map((r: any) => [r.worker, r.slot]);
    expect(restarts).toHaveLength(1);
    expect(restarts[0][0]).toBe('leader');
    expect(restarts[0][1]).toBeGreaterThanOrEqual(1);
    expect(restarts[0][1]).toBeLessThanOrEqual(2);
    const ip = new InProcessRun(stackelberg, cfg);
    for (let slot = 0; slot < 3; slot++) {
      const want = await ip.runSlot(slot);
      expect(s.perSlot[slot].metrics.rounds).toBe(want.rounds);
      expect(s.perSlot[slot].equilibrium).toEqual(want.outcome.equilibrium);
    }
    expect(s.ok).toBe(true);
    // every answer (~1200 rounds, ~1.1 MB) went in two frames; the killed leader's own counts died with it
    expect(s.runMetrics.counters.ours.byKind['slot-done'].msgs).toBeGreaterThanOrEqual(2 * (3 - restarts[0][1]));
    expect(processesOf(s.runId)).toEqual([]);
  });

  it('forged and malformed frames on the slot inbox (an unguarded server) are dropped and counted; the run is unchanged', async () => {
    const cfg = resolveCfg('ping', { users: 6, seed: 3, options: { rounds: 200 } });
    const runId = `maxpay-forged-${Date.now()}`;
    const subj = subjects(runId);
    const nc = await connect({ servers: server.url });
    const forged = { slot: 0, outcome: { equilibrium: { made: 'up' }, converged: true }, trajectory: [], metrics: { rounds: 1, messages: 1, deliveries: 1, bytes: 1, timeToEquilibriumMs: 1, roundLatencyMs: [1], missingReplies: 0, nilReplies: 0, messagesByKind: {}, leaderCpuMs: 1, roundKinds: ['x'], resent: 0 } };
    let attacked = false;
    const s = await runDistributed('ping', cfg, 'packed:3', {
      runId,
      natsUrl: server.url,
      onProgress: (p) => {
        if (p.phase !== 'slot' || p.line !== undefined || attacked) return;
        attacked = true;
        nc.publish(subj.orchSlots, Uint8Array.from([0xc1, 1, 0, 0])); // shorter than a header
        // the first piece of a 300 MiB message: more than a slot answer may be
        const huge = new Uint8Array(FRAME_HEADER_BYTES + 1024);
        const v = new DataView(huge.buffer);
        huge[0] = 0xc1;
        huge[1] = 1;
        v.setUint32(2, 11);
        v.setUint32(6, 0);
        v.setUint32(10, 300 * 1024);
        v.setUint32(14, 300 * 1024 * 1024);
        nc.publish(subj.orchSlots, huge);
        // a whole message whose checksum is wrong
        for (const f of new Chunker(12).split(encodeEnvelope(runId, p.slot!, 0, 'mec-0', 'slot-done', { ...forged, slot: p.slot }), 200)) {
          new DataView(f.buffer).setUint32(18, 1234);
          nc.publish(subj.orchSlots, f);
        }
        // a follower's forged answer, in frames: put together, then refused like an unchunked one
        for (const f of new Chunker(13).split(encodeEnvelope(runId, p.slot!, 0, 'ue-0', 'slot-done', { ...forged, slot: p.slot }), 200)) nc.publish(subj.orchSlots, f);
      },
    });
    await nc.drain();
    expect(attacked).toBe(true);
    expect(s.status).toBe('complete');
    expect(s.ok).toBe(true);
    const want = await new InProcessRun(getScenario('ping')!, cfg).runSlot(0);
    expect(s.equilibrium).toEqual(want.outcome.equilibrium);
    const drops = s.runMetrics.drops;
    for (const reason of ['chunk-malformed', 'chunk-too-large', 'chunk-checksum', 'forged-sender']) expect(drops[reason], JSON.stringify(drops)).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(outDir, runId, 'run.log'), 'utf8')).toMatch(/dropped message \(chunk-too-large\)/);
  });

  it('a run whose leader welcome (the roster) exceeds max_payload is refused before any agent starts, naming the limit and what to do', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 1, users: 50_000 });
    const err = (await runDistributed('stackelberg', cfg, 'packed:1000', { natsUrl: server.url }).then(
      () => undefined,
      (e) => e,
    )) as (Error & { exitCode?: number; runDir?: string }) | undefined;
    expect(err).toBeDefined();
    expect(err!.exitCode).toBe(2);
    expect(err!.message).toMatch(/leader mec-0's welcome, which carries the roster of its 50000 followers, is \d+ bytes, more than the NATS server's max_payload \(1048576 bytes\)/);
    expect(err!.message).toMatch(/Run fewer agents, or run on a nats-server configured with `max_payload: \d+MB`/);
    const summary = JSON.parse(readFileSync(join(err!.runDir!, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.workers).toBeUndefined(); // nothing was spawned
    expect(processesOf(summary.runId)).toEqual([]);
  });
});
