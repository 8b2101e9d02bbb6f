import { describe, expect, it } from 'vitest';
import { LastReply } from '../../agents/lastReply.ts';

describe('LastReply', () => {
  it('gives the kept bytes back for the same request (slot, round, kind and request size), nothing for any other', () => {
    const last = new LastReply();
    expect(last.replyTo(0, 1, 'price', 30)).toBeUndefined();
    const scratch = Uint8Array.from({ length: 44 }, (_, i) => i);
    last.keep(0, 1, 'price', 30, scratch); // a 30-byte request answered with 44 bytes
    scratch.fill(0); // the encoder reuses its scratch at once
    expect(last.replyTo(0, 1, 'price', 30)).toEqual(Uint8Array.from({ length: 44 }, (_, i) => i));
    expect(last.replyTo(0, 1, 'price', 44)).toBeUndefined(); // the reply's size is not the request's
    expect(last.replyTo(0, 2, 'price', 30)).toBeUndefined();
    expect(last.replyTo(1, 1, 'price', 30)).toBeUndefined();
    expect(last.replyTo(0, 1, 'final', 30)).toBeUndefined();
    last.forget();
    expect(last.replyTo(0, 1, 'price', 30)).toBeUndefined();
  });

  it('keeps a reply longer than its buffer, and a shorter one after it, exactly', () => {
    const last = new LastReply();
    const long = new Uint8Array(300).fill(7);
    last.keep(2, 3, 'bid', 10, long);
    expect(last.replyTo(2, 3, 'bid', 10)).toEqual(long);
    last.keep(2, 4, 'bid', 10, new Uint8Array([1, 2, 3]));
    expect(last.replyTo(2, 4, 'bid', 10)).toEqual(new Uint8Array([1, 2, 3]));
  });
});
