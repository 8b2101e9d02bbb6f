/**
 * External agents outlive no orchestrator: agents started with `mecsim agent --join` have no parent
 * process to lose, so the orchestrator of an external run says `heartbeat` on ctl.all, and a host that
 * has heard nothing from it for a bounded time exits on its own (code 5, saying why on stderr). Here
 * the orchestrator is SIGKILLed mid-slot (no shutdown, no abort can be sent) over a NATS server that
 * lives on, and every agent process — the leader, the followers and a spare that never got an agent
 * (it waits far longer than the test for a slot) — exits within the bound.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { killStarted, mecsim, running } from '../helpers/mecsimProcess.ts';
import { logWaiter, outDir, processesOf } from '../helpers/run.ts';
import { scaledMs } from '../../bus/timeouts.ts';

afterEach(killStarted);

describe('external agents when the orchestrator is gone', () => {
  it('the orchestrator SIGKILLed mid-slot: the leader, the followers and a waiting spare exit on its silence (code 5), within the bound', async () => {
    const url = inject('natsUrl');
    const runId = `orchgone-${process.pid}-${Date.now().toString(36)}`;
    // the orchestrator beats (and asks hosts to say alive) every 600 ms, longer on a loaded machine
    const beatMs = scaledMs(600);
    // agents give up after 3 s of silence instead of max(10 beats, 30 s); stretched by the load as the default is
    const silenceMs = 3000;
    const orch = mecsim(['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '4', '--users', '3', '--slots', '2000', '--mechanism', 'gsrp-step', '--nats', url, '--out', outDir, '--round-timeout', String(scaledMs(20_000))], { MECSIM_HEARTBEAT_MS: String(beatMs) });
    const runLog = join(outDir, runId, 'run.log');
    const until = logWaiter(runLog, { ended: () => !running(orch), stderr: orch.stderr });
    await until(/waiting for external agents/, 'the orchestrator waiting for agents');
    // a spare waits for a slot far longer than this test: only the orchestrator's silence ends it
    const agent = (role: string, count: number) => mecsim(['agent', '--run', runId, '--role', role, '--join', '--count', String(count), '--nats', url, '--join-timeout', String(30 * 60_000)], { MECSIM_ORCH_SILENCE_MS: String(silenceMs) });
    const agents = [agent('mec', 1), agent('ue', 2), agent('ue', 1)];
    await until(/all agents joined/, 'join');
    const spare = agent('ue', 1);
    agents.push(spare);
    await until(/"slot":2,/, 'slot 2');
    // the spare has asked, been told to wait (and heard the orchestrator's heartbeat)
    for (const t0 = Date.now(); !/waiting as a spare/.test(spare.stderr()); ) {
      if (Date.now() - t0 > scaledMs(30_000)) throw new Error(`the spare never waited:\n${spare.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 2 * beatMs));
    for (const a of agents) expect(running(a), a.stderr()).toBe(true);

    const killedAt = Date.now();
    orch.child.kill('SIGKILL');
    expect((await orch.exited).signal).toBe('SIGKILL');
    // the bound each host applies (3 s, stretched by the load: at most 10×), plus a generous margin for a busy machine
    const bound = scaledMs(silenceMs) + scaledMs(30_000);
    const ends = await Promise.all(agents.map((a) => Promise.race([a.exited, new Promise<undefined>((r) => setTimeout(r, bound))])));
    for (const [i, end] of ends.entries()) {
      const a = agents[i];
      expect(end, `agent ${i} still running ${Math.round(bound / 1000)} s after the orchestrator died:\n${a.stderr()}`).toBeDefined();
      expect(end!.code, a.stderr()).toBe(5);
      // not at once (that would be something else), but after the silence it waits out
      expect(end!.at - killedAt).toBeGreaterThanOrEqual(silenceMs - 500);
      expect(a.stderr()).toContain(`the orchestrator of run ${runId} has been silent too long`);
      expect(a.stderr()).toMatch(/heard nothing from the orchestrator for [\d.]+ s \(the limit is [\d.]+ s\)/);
    }
    expect(processesOf(runId)).toEqual([]);
  });
});
