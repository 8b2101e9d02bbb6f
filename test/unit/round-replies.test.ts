/**
 * The leader's replies kept as columns (bus/roundReplies.ts):
 *  - a host's rows are taken exactly as the agents' own envelopes would be, one by one: the same
 *    replies, the same drops for the same reasons, the same counts (bus/gather.ts takes rows that
 *    answer the round as expected in one pass, and every other row through the per-reply checks);
 *  - a settled round gives the mechanism what the leader gave it when every reply was an object:
 *    missing replies take the follower's last reply to the same kind, a `nil` is none;
 *  - `column(key)` is `key` of each reply as a finite number, NaN for anything else.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, ReplyEncoder } from '../../bus/codec.ts';
import { Counters } from '../../bus/counters.ts';
import { Gatherer, type GatherResult } from '../../bus/gather.ts';
import { ReplyBatch } from '../../bus/replyBatch.ts';
import { NIL, RoundReplies, SettledRound } from '../../bus/roundReplies.ts';
import { subjects } from '../../bus/subjects.ts';
import { columnOf, roundResult } from '../../scenarios/contract.ts';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261204) });

const RUN = 'stackelberg-20261204-000000-s1-cols';
const ROSTER = Array.from({ length: 6 }, (_, i) => ({ id: `ue-${i}`, role: 'ue' }));
/** ue-0..2 on w1, ue-3..5 on w2 */
const PLACEMENT = { hosts: ['w1', 'w2'], of: [0, 0, 0, 1, 1, 1] };
const tick = () => new Promise<void>((r) => setImmediate(r));

/** A Gatherer over a fake connection, fed by hand on the leader's one reply subscription. */
function gatherer() {
  let cb: ((err: Error | null, msg: Msg) => void) | undefined;
  const nc = { subscribe: (_s: string, o: { callback: typeof cb }) => ((cb = o.callback), { unsubscribe() {} }), publish() {} } as unknown as NatsConnection;
  const counters = new Counters();
  const g = new Gatherer(nc, RUN, 'mec-0', counters, 1 << 20);
  g.start(ROSTER, PLACEMENT);
  const feed = (host: string, data: Uint8Array) => cb!(null, { subject: subjects(RUN).reply('mec-0', 'ue', host), data } as Msg);
  return { g, counters, feed };
}

const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -40, max: 300 }));
const reply = fc.record({
  // 6 and 7 are no roster agent's; an agent on the other host is a forged sender
  position: fc.nat({ max: 7 }),
  round: fc.constantFrom(7, 7, 7, 6),
  kind: fc.constantFrom('re:price', 're:price', 're:price', 'nil', 'error', 'state'),
  body: fc.oneof(fc.record({ x: num, u: num }), fc.record({ x: num }), fc.record({ u: num, x: num })),
});

/** One round that takes `messages` (host, bytes), all fed before its deadline can pass. */
async function gather(messages: [string, Uint8Array][], expect: number[]): Promise<{ r: GatherResult; counters: Counters }> {
  const { g, counters, feed } = gatherer();
  const done = g.round({ kind: 'price', body: { p: 1 }, roles: ['ue'], expect: expect.map((i) => ({ id: `ue-${i}`, role: 'ue', slotIndex: i })), rosterSize: ROSTER.length, slot: 3, round: 7, deadlineMs: 10 });
  for (const [host, data] of messages) feed(host, data);
  const r = await done;
  g.stop();
  return { r, counters };
}

describe('a host’s rows at the leader', () => {
  it('are taken as the agents’ own envelopes one by one would be: the same replies, drops and counts', async () => {
    const perHost = fc.array(reply, { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(perHost, perHost, fc.subarray([0, 1, 2, 3, 4, 5], { minLength: 1 }), fc.boolean(), async (w1, w2, expected, w2First) => {
        const hosts: [string, typeof w1][] = w2First ? [['w2', w2], ['w1', w1]] : [['w1', w1], ['w2', w2]];
        // as rows: each host's replies through its batch (rows where they can go as rows)
        const batched: [string, Uint8Array][] = [];
        for (const [host, replies] of hosts) {
          const nc = { publish: (_s: string, data: Uint8Array) => void batched.push([host, data.slice()]), info: { max_payload: 1 << 20 } } as unknown as NatsConnection;
          const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host } });
          for (const r of replies) if (!b.addRow({ position: r.position, encoder: new ReplyEncoder(RUN, `ue-${r.position}`) }, 3, r.round, r.kind, r.body)) b.add(encodeEnvelope(RUN, 3, r.round, `ue-${r.position}`, r.kind, r.body));
          await tick();
        }
        const rows = await gather(batched, expected);
        // as envelopes, one message each
        const alone = await gather(
          hosts.flatMap(([host, replies]) => replies.map((r): [string, Uint8Array] => [host, encodeEnvelope(RUN, 3, r.round, `ue-${r.position}`, r.kind, r.body)])),
          expected,
        );
        expect(rows.r.replies).toEqual(alone.r.replies);
        expect(rows.r.missing).toEqual(alone.r.missing);
        expect([rows.r.received, rows.r.nil]).toEqual([alone.r.received, alone.r.nil]);
        expect(rows.counters.drops).toEqual(alone.counters.drops);
        expect(rows.counters.in.reply.msgs).toBe(alone.counters.in.reply.msgs);
      }),
      { numRuns: 200 },
    );
  });
});

describe('a settled round', () => {
  /** one position's reply in a round: a row of keys x,u / of keys u,x / a body / a nil / none */
  const entry = fc.oneof(
    fc.record({ t: fc.constant('row' as const), x: num, u: num }),
    fc.record({ t: fc.constant('row2' as const), x: num, u: num }),
    fc.record({ t: fc.constant('body' as const), body: fc.oneof(fc.record({ x: num }), fc.record({ x: fc.string({ maxLength: 3 }) }), fc.record({ y: num })) }),
    fc.constant({ t: 'nil' as const }),
    fc.constant({ t: 'none' as const }),
  );
  const N = 5;
  const XU = ['x', 'u'];
  const UX = ['u', 'x'];

  it('gives what the leader gave when every reply was an object: a missing reply takes the last one of its kind, a nil is none', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(entry, { minLength: N, maxLength: N }), fc.boolean()), { minLength: 1, maxLength: 6 }), (rounds) => {
        const last = new RoundReplies(N);
        const model: (object | undefined)[] = new Array(N).fill(undefined);
        for (const [entries, reuse] of rounds) {
          const t = new RoundReplies(N);
          const got: (object | typeof NIL | undefined)[] = new Array(N).fill(undefined);
          entries.forEach((e, i) => {
            if (e.t === 'row' || e.t === 'row2') {
              const keys = e.t === 'row' ? XU : UX;
              const vals = e.t === 'row' ? [e.x, e.u] : [e.u, e.x];
              if (!t.setRow(i, keys, [[vals[0]], [vals[1]]], 0)) t.setBody(i, Object.fromEntries(keys.map((k, j) => [k, vals[j]])));
              got[i] = Object.fromEntries(keys.map((k, j) => [k, vals[j]]));
            } else if (e.t === 'body') {
              t.setBody(i, e.body);
              got[i] = e.body;
            } else if (e.t === 'nil') {
              t.setNil(i);
              got[i] = NIL;
            }
          });
          expect(t.replies()).toEqual(got);
          // agents/leader.ts before the columns: the same mapping over objects
          const want = got.map((x, i) => {
            if (x === NIL) return undefined;
            if (x === undefined) return reuse ? model[i] : undefined;
            model[i] = x;
            return x;
          });
          t.settle(last, reuse);
          const replies = t.replies();
          expect(replies).toEqual(want);
          // the keys of a row come back in its own order
          replies.forEach((r, i) => want[i] && expect(Object.keys(r as object)).toEqual(Object.keys(want[i] as object)));
          for (const key of ['x', 'u', 'y', 'toString']) expect(t.column(key)).toEqual(columnOf(want, key));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('column: a finite number stays, anything else is NaN', () => {
    const r = roundResult([{ x: 1.5 }, undefined, { x: 'a' }, { x: -0 }, { y: 2 }, { x: null }, { x: Infinity }]);
    expect(r.column('x')).toEqual([1.5, NaN, NaN, -0, NaN, NaN, NaN]);
    expect(r.column('toString')).toEqual(new Array(7).fill(NaN));
  });
});

describe('the mechanism’s result (SettledRound)', () => {
  const table = () => {
    const t = new RoundReplies(3);
    t.setRow(0, ['x', 'u'], [[1.5], [2]], 0);
    t.setBody(2, { x: 7 });
    t.settle(new RoundReplies(3), true);
    return t;
  };

  it('reads as a round result: replies made once when first read, columns, missing; replies may be replaced', () => {
    const r = new SettledRound<{ x: number; u?: number }>(table(), ['ue-1']);
    const { replies, missing } = r;
    expect(replies).toEqual([{ x: 1.5, u: 2 }, undefined, { x: 7 }]);
    expect(r.replies).toBe(replies);
    expect(missing).toEqual(['ue-1']);
    expect(r.column('x')).toEqual([1.5, NaN, 7]);
    r.replies = [];
    expect(r.replies).toEqual([]);
  });

  it('keeps its getter on the prototype: no result carries an accessor of its own (each would be a hidden class holding its round’s table)', () => {
    const a = new SettledRound(table(), []);
    const b = new SettledRound(table(), []);
    for (const r of [a, b]) expect(Object.getOwnPropertyDescriptor(r, 'replies')).toBeUndefined();
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(Object.keys(a)).toEqual(['missing']);
  });
});
