/** `wholesale-buyback` over a real NATS server with real agent processes: a cloud and 40 MEC servers. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessRun } from '../../scenarios/inprocess.ts';
import { wholesaleBuyback } from '../../scenarios/wholesale-buyback/index.ts';
import { toCsv } from '../../orchestrator/results.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

describe('wholesale-buyback over NATS', () => {
  it.each([
    ['low', 1],
    ['middle', 1],
    ['high', 1],
    ['low', 2],
    ['middle', 2],
    ['high', 2],
  ])('optimal-pricing, %s load, seed %i: a2 equals the reference within 1e-4 in ≤ 15 pricing rounds; interval messages = requests + grants', async (load, seed) => {
    const cfg = resolveCfg('wholesale-buyback', { seed, options: { load } });
    const s = await runDistributed('wholesale-buyback', cfg, 'packed:10');
    expect(s.status).toBe('complete');
    expect(s.compare.ok, s.compare.note).toBe(true);
    expect(Math.abs(s.equilibrium.a2 - s.reference.a2) / s.reference.a2).toBeLessThanOrEqual(1e-4);
    expect(s.perSlot[0].extra.pricingRounds).toBeLessThanOrEqual(15);
    // the interval phase: buyback request messages and grant messages, as counted by the runtime
    const byKind = s.metrics.messagesByKind;
    const iv = s.equilibrium.intervals;
    expect(byKind['re:interval'] + byKind.grant).toBe(iv.requests + iv.grants);
    expect(iv.requestMessages + iv.grantMessages).toBe(iv.requests + iv.grants);
    // the same protocol in-process, message for message
    const ip = await new InProcessRun(wholesaleBuyback, cfg).runSlot(0);
    expect(s.equilibrium).toEqual(JSON.parse(JSON.stringify(ip.outcome.equilibrium)));
    expect(readFileSync(join(outDir, s.runId, 'trajectory.csv'), 'utf8')).toBe(toCsv(ip.trajectory, ['slot', 'round']));
    expect(s.metrics.messages).toBe(ip.messages);
    // the spec's qualitative claims, computed from this run's outputs and the reference's
    for (const c of s.results.claims) expect(c.holds, `${c.claim}: ${JSON.stringify(c.numbers)}`).toBe(true);
  });
});
