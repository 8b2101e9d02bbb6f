/** A host's one subscription to a role's broadcasts: decoded once, handed to each follower in join order; a bad one is one drop. */
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { BroadcastFanout } from '../../agents/broadcast.ts';
import { encodeEnvelope, type Envelope } from '../../bus/codec.ts';
import { Counters } from '../../bus/counters.ts';
import type { FollowerRuntime } from '../../agents/follower.ts';

const RUN = 'stackelberg-20261202-000000-s1-test';

function fakeBus() {
  const subs: { subject: string; callback: (err: unknown, msg: { data: Uint8Array }) => void }[] = [];
  const nc = { subscribe: (subject: string, o: { callback: (err: unknown, msg: { data: Uint8Array }) => void }) => (subs.push({ subject, callback: o.callback }), { unsubscribe() {} }) } as unknown as NatsConnection;
  return { nc, subs, deliver: (data: Uint8Array) => subs.forEach((s) => s.callback(null, { data })) };
}

describe('BroadcastFanout', () => {
  it('subscribes once, hands each message decoded once to every follower in the order they were added', () => {
    const bus = fakeBus();
    const counters = new Counters();
    const fanout = new BroadcastFanout(bus.nc, RUN, counters, 'mecsim.x.bc.ue', 1 << 20);
    const got: [string, Envelope<unknown>, number][] = [];
    const follower = (id: string) => ({ onEnvelope: (env: Envelope<unknown>, size: number) => void got.push([id, env, size]) }) as unknown as FollowerRuntime;
    expect(fanout.add(follower('ue-0'))).toBeDefined();
    expect(fanout.add(follower('ue-1'))).toBeUndefined(); // the host's one subscription is already there
    expect(fanout.add(follower('ue-2'))).toBeUndefined();
    expect(bus.subs.map((s) => s.subject)).toEqual(['mecsim.x.bc.ue']);
    const data = encodeEnvelope(RUN, 0, 1, 'mec-0', 'price', { p: 12.5 });
    bus.deliver(data);
    expect(got.map((g) => g[0])).toEqual(['ue-0', 'ue-1', 'ue-2']);
    expect(got.every((g) => g[1] === got[0][1] && g[2] === data.byteLength)).toBe(true); // one decode, shared
    expect(got[0][1]).toMatchObject({ slot: 0, round: 1, from: 'mec-0', kind: 'price', body: { p: 12.5 } });
    expect(counters.in.bcast).toEqual({ msgs: 1, bytes: data.byteLength });
  });

  it('a broadcast that fails the envelope checks is dropped once, and no follower sees it', () => {
    const bus = fakeBus();
    const counters = new Counters();
    const fanout = new BroadcastFanout(bus.nc, RUN, counters, 'mecsim.x.bc.ue', 1 << 20);
    let seen = 0;
    for (let i = 0; i < 5; i++) fanout.add({ onEnvelope: () => void seen++ } as unknown as FollowerRuntime);
    bus.deliver(encodeEnvelope('another-run', 0, 1, 'mec-0', 'price', { p: 1 }));
    bus.deliver(new Uint8Array([0xc1]));
    expect(seen).toBe(0);
    expect(counters.drops).toEqual({ 'wrong-run': 1, malformed: 1 });
  });
});
