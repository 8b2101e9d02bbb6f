/**
 * Hostile traffic during a real distributed run (real NATS, real agent processes): fast-check generates
 * random bytes, non-envelopes, envelopes with mistyped fields (including maps that break String()),
 * NaN/±Infinity deep in bodies, huge arrays, wrong run ids and versions, replayed old rounds and forged
 * senders, and publishes them on every subject family of a `stackelberg` run (bc, to, rep, join, ctl).
 * The run must complete with the equilibrium and trajectory of a clean run, every hostile message
 * dropped and counted by reason.
 *
 * Not generated (they are authorised by subject permissions, not by the envelope): a correctly
 * addressed reply for the current round, and leader/orchestrator commands (`slot`, `shutdown`, `abort`,
 * `join`, `ready`): anyone allowed to publish those controls the run by design.
 */
import { connect } from '@nats-io/transport-node';
import { encode as rawEncode } from '@msgpack/msgpack';
import fc from 'fast-check';

// A fixed seed, so CI is reproducible; FC_SEED=<n> explores other inputs (a failure prints its seed).
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261127) });
import { describe, expect, it, inject } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeEnvelope, ENVELOPE_VERSION } from '../../bus/codec.ts';
import { rawEnvelope } from '../helpers/wire.ts';
import { subjects } from '../../bus/subjects.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';

const USERS = 6;
const RESERVED = new Set(['slot', 'shutdown', 'abort', 'join', 'ready']);
const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

interface Hostile {
  subject: string;
  data: Uint8Array;
  what: string;
}

/** The hostile messages for one batch. `stale` gives (slot, round) pairs that are never the leader's current round. */
function hostileBatch(runId: string, stale: fc.Arbitrary<[number, number]>, seed: number): Hostile[] {
  const s = subjects(runId);
  const ues = Array.from({ length: USERS }, (_, i) => `ue-${i}`);
  const every = [s.bcast('ue'), s.bcast('mec'), ...ues.map(s.direct), s.direct('mec-0'), s.reply('mec-0', 'ue', 'w1'), s.reply('mec-0', 'ue', 'w2'), s.reply('mec-0', 'ue', 'w9'), s.join, s.ctl('mec-0'), s.ctlAll];
  const anySubject = fc.constantFrom(...every);
  const toFollower = fc.constantFrom(s.bcast('ue'), ...ues.map(s.direct));
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
  const leaf = fc.oneof(finite, fc.integer(), fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null));
  const body = fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(leaf, fc.array(leaf, { maxLength: 4 })), { maxKeys: 4 });
  const kind = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !RESERVED.has(k));
  const trap = fc.constantFrom({ toString: 1 }, [{ toString: 'x' }], { valueOf: {}, toString: null });
  const wrongTyped = fc.oneof(fc.string({ maxLength: 8 }), finite, fc.constantFrom(NaN, Infinity, -Infinity, -1, 1.5), fc.boolean(), fc.constant(null), fc.array(leaf, { maxLength: 3 }), fc.uint8Array({ maxLength: 4 }), trap);
  const base = (from: string) => ({ v: ENVELOPE_VERSION, run: runId, slot: 0, round: 0, from, kind: 'price', body: { p: 1 } });
  /** v under n levels of {a: [·]} (2n levels of nesting) */
  const deep = (v: unknown, n: number) => Array.from({ length: n }).reduce<unknown>((acc) => ({ a: [acc] }), v);
  const msg = (what: string, subject: fc.Arbitrary<string>, data: fc.Arbitrary<Uint8Array>) => fc.record({ subject, data, what: fc.constant(what) });
  const parts: [fc.Arbitrary<Hostile>, number][] = [
    [msg('bytes', anySubject, fc.uint8Array({ maxLength: 300 })), 20],
    [msg('not-an-envelope', anySubject, fc.anything({ maxDepth: 3 }).map((x) => { try { return rawEncode(x); } catch { return new Uint8Array([0xc1]); } })), 10],
    [
      msg(
        'wrong-type',
        anySubject,
        fc
          .tuple(fc.constantFrom('run', 'slot', 'round', 'from', 'kind', 'noreply', 'body'), wrongTyped)
          // keep it invalid, or at least harmless: no boolean noreply, no map body, no reserved kind, and no
          // slot/round that could be the current one (a forged request for the current round is not stale)
          .filter(([f, v]) => !(f === 'noreply' && typeof v === 'boolean') && !(f === 'body' && isMap(v)) && !(f === 'kind' && RESERVED.has(v as string)) && !((f === 'slot' || f === 'round') && Number.isSafeInteger(v) && (v as number) >= 0))
          .map(([f, v]) => rawEnvelope({ ...base('mec-0'), [f]: v })),
      ),
      30,
    ],
    [msg('non-finite', anySubject, fc.tuple(body, fc.nat({ max: 7 }), fc.constantFrom(NaN, Infinity, -Infinity)).map(([b, n, x]) => rawEnvelope({ ...base('mec-0'), body: { ...b, z: deep(x, n) } }))), 20],
    [msg('too-deep', anySubject, fc.integer({ min: 9, max: 45 }).map((n) => rawEnvelope({ ...base('mec-0'), body: { z: deep(1, n) } }))), 5],
    [msg('oversized', fc.constant(s.join), fc.integer({ min: 10_000, max: 60_000 }).map((n) => encodeEnvelope(runId, 0, 0, 'mec-0', 'price', { p: new Array(n).fill(1.5) }))), 2],
    [msg('huge-array', anySubject, fc.tuple(fc.integer({ min: 10_000, max: 60_000 }), stale).map(([n, [sl, r]]) => encodeEnvelope(runId, sl, r, 'mec-0', 'price', { p: new Array(n).fill(1.5) }))), 6],
    [msg('wrong-run', anySubject, fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), body).map(([run, b]) => encodeEnvelope(run === runId ? `${run}x` : run, 0, 1, 'mec-0', 'price', b))), 15],
    [msg('version', anySubject, fc.tuple(fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), trap), body).filter(([v]) => v !== ENVELOPE_VERSION).map(([v, b]) => rawEnvelope({ ...base('mec-0'), v, body: b }))), 10],
    // replayed old rounds: the leader's own price broadcasts, and the users' replies, for rounds that are over
    [msg('replayed-request', toFollower, fc.tuple(stale, fc.constantFrom('price', 'final'), fc.double({ min: 0.01, max: 100, noNaN: true })).map(([[sl, r], k, p]) => encodeEnvelope(runId, sl, r, 'mec-0', k, { p }))), 15],
    [msg('forged-request', toFollower, fc.tuple(fc.constantFrom(...ues, 'orchestrator', 'mec-1'), kind, body).map(([from, k, b]) => encodeEnvelope(runId, 0, 1, from, k, b))), 10],
    [msg('unknown-kind', fc.constantFrom(s.join, s.ctl('mec-0'), s.ctlAll), fc.tuple(kind, body).map(([k, b]) => encodeEnvelope(runId, 0, 0, 'orchestrator', k, b))), 12],
  ];
  const out: Hostile[] = [];
  let i = 0;
  for (const [arb, n] of parts) if (n) out.push(...fc.sample(arb, { numRuns: n, seed: seed + i++ }));
  // replies on the leader's reply subjects (packed:3: ue-0..2 on w1, ue-3..5 on w2): replayed (right
  // sender, an old round) or forged (an agent of the other host)
  const hostOf = (k: number) => (k < 3 ? 'w1' : 'w2');
  const replies = fc.tuple(fc.nat({ max: USERS - 1 }), stale, fc.boolean(), fc.double({ min: 0, max: 1e6, noNaN: true })).map(([at, [sl, r], forged, x]): Hostile => {
    const from = forged ? `ue-${(at + 3) % USERS}` : `ue-${at}`;
    // a forged reply may even carry the current round: the subject's host gives the sender away
    return { subject: s.reply('mec-0', 'ue', hostOf(at)), data: encodeEnvelope(runId, sl, forged ? 1 : r, from, 're:price', { x, u: x }), what: forged ? 'forged-reply' : 'replayed-reply' };
  });
  out.push(...fc.sample(replies, { numRuns: 20, seed: seed + 99 }));
  // a host's rows (bus/replyRows.ts; roster positions 0..5 are ue-0..5): naming the other host's agents
  // (even for the current round), sent as another host, replayed from an old round, or malformed
  const rowsFrom = (host: string, sl: number, r: number, at: number[], cols: unknown[]) => encodeEnvelope(runId, sl, r, host, 'rows', { kind: 're:price', at, keys: ['x', 'u'], cols });
  const rows = fc.tuple(fc.nat({ max: 3 }), stale, fc.double({ min: 0, max: 1e6, noNaN: true })).map(([k, [sl, r], x]): Hostile => {
    const col = (n: number) => new Array(n).fill(x);
    if (k === 0) return { subject: s.reply('mec-0', 'ue', 'w1'), data: rowsFrom('w1', 0, 1, [3, 4], [col(2), col(2)]), what: 'forged-rows' };
    if (k === 1) return { subject: s.reply('mec-0', 'ue', 'w1'), data: rowsFrom('w2', 0, 1, [0, 1], [col(2), col(2)]), what: 'rows-as-another-host' };
    if (k === 2) return { subject: s.reply('mec-0', 'ue', 'w2'), data: rowsFrom('w2', sl, r, [3, 4, 5], [col(3), col(3)]), what: 'replayed-rows' };
    return { subject: s.reply('mec-0', 'ue', 'w2'), data: rowsFrom('w2', 0, 1, [3, 4], [col(2), col(1)]), what: 'malformed-rows' };
  });
  out.push(...fc.sample(rows, { numRuns: 20, seed: seed + 98 }));
  return out;
}

describe('hostile traffic during a real run (property-generated)', () => {
  it('stackelberg completes with the clean run’s equilibrium and trajectory; every hostile message is dropped and counted', async () => {
    const cfg = resolveCfg('stackelberg', { users: USERS, seed: 4, slots: 2 });
    const clean = await runDistributed('stackelberg', cfg, 'packed:3');
    const runId = `hostile-${Date.now()}`;
    const seed = Date.now() % 1_000_000;
    const nc = await connect({ servers: inject('natsUrl') });
    const sent: Hostile[] = [];
    const publish = (batch: Hostile[]) => {
      for (const m of batch) {
        nc.publish(m.subject, m.data);
        sent.push(m);
      }
      void nc.flush();
    };
    const s = await runDistributed('stackelberg', cfg, 'packed:3', {
      runId,
      onProgress: (p) => {
        if (p.phase !== 'slot' || p.line !== undefined) return;
        // slot 0 is starting: nothing is old yet, so "replays" use round 0 (never a mechanism round) or slots beyond the run
        if (p.slot === 0) publish(hostileBatch(runId, fc.oneof(fc.constant<[number, number]>([0, 0]), fc.tuple(fc.integer({ min: 2, max: 50 }), fc.nat({ max: 100 }))), seed));
        // slot 1 is starting: every round of slot 0 is over
        if (p.slot === 1) publish(hostileBatch(runId, fc.oneof(fc.tuple(fc.constant(0), fc.nat({ max: 80 })), fc.constant<[number, number]>([1, 0])), seed + 1000));
      },
    });
    await nc.drain();
    const why = `seed ${seed}`;
    expect(sent.length, why).toBeGreaterThanOrEqual(300);
    expect(s.status, why).toBe('complete');
    expect(s.ok, why).toBe(true);
    const eq = (x: Record<string, any>) => x.perSlot.map((r: any) => r.equilibrium);
    expect(eq(s), why).toEqual(eq(clean));
    const traj = (x: Record<string, any>) => readFileSync(join(outDir, x.runId, 'trajectory.csv'), 'utf8');
    expect(traj(s), why).toBe(traj(clean));
    expect(s.runMetrics.rounds).toBe(clean.runMetrics.rounds);
    const drops: Record<string, number> = s.runMetrics.drops;
    for (const reason of ['malformed', 'wrong-type', 'non-finite', 'too-deep', 'wrong-run', 'version', 'stale', 'forged-sender', 'unexpected-sender', 'unknown-kind', 'oversized']) {
      expect(drops[reason] ?? 0, `${reason} drops (${why}): ${JSON.stringify(drops)}`).toBeGreaterThan(0);
    }
    // every message that reached a subscriber was dropped at least once (bc.mec and to.mec-0 have none; a broadcast is
    // dropped once by each host whose users receive it; a replayed request is answered, and that answer dropped as stale)
    const delivered = sent.filter((m) => !m.subject.endsWith('.bc.mec') && !m.subject.endsWith('.to.mec-0')).length;
    const total = Object.values(drops).reduce((a, b) => a + b, 0);
    expect(total, why).toBeGreaterThanOrEqual(delivered);
    expect(clean.runMetrics.drops).toEqual({});
    expect(readFileSync(join(outDir, runId, 'agents.log'), 'utf8')).toMatch(/dropped message \(/);
  });
});
