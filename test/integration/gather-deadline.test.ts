/**
 * A round's deadline never counts missing a reply that had already reached the leader's socket.
 *
 * A leader stalled past the deadline (here: a busy loop) runs its deadline timer before it reads its
 * socket; the gatherer flushes the connection first (PING/PONG), so the replies the server delivered
 * meanwhile are read before the missing are counted. The follower is a worker thread with its own
 * connection, so it answers while the leader's event loop is blocked; the leader waits (Atomics) until
 * the server has taken the reply, then keeps spinning past the deadline.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeEnvelope } from '../../bus/codec.ts';
import { Counters } from '../../bus/counters.ts';
import { installFastParser } from '../../bus/fastparse.ts';
import { Gatherer, RETRY_MIN_MS } from '../../bus/gather.ts';
import { subjects } from '../../bus/subjects.ts';
import { scaledMs } from '../../bus/timeouts.ts';

const RUN = `gd-${process.pid}`;
const LEADER = 'mec-0';
const targets = [
  { id: 'ue-0', role: 'ue', slotIndex: 0 },
  { id: 'ue-1', role: 'ue', slotIndex: 1 },
];

/** A follower on its own thread and connection: publishes the bytes it is given, then sets flag[0] once the server has them. */
const FOLLOWER = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { connect } = await import(workerData.transport);
  const nc = await connect({ servers: workerData.url });
  const flag = new Int32Array(workerData.flag);
  parentPort.on('message', async (m) => {
    if (m === 'close') return void (await nc.close(), parentPort.close());
    for (const r of m) nc.publish(r.subject, r.data);
    await nc.flush();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
  parentPort.postMessage('ready');
})();
`;

function spinUntil(t: number): void {
  while (performance.now() < t) {
    /* the leader's event loop is blocked */
  }
}

describe('gatherer deadline over a real nats-server', () => {
  let nc: NatsConnection;
  let worker: Worker;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  let flushes = 0;

  beforeAll(async () => {
    installFastParser(); // the leader's parser in a real run
    const url = inject('natsUrl');
    nc = await connect({ servers: url });
    const flush = nc.flush.bind(nc);
    nc.flush = () => (flushes++, flush());
    const transport = pathToFileURL(createRequire(import.meta.url).resolve('@nats-io/transport-node')).href;
    worker = new Worker(FOLLOWER, { eval: true, workerData: { url, transport, flag: flag.buffer } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  });

  afterAll(async () => {
    worker?.postMessage('close');
    await nc?.close();
  });

  /** the follower's reply to (slot, round), on its host's reply subject */
  const reply = (id: string, slot: number, round: number, body: object) => ({ subject: subjects(RUN).reply(LEADER, 'ue', 'w1'), data: encodeEnvelope(RUN, slot, round, id, 're:price', body) });
  const request = (slot: number, deadlineMs: number) => ({ kind: 'price', body: { p: 1 }, roles: ['ue'], expect: targets, rosterSize: 2, slot, round: 1, deadlineMs });

  it('a reply that arrived while the leader was stalled past the deadline is counted received; an absent one missing', async () => {
    const g = new Gatherer(nc, RUN, LEADER, new Counters(), 1 << 20);
    g.start(targets);
    await nc.flush();
    for (let slot = 1; slot <= 3; slot++) {
      const deadlineMs = 200;
      Atomics.store(flag, 0, 0);
      flushes = 0;
      const done = g.round(request(slot, deadlineMs));
      const started = performance.now();
      worker.postMessage([reply('ue-0', slot, 1, { x: slot })]);
      // the server has ue-0's reply once the follower's flush returned; give it time to write it to our socket
      expect(Atomics.wait(flag, 0, 0, 30_000)).not.toBe('timed-out');
      spinUntil(Math.max(performance.now() + 150, started + deadlineMs + 300));
      const r = await done;
      expect(r.missing).toEqual(['ue-1']);
      expect(r.received).toBe(1);
      expect(r.replies[0]).toEqual({ x: slot });
      expect(flushes).toBe(1);
    }
    g.stop();
  });

  it('a leader stalled past the first retransmission re-sends only to the agents whose reply is not in its socket, once replies stop', async () => {
    const counters = new Counters();
    const g = new Gatherer(nc, RUN, LEADER, counters, 1 << 20);
    g.start(targets);
    await nc.flush();
    Atomics.store(flag, 0, 0);
    const done = g.round(request(5, 60_000));
    const started = performance.now();
    worker.postMessage([reply('ue-0', 5, 1, { x: 0 })]);
    expect(Atomics.wait(flag, 0, 0, 30_000)).not.toBe('timed-out');
    spinUntil(Math.max(performance.now() + 150, started + RETRY_MIN_MS + 300));
    // ue-0's reply, read after the stall, is progress: nothing is re-sent until a quiet period without replies has passed
    const resent = () => counters.outByKind.resent?.msgs ?? 0;
    await new Promise((r) => setTimeout(r, 100));
    expect(resent()).toBe(0);
    const waitUntil = performance.now() + scaledMs(20_000);
    while (resent() === 0 && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * RETRY_MIN_MS);
    // the retransmission went out (to ue-1 alone); then ue-1 answers
    expect(resent()).toBe(1);
    worker.postMessage([reply('ue-1', 5, 1, { x: 1 })]);
    const r = await done;
    expect(r.missing).toEqual([]);
    expect(r.resent).toBe(1);
    g.stop();
  }, scaledMs(60_000));

  it('a slow round whose replies keep coming, each within the quiet period, re-sends nothing though it lasts longer than that period', async () => {
    const four = ['ue-0', 'ue-1', 'ue-2', 'ue-3'].map((id, i) => ({ id, role: 'ue', slotIndex: i }));
    const counters = new Counters();
    const g = new Gatherer(nc, RUN, LEADER, counters, 1 << 20);
    g.start(four);
    await nc.flush();
    const done = g.round({ ...request(7, 60_000), expect: four, rosterSize: 4 });
    const started = performance.now();
    for (const [i, t] of four.entries()) {
      if (i) await new Promise((r) => setTimeout(r, RETRY_MIN_MS / 2));
      worker.postMessage([reply(t.id, 7, 1, { x: i })]);
    }
    const r = await done;
    expect(performance.now() - started).toBeGreaterThan(RETRY_MIN_MS);
    expect(r.missing).toEqual([]);
    expect(r.resent).toBe(0);
    expect(counters.drops['retransmit-echo'] ?? 0).toBe(0);
    g.stop();
  }, scaledMs(60_000));

  it('one wildcard subscription takes every roster reply; a reply on a subject no roster agent owns is dropped and counted', async () => {
    const counters = new Counters();
    const g = new Gatherer(nc, RUN, LEADER, counters, 1 << 20);
    g.start(targets);
    await nc.flush();
    const done = g.round(request(11, 60_000));
    worker.postMessage([reply('ue-9', 11, 1, { x: 9 }), reply('ue-1', 11, 1, { x: 1 }), reply('ue-0', 11, 1, { x: 0 })]);
    const r = await done;
    expect(r.replies).toEqual([{ x: 0 }, { x: 1 }]);
    expect(counters.drops).toEqual({ 'unexpected-sender': 1 });
    g.stop();
  });

  it('a round whose replies all arrive before the deadline never flushes', async () => {
    const g = new Gatherer(nc, RUN, LEADER, new Counters(), 1 << 20);
    g.start(targets);
    await nc.flush();
    flushes = 0;
    const done = g.round(request(9, 60_000));
    worker.postMessage([reply('ue-0', 9, 1, { x: 0 }), reply('ue-1', 9, 1, { x: 1 })]);
    const r = await done;
    expect(r.missing).toEqual([]);
    expect(r.replies).toEqual([{ x: 0 }, { x: 1 }]);
    expect(flushes).toBe(0);
    g.stop();
  });

  it('a round on a closed connection still ends at its deadline, every reply missing', async () => {
    const dead = await connect({ servers: inject('natsUrl') });
    const g = new Gatherer(dead, RUN, LEADER, new Counters(), 1 << 20);
    g.start(targets);
    const done = g.round(request(1, 50));
    await dead.close();
    const r = await done;
    expect(r.missing).toEqual(['ue-0', 'ue-1']);
  });
});
