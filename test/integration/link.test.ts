/**
 * The link model over a real NATS server with real agent processes: a modelled round trip shows in
 * every round's latency and leaves the equilibrium, the rounds and the mechanism's messages as they
 * are; a lossy link is recovered by retransmissions counted apart; placements agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { scaledMs } from '../../bus/timeouts.ts';
import { parsePlacement, runScenario } from '../../orchestrator/run.ts';
import { stackelberg } from '../../scenarios/stackelberg/index.ts';
import type { JsonObject, Scenario } from '../../scenarios/types.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const trajectoryCsv = (runId: string) => readFileSync(join(outDir, runId, 'trajectory.csv'), 'utf8');
const roundLatencies = (runId: string): number[] => JSON.parse(readFileSync(join(outDir, runId, 'metrics.json'), 'utf8')).perSlot.flatMap((s: any) => s.roundLatencyMs);

describe('link model over NATS', () => {
  const base = resolveCfg('stackelberg', { seed: 3, users: 6 });
  const withLink = (link: JsonObject): JsonObject => ({ ...base, link });

  it('a 20 ms round trip: every round takes at least 20 ms, and the outcome, rounds and messages are those without the model', async () => {
    const plain = await runDistributed('stackelberg', base, 'process');
    const s = await runDistributed('stackelberg', withLink({ rtt: '20ms' }), 'process');
    expect(s.status).toBe('complete');
    expect(s.equilibrium).toEqual(plain.equilibrium);
    expect(trajectoryCsv(s.runId)).toBe(trajectoryCsv(plain.runId));
    expect(s.metrics.rounds).toBe(plain.metrics.rounds);
    expect(s.metrics.messages).toBe(plain.metrics.messages);
    expect(s.metrics.messagesByKind).toEqual(plain.metrics.messagesByKind);
    const lat = roundLatencies(s.runId);
    expect(lat.length).toBe(s.metrics.rounds);
    expect(Math.min(...lat)).toBeGreaterThanOrEqual(20);
    expect(s.metrics.timeToEquilibriumMs).toBeGreaterThanOrEqual(20 * s.metrics.rounds);
    // without the model, loopback rounds are well under the modelled trip (the test would say nothing otherwise)
    expect(plain.runMetrics.roundLatencyMs.p50).toBeLessThan(20);
    expect(plain.link).toBeNull();
    expect(s.link.default).toEqual({ delay: '10ms', meanDelayMs: 10, jitterMs: 0, loss: 0 });
    expect(s.link.modelledRtt['mec>ue>mec'].meanMs).toBe(20);
    // a model that loses nothing runs no retransmission timer
    expect(s.runMetrics.linkRetransmissions).toBe(0);
    expect(s.faults.linkLost).toBe(0);
    expect(s.faults.missingReplies).toBe(0);
  });

  it('5 % loss: the same outcome, rounds and messages, recovered by link retransmissions; process and packed placements agree', async () => {
    const plain = await runDistributed('stackelberg', base, 'packed:6');
    const cfg = withLink({ rtt: '20ms', jitter: '4ms', loss: 0.05 });
    const a = await runDistributed('stackelberg', cfg, 'process');
    const b = await runDistributed('stackelberg', cfg, 'packed:3');
    for (const s of [a, b]) {
      expect(s.status).toBe('complete');
      expect(s.compare.ok).toBe(true);
      expect(s.equilibrium).toEqual(plain.equilibrium);
      expect(trajectoryCsv(s.runId)).toBe(trajectoryCsv(plain.runId));
      expect(s.metrics.rounds).toBe(plain.metrics.rounds);
      expect(s.metrics.messages).toBe(plain.metrics.messages);
      expect(s.faults.missingReplies).toBe(0);
      // some of the ~2 × 6 × rounds messages were lost, and each lost one was sent again
      expect(s.faults.linkLost).toBeGreaterThan(0);
      expect(s.runMetrics.linkRetransmissions).toBeGreaterThan(0);
      expect(s.runMetrics.linkRetransmissions + s.runMetrics.resent).toBeGreaterThanOrEqual(s.faults.linkLost);
      // the model's losses are not the run's drops
      expect(s.faults.drops).toBe(0);
      expect(s.runMetrics.counters.ours.byKind['link-resent'].msgs).toBe(s.runMetrics.linkRetransmissions);
    }
    expect(b.metrics.rounds).toBe(a.metrics.rounds);
    expect(b.equilibrium).toEqual(a.equilibrium);
  });

  it("a scenario's per-agent factor: the farthest follower sets every round's pace, the outcome is unchanged", async () => {
    // ue-5 is three times as far as the others: its round trip is 60 ms, and every round waits for it
    const far: Scenario = { ...stackelberg, linkFactor: (_cfg, a) => (a.id === 'ue-5' ? 3 : 1) };
    const s = (await runScenario({ scenario: far, cfg: withLink({ rtt: '20ms' }), placement: parsePlacement('packed:3'), outDir, natsUrl: inject('natsUrl'), roundTimeoutMs: scaledMs(20_000), report: false })) as Record<string, any>;
    const plain = await runDistributed('stackelberg', base, 'packed:3');
    expect(s.equilibrium).toEqual(plain.equilibrium);
    expect(s.metrics.rounds).toBe(plain.metrics.rounds);
    expect(Math.min(...roundLatencies(s.runId))).toBeGreaterThanOrEqual(60);
  });
});
