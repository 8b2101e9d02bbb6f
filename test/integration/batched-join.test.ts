/**
 * Joining many agents of a host at once (`joins`, `welcomes`, `readies`; bus/control.ts), over a
 * real nats-server whose max_payload is small enough that a host's welcomes do not fit in one
 * message:
 *   1. against a real orchestrator waiting for external agents, played by hand: the answer welcomes
 *      a prefix of the agents asked, in order; a retry (same nonce) gets the same welcomes; a request
 *      naming an agent taken, one named twice or one the run does not have is refused whole; a
 *      `joins` not from its subject's host and a `readies` naming another host's agent are dropped
 *      and logged; the agents said ready count as joined;
 *   2. real packed agent processes on such a server join in batches (a few `joins` a host, not a
 *      `join` an agent) and the run equals the reference.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encodeEnvelope } from '../../bus/codec.ts';
import { ORCHESTRATOR } from '../../bus/control.ts';
import { subjects } from '../../bus/subjects.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { catalog } from '../../catalog/catalog.ts';
import { startNatsServer, type NatsHandle } from '../../orchestrator/natsServer.ts';
import { runScenario } from '../../orchestrator/run.ts';
import { sleep, until } from '../helpers/procs.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const MAX_PAYLOAD = 32 * 1024;

let server: NatsHandle;
beforeAll(async () => {
  server = await startNatsServer({ jetstream: true, maxPayloadBytes: MAX_PAYLOAD });
});
afterAll(async () => {
  await server?.stop();
});

interface Answer {
  kind: string;
  from: string;
  body: Record<string, any>;
}

describe('joining many agents at once', () => {
  it('answers a prefix in order, the same on a retry; refuses a bad request whole; drops forged joins and readies', async () => {
    const runId = `batched-${process.pid}-${Date.now().toString(36)}`;
    const subj = subjects(runId);
    const users = 200;
    const abort = new AbortController();
    let joined = 0;
    const run = runScenario({
      scenario: catalog.get('stackelberg')!,
      cfg: resolveCfg('stackelberg', { seed: 3, users, slots: 1 }),
      placement: { kind: 'auto' },
      agents: 'external',
      runId,
      outDir,
      natsUrl: server.url,
      report: false,
      roundTimeoutMs: scaledMs(20_000),
      joinTimeoutMs: scaledMs(600_000),
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase === 'join') joined = p.joined;
      },
    });
    const ended = run.then(
      () => 'completed',
      (e: Error) => e.message,
    );
    const nc: NatsConnection = await connect({ servers: server.url });
    let n = 0;
    /** host `host` asks for `agents` (as `from`) and resolves with the answer, or undefined after `ms` */
    const ask = (host: string, nonce: string, agents: { role: string; index: number }[], from = host, ms = scaledMs(30_000)): Promise<Answer | undefined> => {
      const reply = `${subj.inbox(host)}.join.${n++}`;
      return new Promise((resolve) => {
        const timer = setTimeout(() => (sub.unsubscribe(), resolve(undefined)), ms);
        const sub = nc.subscribe(reply, {
          max: 1,
          callback: (_err, msg) => {
            clearTimeout(timer);
            if (msg.data.byteLength === 0) return resolve(undefined); // no responders (yet): no answer
            const d = decode(msg.data, runId, 1 << 24);
            resolve(d.ok ? { kind: d.env.kind, from: d.env.from, body: d.env.body as Record<string, any> } : { kind: `dropped: ${d.reason}`, from: '', body: {} });
          },
        });
        const body = { pid: process.pid, host: 'test', worker: host, nonce, agents };
        nc.publish(subj.hostJoin(host), encodeEnvelope(runId, 0, 0, from, 'joins', body), { reply });
      });
    };
    const ues = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ role: 'ue', index: from + i }));
    try {
      // the orchestrator listens once it has planned the run: ask until it answers
      let first: Answer | undefined;
      for (let i = 0; i < 300 && !first; i++) (first = await ask('h1', 'n1', ues(0, users), 'h1', scaledMs(1000))) ?? (await sleep(100));
      expect(first?.kind).toBe('welcomes');
      expect(first!.from).toBe(ORCHESTRATOR);
      const welcomes: { id: string; role: string; index: number }[] = first!.body.welcomes;
      // more welcomes than one message of MAX_PAYLOAD bytes carries: a prefix, in the order asked
      expect(welcomes.length).toBeGreaterThan(10);
      expect(welcomes.length).toBeLessThan(users);
      expect(welcomes.map((w) => w.index)).toEqual(welcomes.map((_, i) => i));
      expect(welcomes.every((w) => w.role === 'ue' && w.id === `ue-${w.index}`)).toBe(true);
      const k = welcomes.length;

      // the same request again (its answer was lost): the same welcomes
      expect(await ask('h1', 'n1', ues(0, users))).toEqual(first);
      // the next ones, asked from the first not welcomed
      const second = await ask('h1', 'n2', ues(k, k + 10));
      expect(second?.kind).toBe('welcomes');
      expect(second!.body.welcomes.map((w: { index: number }) => w.index)).toEqual(ues(k, k + 10).map((u) => u.index));

      // refused whole: an agent another host has, one asked twice, one the run does not have
      expect(await ask('h2', 'n3', [{ role: 'ue', index: 0 }])).toMatchObject({ kind: 'reject', body: { reason: 'ue-0 has already joined' } });
      const free = k + 10;
      expect(await ask('h2', 'n4', [{ role: 'ue', index: free }, { role: 'ue', index: free }])).toMatchObject({ kind: 'reject', body: { reason: `ue-${free} is asked for twice` } });
      expect(await ask('h2', 'n5', [{ role: 'ue', index: free }, { role: 'ue', index: 5000 }])).toMatchObject({ kind: 'reject', body: { reason: `run ${runId} has no agent ue 5000` } });
      // the refused request took nothing: the free agent is still free
      expect(await ask('h2', 'n6', [{ role: 'ue', index: free }])).toMatchObject({ kind: 'welcomes' });

      // a joins not from the host its subject names: dropped, no answer
      expect(await ask('h3', 'n7', [{ role: 'ue', index: free + 1 }], 'ue-0', scaledMs(1500))).toBeUndefined();

      // readies: h2 naming h1's agents is dropped; h1's own count
      nc.publish(subj.hostJoin('h2'), encodeEnvelope(runId, 0, 0, 'h2', 'readies', { ids: ['ue-0', 'ue-1'] }));
      nc.publish(subj.hostJoin('h1'), encodeEnvelope(runId, 0, 0, 'h1', 'readies', { ids: welcomes.map((w) => w.id) }));
      await nc.flush();
      expect(await until(() => joined === k, scaledMs(60_000), 50), `joined ${joined}, expected ${k}`).toBe(true);
      await sleep(200);
      expect(joined).toBe(k);
    } finally {
      abort.abort();
      await ended;
      await nc.close();
    }
    expect(await ended).toMatch(/interrupted/);
    const log = readFileSync(join(outDir, runId, 'run.log'), 'utf8');
    expect(log).toMatch(/joins from ue-0 on the subject of host h3: only that host sends it/);
    expect(log).toMatch(/ready for ue-0 from host h2, which is not its host \(h1 is\)/);
  });

  it('packed agent processes join in batches, a prefix at a time, and the run equals the reference', async () => {
    const users = 600;
    const cfg = resolveCfg('stackelberg', { seed: 4, users, slots: 1 });
    const s = await runDistributed('stackelberg', cfg, 'packed:300', { natsUrl: server.url });
    expect(s.status).toBe('complete');
    expect(s.ok).toBe(true);
    const byKind = s.runMetrics.counters.ours.byKind as Record<string, { msgs: number }>;
    // the leader alone joins by itself; each of the two hosts asks for its 300 in a few requests,
    // more than one each since their welcomes do not fit in one message of 32 KB
    expect(byKind.join?.msgs).toBe(1);
    expect(byKind.joins.msgs).toBeGreaterThan(2);
    expect(byKind.joins.msgs).toBeLessThan(30);
    expect(byKind.readies.msgs).toBe(byKind.joins.msgs);
    expect(byKind.ready?.msgs).toBe(1);
    expect(s.runMetrics.drops).toEqual({});
  });
});
