import { describe, expect, it } from 'vitest';
import { LastReply } from '../../agents/lastReply.ts';
import { encodeEnvelope, ReplyEncoder } from '../../bus/codec.ts';

const enc = new ReplyEncoder('run', 'ue-3');

describe('LastReply', () => {
  it('gives the kept bytes back for the same request (slot, round, kind and request size), nothing for any other', () => {
    const last = new LastReply();
    expect(last.replyTo(0, 1, 'price', 30, enc)).toBeUndefined();
    const scratch = Uint8Array.from({ length: 44 }, (_, i) => i);
    last.keep(0, 1, 'price', 30, scratch); // a 30-byte request answered with 44 bytes
    scratch.fill(0); // the encoder reuses its scratch at once
    expect(last.replyTo(0, 1, 'price', 30, enc)).toEqual(Uint8Array.from({ length: 44 }, (_, i) => i));
    expect(last.replyTo(0, 1, 'price', 44, enc)).toBeUndefined(); // the reply's size is not the request's
    expect(last.replyTo(0, 2, 'price', 30, enc)).toBeUndefined();
    expect(last.replyTo(1, 1, 'price', 30, enc)).toBeUndefined();
    expect(last.replyTo(0, 1, 'final', 30, enc)).toBeUndefined();
    last.forget();
    expect(last.replyTo(0, 1, 'price', 30, enc)).toBeUndefined();
  });

  it('keeps a reply longer than its buffer, and a shorter one after it, exactly', () => {
    const last = new LastReply();
    const long = new Uint8Array(300).fill(7);
    last.keep(2, 3, 'bid', 10, long);
    expect(last.replyTo(2, 3, 'bid', 10, enc)).toEqual(long);
    last.keep(2, 4, 'bid', 10, new Uint8Array([1, 2, 3]));
    expect(last.replyTo(2, 4, 'bid', 10, enc)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('gives a reply kept as a row back as the agent\'s own envelope, its values as they were when kept', () => {
    const last = new LastReply();
    const keys = ['x', 'u'];
    const values = [0.25, -3];
    last.keepRow(4, 7, 'price', 30, 're:price', keys, values);
    values[0] = 99; // the batch reuses its values at once
    expect(last.replyTo(4, 7, 'price', 30, enc)).toEqual(encodeEnvelope('run', 4, 7, 'ue-3', 're:price', { x: 0.25, u: -3 }));
    expect(last.replyTo(4, 8, 'price', 30, enc)).toBeUndefined();
    last.keep(4, 8, 'price', 30, new Uint8Array([9]));
    expect(last.replyTo(4, 8, 'price', 30, enc)).toEqual(new Uint8Array([9])); // bytes kept after a row: the bytes
  });
});
