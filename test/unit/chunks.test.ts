/** Chunking of messages larger than the server's max_payload: frames, reassembly, limits (property-based). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Chunker, FRAME_HEADER_BYTES, NATS_DEFAULT_MAX_PAYLOAD, Reassembler, isChunkFrame, parseFrame, serverMaxPayload, type ChunkDropReason, type ReassemblerLimits } from '../../bus/chunks.ts';
import { encodeEnvelope } from '../../bus/codec.ts';

type Drop = { reason: ChunkDropReason; sender: string; detail: string };

function harness(limits?: Partial<ReassemblerLimits>) {
  const drops: Drop[] = [];
  let t = 0;
  const r = new Reassembler((reason, sender, detail) => drops.push({ reason, sender, detail }), { maxBytes: 1 << 20, maxPartials: 8, expiryMs: 1000, maxMessageBytes: 1 << 20, ...limits }, () => t);
  return { r, drops, advance: (ms: number) => (t += ms) };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
const reasons = (drops: Drop[]) => drops.map((d) => d.reason);

describe('chunks: frames', () => {
  it('cuts a message into the fewest frames of at most the given size, pieces of equal size but the last', () => {
    const data = bytes(1000);
    const frames = new Chunker().split(data, 100 + FRAME_HEADER_BYTES);
    expect(frames.length).toBe(10);
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(100 + FRAME_HEADER_BYTES);
    const frames2 = new Chunker().split(data, 300 + FRAME_HEADER_BYTES);
    expect(frames2.map((f) => f.byteLength - FRAME_HEADER_BYTES)).toEqual([250, 250, 250, 250]);
  });

  it('a frame is never taken for an envelope, nor an envelope for a frame', () => {
    const env = encodeEnvelope('r', 1, 2, 'mec-0', 'slot-done', { x: 1 });
    expect(isChunkFrame(env)).toBe(false);
    expect(isChunkFrame(new Chunker().split(env, 64)[0])).toBe(true);
    expect(parseFrame(env)).toMatchObject({ ok: false });
  });

  it('refuses a frame size with no room for data, and reads the server max_payload from INFO', () => {
    expect(() => new Chunker().split(bytes(10), FRAME_HEADER_BYTES)).toThrow(/no room/);
    expect(serverMaxPayload({ info: { max_payload: 1048576 } })).toBe(1048576);
    expect(serverMaxPayload({ info: { max_payload: 8 * 1048576 } })).toBe(8 * 1048576);
    expect(serverMaxPayload({})).toBe(NATS_DEFAULT_MAX_PAYLOAD);
    expect(serverMaxPayload({ info: {} })).toBe(NATS_DEFAULT_MAX_PAYLOAD);
    expect(Chunker.needed(bytes(11), 10)).toBe(true);
    expect(Chunker.needed(bytes(10), 10)).toBe(false);
    const small = bytes(10);
    expect(new Chunker().frames(small, 10)).toEqual([small]);
    const parts = new Chunker().frames(bytes(100), 60);
    expect(parts.length).toBe(3);
    expect(parts.every(isChunkFrame)).toBe(true);
  });

  it('an empty message is one empty piece', () => {
    const { r } = harness();
    const frames = new Chunker().split(new Uint8Array(0), 64);
    expect(frames.length).toBe(1);
    expect(r.add('leader', frames[0])).toEqual(new Uint8Array(0));
  });
});

describe('chunks: reassembly (property-based)', () => {
  /** a delivery of n frames: every frame at least once, the `dups` again (mod n), shuffled by `seed` */
  function delivery(n: number, dups: number[], seed: number): number[] {
    const order = [...Array.from({ length: n }, (_, i) => i), ...dups.map((d) => d % n)];
    let s = seed | 1;
    for (let i = order.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  it('any message, cut at any size, delivered with duplicates in any order, comes back whole exactly once', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: FRAME_HEADER_BYTES + 1, max: 700 }), fc.nat(), fc.array(fc.nat(), { maxLength: 20 }), fc.nat(), (data, max, id, dups, seed) => {
        const frames = new Chunker(id).split(data, max);
        for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(max);
        expect(frames.length).toBe(Math.max(1, Math.ceil(data.byteLength / (max - FRAME_HEADER_BYTES))));
        const order = delivery(frames.length, dups, seed);
        const { r, drops } = harness();
        const out: Uint8Array[] = [];
        for (const i of order) {
          const m = r.add('leader', frames[i]);
          if (m) out.push(m);
        }
        expect(out).toEqual([data]);
        expect(reasons(drops)).toEqual(order.slice(frames.length).map(() => 'chunk-duplicate'));
        expect(r.heldBytes).toBe(0);
        expect(r.partialCount).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('messages from several senders, interleaved, each come back whole', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('leader', 'w1', 'w2'), fc.uint8Array({ minLength: 1, maxLength: 500 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: FRAME_HEADER_BYTES + 1, max: 200 }), fc.nat(), (msgs, max, seed) => {
        const chunkers = new Map<string, Chunker>();
        const frames: { sender: string; frame: Uint8Array; msg: number }[] = [];
        msgs.forEach(([sender, data], msg) => {
          const c = chunkers.get(sender) ?? chunkers.set(sender, new Chunker()).get(sender)!;
          for (const frame of c.split(data, max)) frames.push({ sender, frame, msg });
        });
        let s = seed | 1;
        for (let i = frames.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [frames[i], frames[j]] = [frames[j], frames[i]];
        }
        const { r, drops } = harness({ maxPartials: 16, maxBytes: 1 << 20 });
        const got: { sender: string; data: Uint8Array }[] = [];
        for (const f of frames) {
          const m = r.add(f.sender, f.frame);
          if (m) got.push({ sender: f.sender, data: m });
        }
        expect(drops).toEqual([]);
        const key = (x: { sender: string; data: Uint8Array }) => `${x.sender}:${Buffer.from(x.data).toString('hex')}`;
        expect(got.map(key).sort()).toEqual(msgs.map(([sender, data]) => key({ sender, data })).sort());
      }),
      { numRuns: 200 },
    );
  });

  it('a corrupted or truncated frame never yields a wrong message: it is dropped with a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1000 }), fc.integer({ min: FRAME_HEADER_BYTES + 1, max: 300 }), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (data, max, which, at, xor) => {
        const frames = new Chunker().split(data, max);
        const k = which % frames.length;
        const bad = frames[k].slice();
        const pos = at % bad.byteLength;
        bad[pos] ^= xor;
        const { r, drops } = harness();
        const out: Uint8Array[] = [];
        frames.forEach((f, i) => {
          const m = r.add('leader', i === k ? bad : f);
          if (m) out.push(m);
        });
        // whatever the byte hit, the message is either not delivered or delivered intact (a changed id makes a second, incomplete message)
        for (const m of out) expect(m).toEqual(data);
        if (out.length === 0) expect(drops.length + r.partialCount).toBeGreaterThan(0);
        for (const d of drops) expect(['chunk-malformed', 'chunk-inconsistent', 'chunk-checksum', 'chunk-too-large', 'chunk-duplicate']).toContain(d.reason);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    const { r } = harness();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (b, magic) => {
        if (magic && b.length) (b[0] = 0xc1), b.length > 1 && (b[1] = 1);
        expect(() => r.add('x', b)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
    expect(r.heldBytes).toBeLessThanOrEqual(1 << 20);
  });
});

describe('chunks: reassembler limits and refusals', () => {
  const frame = (data: Uint8Array, max: number, id = 0) => new Chunker(id).split(data, max);

  it('rejects pieces that disagree with earlier ones, and two different copies of one piece', () => {
    const { r, drops } = harness();
    const a = frame(bytes(100, 1), 50, 7);
    const b = frame(bytes(120, 2), 50, 7); // same id, another message
    expect(r.add('leader', a[0])).toBeUndefined();
    expect(r.add('leader', b[1])).toBeUndefined();
    expect(reasons(drops)).toEqual(['chunk-inconsistent']);
    expect(r.partialCount).toBe(0);
    const c = frame(bytes(100, 3), 50, 8);
    const c0 = c[0].slice(); // the same header, other bytes
    c0[c0.length - 1] ^= 1;
    r.add('leader', c[0]);
    r.add('leader', c0);
    expect(reasons(drops)).toEqual(['chunk-inconsistent', 'chunk-inconsistent']);
    expect(drops[1].detail).toMatch(/two different copies/);
  });

  it('the same message id from two senders is two messages', () => {
    const { r } = harness();
    const a = frame(bytes(100, 1), 72, 3);
    const b = frame(bytes(100, 2), 72, 3);
    expect(r.add('leader', a[0])).toBeUndefined();
    expect(r.add('w1', b[0])).toBeUndefined();
    expect(r.add('w1', b[1])).toEqual(bytes(100, 2));
    expect(r.add('leader', a[1])).toEqual(bytes(100, 1));
  });

  it('a late duplicate of a completed message is a duplicate, not a new partial', () => {
    const { r, drops } = harness();
    const a = frame(bytes(100), 72);
    r.add('leader', a[0]);
    expect(r.add('leader', a[1])).toEqual(bytes(100));
    expect(r.add('leader', a[0])).toBeUndefined();
    expect(reasons(drops)).toEqual(['chunk-duplicate']);
    expect(r.partialCount).toBe(0);
  });

  it('a wrong checksum drops the message', () => {
    const { r, drops } = harness();
    const a = frame(bytes(100), 72);
    const bad = a[1].slice();
    bad[bad.length - 1] ^= 1;
    r.add('leader', a[0]);
    expect(r.add('leader', bad)).toBeUndefined();
    expect(reasons(drops)).toEqual(['chunk-checksum']);
  });

  it('refuses a message larger than allowed before holding any of it', () => {
    const { r, drops } = harness({ maxMessageBytes: 1000 });
    expect(r.add('leader', frame(bytes(1001), 200)[0])).toBeUndefined();
    expect(reasons(drops)).toEqual(['chunk-too-large']);
    expect(r.heldBytes).toBe(0);
  });

  it('bounds partial messages by count and bytes, evicting the least recently fed', () => {
    const { r, drops, advance } = harness({ maxPartials: 3, maxBytes: 1000 });
    const msgs = [0, 1, 2, 3].map((i) => frame(bytes(300, i), 200, i));
    for (const m of msgs.slice(0, 3)) (r.add('leader', m[0]), advance(1));
    expect(r.partialCount).toBe(3);
    expect(r.heldBytes).toBe(900);
    r.add('leader', msgs[0][1]); // message 0 complete; 1 and 2 partial
    expect(r.heldBytes).toBe(600);
    const big = frame(bytes(600, 9), 400, 9);
    r.add('leader', big[0]); // 600 + 600 > 1000: message 1 (the oldest) is evicted
    expect(reasons(drops)).toEqual(['chunk-evicted']);
    expect(drops[0].detail).toMatch(/message 1:/);
    expect(r.heldBytes).toBe(900);
    r.add('leader', msgs[3][0]);
    r.add('leader', frame(bytes(10), 30, 20)[0]); // four partials at most three: evictions
    expect(r.partialCount).toBeLessThanOrEqual(3);
    expect(r.heldBytes).toBeLessThanOrEqual(1000);
  });

  it('gives up a partial message after the expiry, and clear() forgets a sender', () => {
    const { r, drops, advance } = harness({ expiryMs: 1000 });
    const a = frame(bytes(100), 72, 1);
    r.add('leader', a[0]);
    advance(1001);
    r.expire();
    expect(reasons(drops)).toEqual(['chunk-expired']);
    expect(r.partialCount).toBe(0);
    expect(r.add('leader', a[1])).toBeUndefined(); // the rest alone is a new partial
    r.add('w1', frame(bytes(100), 72, 1)[0]);
    r.clear('leader');
    expect(r.partialCount).toBe(1);
    r.clear();
    expect(r.heldBytes).toBe(0);
  });

  it('clear(sender) forgets its completed ids too: a restarted sender that counts from the same id is heard, a late copy from another sender is still a duplicate', () => {
    const { r, drops } = harness();
    const first = frame(bytes(100, 1), 72, 5);
    const other = frame(bytes(100, 2), 72, 5);
    expect(r.add('leader', first[0])).toBeUndefined();
    expect(r.add('leader', first[1])).toEqual(bytes(100, 1));
    expect(r.add('w1', other[0])).toBeUndefined();
    expect(r.add('w1', other[1])).toEqual(bytes(100, 2));
    r.clear('leader');
    const again = frame(bytes(100, 3), 72, 5); // the restarted leader's first message, with the same id
    expect(r.add('leader', again[0])).toBeUndefined();
    expect(r.add('leader', again[1])).toEqual(bytes(100, 3));
    expect(drops).toEqual([]);
    r.add('w1', other[1]);
    expect(reasons(drops)).toEqual(['chunk-duplicate']);
    r.clear();
    expect(r.add('w1', other[0])).toBeUndefined();
    expect(r.add('w1', other[1])).toEqual(bytes(100, 2));
    expect(reasons(drops)).toEqual(['chunk-duplicate']);
  });

  it('malformed frames: short, wrong version, index beyond count, piece of the wrong length', () => {
    const { r, drops } = harness();
    const f = frame(bytes(100), 72)[0];
    r.add('x', f.subarray(0, 10));
    const v = f.slice();
    v[1] = 9;
    r.add('x', v);
    const idx = f.slice();
    new DataView(idx.buffer).setUint32(6, 5);
    r.add('x', idx);
    r.add('x', f.subarray(0, f.length - 1));
    expect(reasons(drops)).toEqual(['chunk-malformed', 'chunk-malformed', 'chunk-malformed', 'chunk-malformed']);
    expect(r.partialCount).toBe(0);
  });
});
