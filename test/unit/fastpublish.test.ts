import { describe, expect, it } from 'vitest';
import { parseOptions, ProtocolHandler } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { publishFast, publishHead } from '../../bus/fastpublish.ts';
import { encodeEnvelope, ReplyEncoder } from '../../bus/codec.ts';
import { written } from '../helpers/wire.ts';

/** A client protocol handler with no socket: what a publish queues stays in its outbound buffer. */
function handler() {
  const ph = new (ProtocolHandler as unknown as new (o: unknown, p: unknown) => any)(parseOptions({ servers: 'nats://127.0.0.1:1' }), {});
  ph.info = { max_payload: 1 << 20 };
  const stockNc = { protocol: ph, publish: (s: string, d: Uint8Array) => ph.publish(s, d) } as unknown as NatsConnection;
  // a flush hands the connection's batch of fast frames to the client first (with no socket, it then stops)
  const queued = () => (ph.flushPending(), Buffer.from(ph.outbound.drain()).toString('latin1'));
  return { ph, nc: stockNc, queued };
}

describe('publishFast', () => {
  const cases: [string, Uint8Array][] = [
    ['mecsim.abcdefgh.rep.mec-0.ue-17', new Uint8Array([0x97, 2, 0xce, 1, 2, 3, 4])],
    ['mecsim.abcdefgh.bc.ue', new Uint8Array(0)],
    ['a', new Uint8Array(9).fill(7)],
    ['a.b', new Uint8Array(10).fill(13)],
    ['x.y.z', new Uint8Array(12345).fill(10)],
  ];

  it('queues the same bytes as the client, and counts them as the client does', () => {
    for (const [subject, data] of cases) {
      const stock = handler();
      stock.ph.publish(subject, data);
      const fast = handler();
      publishFast(fast.nc, subject, data);
      publishFast(fast.nc, subject, data); // the second time from the kept subject bytes
      const want = stock.queued();
      expect(fast.queued(), subject).toBe(want + want);
      expect(fast.ph.outMsgs).toBe(2);
      expect(fast.ph.outBytes).toBe(2 * data.length);
    }
  });

  it('queues the same bytes from a head the caller keeps (publishHead) as from the per-process table', () => {
    for (const [subject, data] of cases) {
      const stock = handler();
      stock.ph.publish(subject, data);
      const fast = handler();
      const head = publishHead(subject);
      expect(head).toBeDefined();
      publishFast(fast.nc, subject, data, head);
      publishFast(fast.nc, subject, data, head);
      const want = stock.queued();
      expect(fast.queued(), subject).toBe(want + want);
      expect(fast.ph.outMsgs).toBe(2);
    }
    // a subject the client would refuse has no head: the publish is the client's, its error the client's
    expect(publishHead('a b')).toBeUndefined();
    const { ph } = handler();
    let stockCalls = 0;
    publishFast({ protocol: ph, publish: () => void stockCalls++ } as unknown as NatsConnection, 'a b', new Uint8Array(1), publishHead('a b'));
    expect(stockCalls).toBe(1);
  });

  it('keeps the order of the calls on the wire: a batch of fast frames goes out before what the client sends next', () => {
    const frames: [string, Uint8Array][] = Array.from({ length: 3000 }, (_, i) => [`r.${i % 7}`, new Uint8Array(40 + (i % 30)).fill(i & 0xff)]);
    const stock = handler();
    const fast = handler();
    frames.forEach(([subject, data], i) => {
      stock.ph.publish(subject, data);
      // every tenth through the client itself (a control message, a large payload), the rest fast: more than one batch's worth
      if (i % 10 === 0) fast.ph.publish(subject, data);
      else publishFast(fast.nc, subject, data);
    });
    publishFast(fast.nc, 'big', new Uint8Array(20_000).fill(1)); // a frame too large for the batch, after it
    stock.ph.publish('big', new Uint8Array(20_000).fill(1));
    expect(fast.queued()).toBe(stock.queued());
    expect(fast.ph.outMsgs).toBe(stock.ph.outMsgs);
  });

  it('hands a batch to the client at the end of the task that wrote it', async () => {
    const fast = handler();
    publishFast(fast.nc, 'a', new Uint8Array(3));
    expect(fast.ph.outbound.size()).toBe(0); // still in the batch
    await Promise.resolve();
    expect(fast.ph.outbound.size()).toBe('PUB a 3\r\n'.length + 3 + 2);
  });

  it('leaves what the client refuses to the client: a subject with a space, a payload over the limit, a closed connection', () => {
    const { ph, queued } = handler();
    let stockCalls = 0;
    const spy = { protocol: ph, publish: () => void stockCalls++ } as unknown as NatsConnection;
    publishFast(spy, 'a b', new Uint8Array(1));
    publishFast(spy, 'big', new Uint8Array((1 << 20) + 1));
    ph.noMorePublishing = true;
    publishFast(spy, 'a', new Uint8Array(1));
    expect(stockCalls).toBe(3);
    expect(queued()).toBe(''); // nothing of its own was queued
    expect(ph.outMsgs).toBe(0);
  });

  it('keeps nothing of the caller\'s bytes: the encoder\'s scratch can be reused at once, on the fast path and on the client\'s', () => {
    const bodies = [{ x: 1.5, u: -2.25 }, { x: 3, u: 4 }, { x: 0.1, u: 1e300 }];
    const stock = handler();
    for (const [i, b] of bodies.entries()) stock.ph.publish(`r.${i}`, encodeEnvelope('run-a', 0, i, `ue-${i}`, 'best', b));
    const fast = handler();
    for (const [i, b] of bodies.entries()) {
      const scratch = written(new ReplyEncoder('run-a', `ue-${i}`), 0, i, 'best', b);
      expect(scratch).toEqual(encodeEnvelope('run-a', 0, i, `ue-${i}`, 'best', b));
      publishFast(fast.nc, `r.${i}`, scratch);
    }
    expect(fast.queued()).toBe(stock.queued());
    // the client's path (here: a closed connection) gets a copy too
    let kept: Uint8Array | undefined;
    const closed = { protocol: { ...fast.ph, isClosed: () => true, sendCommand: () => undefined }, publish: (_s: string, d: Uint8Array) => void (kept = d) } as unknown as NatsConnection;
    const scratch = written(new ReplyEncoder('run-a', 'ue-9'), 0, 9, 'best', bodies[0]);
    const want = scratch.slice();
    publishFast(closed, 'r.9', scratch);
    written(new ReplyEncoder('run-a', 'ue-7'), 7, 7, 'other', { z: 'overwritten' });
    expect(kept).toEqual(want);
  });
});
