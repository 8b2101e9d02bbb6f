import { describe, expect, it } from 'vitest';
import { LastReplies } from '../../agents/lastReply.ts';
import { encodeEnvelope, ReplyEncoder } from '../../bus/codec.ts';

const enc = new ReplyEncoder('run', 'ue-3');

describe('LastReplies', () => {
  it('gives the kept bytes back for the same request (slot, round, kind and request size), nothing for any other', () => {
    const last = new LastReplies();
    const r = last.add();
    expect(last.replyTo(r, 0, 1, 'price', 30, enc)).toBeUndefined();
    const scratch = Uint8Array.from({ length: 44 }, (_, i) => i);
    last.keep(r, 0, 1, 'price', 30, scratch); // a 30-byte request answered with 44 bytes
    scratch.fill(0); // the encoder reuses its scratch at once
    expect(last.replyTo(r, 0, 1, 'price', 30, enc)).toEqual(Uint8Array.from({ length: 44 }, (_, i) => i));
    expect(last.replyTo(r, 0, 1, 'price', 44, enc)).toBeUndefined(); // the reply's size is not the request's
    expect(last.replyTo(r, 0, 2, 'price', 30, enc)).toBeUndefined();
    expect(last.replyTo(r, 1, 1, 'price', 30, enc)).toBeUndefined();
    expect(last.replyTo(r, 0, 1, 'final', 30, enc)).toBeUndefined();
    last.forget(r);
    expect(last.replyTo(r, 0, 1, 'price', 30, enc)).toBeUndefined();
  });

  it('keeps a reply longer than its buffer, and a shorter one after it, exactly', () => {
    const last = new LastReplies();
    const r = last.add();
    const long = new Uint8Array(300).fill(7);
    last.keep(r, 2, 3, 'bid', 10, long);
    expect(last.replyTo(r, 2, 3, 'bid', 10, enc)).toEqual(long);
    last.keep(r, 2, 4, 'bid', 10, new Uint8Array([1, 2, 3]));
    expect(last.replyTo(r, 2, 4, 'bid', 10, enc)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("gives a reply kept as a row back as the agent's own envelope, its values as they were when kept", () => {
    const last = new LastReplies();
    const r = last.add();
    const keys = ['x', 'u'];
    const values = [0.25, -3];
    last.keepRow(r, 4, 7, 'price', 30, 're:price', keys, values);
    values[0] = 99; // the batch reuses its values at once
    expect(last.replyTo(r, 4, 7, 'price', 30, enc)).toEqual(encodeEnvelope('run', 4, 7, 'ue-3', 're:price', { x: 0.25, u: -3 }));
    expect(last.replyTo(r, 4, 8, 'price', 30, enc)).toBeUndefined();
    last.keep(r, 4, 8, 'price', 30, new Uint8Array([9]));
    expect(last.replyTo(r, 4, 8, 'price', 30, enc)).toEqual(new Uint8Array([9])); // bytes kept after a row: the bytes
  });

  it("keeps each follower's reply apart, through the table's growth, and as many values as a row may have", () => {
    const last = new LastReplies();
    const n = 300; // past the first capacities (64, 128, 256)
    const rows = Array.from({ length: n }, () => last.add());
    expect(rows).toEqual(Array.from({ length: n }, (_, i) => i));
    const keys = Array.from({ length: 15 }, (_, k) => `k${k}`);
    const valuesOf = (i: number) => keys.map((_, k) => i * 100 + k + 0.5);
    for (const i of rows) {
      if (i % 3 === 0) last.keep(i, 1, i, 'bid', i + 10, Uint8Array.of(i & 0xff, 1, 2));
      else last.keepRow(i, 1, i, 'price', i + 10, 're:price', i % 3 === 1 ? keys : ['x', 'u'], valuesOf(i));
      if (i === 70) last.add(); // growing while rows are kept (row 300 later, holding nothing)
    }
    for (const i of rows) {
      const again = last.replyTo(i, 1, i, i % 3 === 0 ? 'bid' : 'price', i + 10, enc);
      if (i % 3 === 0) expect(again).toEqual(Uint8Array.of(i & 0xff, 1, 2));
      else {
        const ks = i % 3 === 1 ? keys : ['x', 'u'];
        expect(again).toEqual(encodeEnvelope('run', 1, i, 'ue-3', 're:price', Object.fromEntries(ks.map((k, j) => [k, valuesOf(i)[j]]))));
      }
      expect(last.replyTo(i, 1, i + 1, 'price', i + 10, enc)).toBeUndefined();
    }
    expect(last.replyTo(n, 1, 0, 'price', 10, enc)).toBeUndefined();
    last.forget(5);
    expect(last.replyTo(5, 1, 5, 'price', 15, enc)).toBeUndefined();
    expect(last.replyTo(4, 1, 4, 'price', 14, enc)).toBeDefined();
  });
});
