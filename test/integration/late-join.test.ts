/**
 * A host that asks to join a run that is over, or that nothing answers, is told so and exits at
 * once with the run's outcome, over a real nats-server and real agent processes:
 *   1. a real external run: a join that reaches the orchestrator while it shuts down is answered
 *      `shutdown` (it was `retry`, and a spare started as the run ended waited for a slot until its
 *      join timeout), and a spare that waited through the run exits 0 saying it got no agent;
 *   2. an agent process whose join is answered `shutdown` exits 0 with the same line, and one
 *      answered `abort` exits 1 naming the orchestrator's reason;
 *   3. an agent no orchestrator answers gives up at its join timeout with an error that says so.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it, onTestFinished } from 'vitest';
import { decode, encodeEnvelope } from '../../bus/codec.ts';
import { ORCHESTRATOR } from '../../bus/control.ts';
import { subjects } from '../../bus/subjects.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { catalog } from '../../catalog/catalog.ts';
import { runScenario } from '../../orchestrator/run.ts';
import { killStarted, mecsim } from '../helpers/mecsimProcess.ts';
import { until } from '../helpers/procs.ts';
import { outDir, processesOf, resolveCfg } from '../helpers/run.ts';

afterEach(killStarted);

const runIdOf = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}`;
/** a join timeout longer than any of these tests: only an answer (or its absence, in case 3) ends a join */
const LONG_JOIN_MS = String(30 * 60_000);

async function connected(): Promise<NatsConnection> {
  const nc = await connect({ servers: inject('natsUrl') });
  onTestFinished(() => nc.close());
  return nc;
}

/** Sends host `host`'s dynamic join for `role` to run `runId` and resolves with the answer's kind, sender and body. */
function askToJoin(nc: NatsConnection, runId: string, host: string, role: string): Promise<{ kind: string; from: string; body: unknown }> {
  const subj = subjects(runId);
  const reply = `${subj.inbox(host)}.join.0`;
  return new Promise((resolve, reject) => {
    const sub = nc.subscribe(reply, {
      max: 1,
      callback: (err, msg) => {
        if (err) return reject(err);
        const d = decode(msg.data, runId);
        if (!d.ok) return reject(new Error(`the answer was dropped: ${d.reason}`));
        resolve({ kind: d.env.kind, from: d.env.from, body: d.env.body });
      },
    });
    const timer = setTimeout(() => (sub.unsubscribe(), reject(new Error(`no answer to ${host}'s join`))), scaledMs(30_000));
    void sub.closed.then(() => clearTimeout(timer));
    // one connection: the server has the subscription before it routes the request
    const body = { role, index: -1, pid: process.pid, host: 'test', worker: host, nonce: `${host}:1` };
    nc.publish(subj.hostJoin(host), encodeEnvelope(runId, 0, 0, `${role}-new`, 'join', body), { reply });
  });
}

/** Plays run `runId`'s orchestrator for one join: answers it with `kind` and `body`. */
async function answerFirstJoin(nc: NatsConnection, runId: string, kind: string, body: Record<string, unknown>): Promise<void> {
  const subj = subjects(runId);
  nc.subscribe(subj.joinAll, { max: 1, callback: (_err, msg) => {
      if (msg.reply) nc.publish(msg.reply, encodeEnvelope(runId, 0, 0, ORCHESTRATOR, kind, body));
    },
  });
  await nc.flush();
}

describe('joining a run that is over', () => {
  it('a real external run: a join during its shutdown is answered shutdown, and a spare that waited through it exits 0 saying it got no agent', async () => {
    const url = inject('natsUrl');
    const runId = runIdOf('latejoin');
    const nc = await connected();
    let lateAnswer: ReturnType<typeof askToJoin> | undefined;
    let joined = 0;
    const run = runScenario({
      scenario: catalog.get('stackelberg')!,
      cfg: resolveCfg('stackelberg', { seed: 5, users: 2, slots: 2 }),
      placement: { kind: 'auto' },
      agents: 'external',
      runId,
      outDir,
      natsUrl: url,
      report: false,
      roundTimeoutMs: scaledMs(20_000),
      joinTimeoutMs: scaledMs(60_000),
      // the moment the run is over and its hosts are about to be told: a host that asks now is late
      onProgress: (p) => {
        if (p.phase === 'join') joined = p.joined;
        if (p.phase === 'shutdown') lateAnswer = askToJoin(nc, runId, 'late-ue', 'ue');
      },
    });
    run.catch(() => undefined);
    const agent = (role: string, count = 1) => mecsim(['agent', '--run', runId, '--role', role, '--join', '--count', String(count), '--nats', url, '--join-timeout', LONG_JOIN_MS]);
    const leader = agent('mec');
    expect(await until(() => joined === 1, scaledMs(60_000), 50), `the leader did not join:\n${leader.stderr()}`).toBe(true);
    // a second leader: the run has one, so this host waits as a spare, and the users start only once it does
    const spare = agent('mec');
    expect(await until(() => /waiting as a spare/.test(spare.stderr()), scaledMs(60_000), 50), `the second mec host did not wait as a spare:\n${spare.stderr()}`).toBe(true);
    const users = agent('ue', 2);
    const summary = (await run) as Record<string, any>;
    expect(summary.status).toBe('complete');
    expect(summary.perSlot.every((s: any) => s.compare.ok)).toBe(true);

    expect(lateAnswer).toBeDefined();
    expect(await lateAnswer).toEqual({ kind: 'shutdown', from: ORCHESTRATOR, body: {} });
    for (const p of [leader, users]) expect((await p.exited).code, p.stderr()).toBe(0);
    const end = await spare.exited;
    expect(end.code, spare.stderr()).toBe(0);
    expect(spare.stderr()).toContain(`run ${runId} ended before this host was given an agent`);
    expect(processesOf(runId)).toEqual([]);
  });

  it('an agent answered shutdown exits 0 at once saying it got no agent; one answered abort exits 1 with the reason', async () => {
    const nc = await connected();
    for (const [kind, body, code, says] of [
      ['shutdown', {}, 0, /ended before this host was given an agent/],
      ['abort', { reason: 'a made-up failure' }, 1, /a made-up failure[^]*the orchestrator aborted run/],
    ] as const) {
      const runId = runIdOf(`late${kind}`);
      await answerFirstJoin(nc, runId, kind, body);
      const p = mecsim(['agent', '--run', runId, '--role', 'ue', '--join', '--nats', inject('natsUrl'), '--join-timeout', LONG_JOIN_MS]);
      const end = await p.exited;
      expect(end.code, p.stderr()).toBe(code);
      expect(p.stderr()).toMatch(says);
    }
  });

  it('an agent nothing answers gives up at its join timeout, saying no orchestrator of its run is connected', async () => {
    const runId = runIdOf('nobody');
    const p = mecsim(['agent', '--run', runId, '--role', 'ue', '--join', '--nats', inject('natsUrl'), '--join-timeout', '1500']);
    const end = await p.exited;
    expect(end.code, p.stderr()).toBe(1);
    expect(p.stderr()).toMatch(new RegExp(`join failed after 1.5 s: nothing answers on \\S+: no orchestrator of run ${runId} is connected to this NATS server`));
  });
});
