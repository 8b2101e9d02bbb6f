import { encode as rawEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decode, encodeEnvelope, ENVELOPE_VERSION, readReply, ReplyEncoder, runTag, type ReplyHead } from '../../bus/codec.ts';
import { SenderTable } from '../../bus/senders.ts';
import { rawEnvelope, written } from '../helpers/wire.ts';
import { familyOf, runToken, subjects } from '../../bus/subjects.ts';
import { Counters, sumSnapshots } from '../../bus/counters.ts';

const RUN = 'r1';
const env = (o: Record<string, unknown>) => rawEnvelope({ v: ENVELOPE_VERSION, run: RUN, slot: 0, round: 1, from: 'ue-1', kind: 'price', body: { p: 1 }, ...o });

describe('envelope codec', () => {
  it('round-trips a valid envelope', () => {
    const d = decode(encodeEnvelope(RUN, 2, 3, 'mec-0', 'price', { p: 1.5, xs: [1, 2] }), RUN);
    expect(d.ok).toBe(true);
    if (d.ok) expect(d.env).toMatchObject({ v: ENVELOPE_VERSION, run: RUN, slot: 2, round: 3, from: 'mec-0', kind: 'price', body: { p: 1.5, xs: [1, 2] } });
  });
  it.each([
    ['random bytes', new Uint8Array([0xc1, 0xff, 0x00, 0x13]), 'malformed'],
    ['truncated msgpack', env({}).slice(0, 10), 'malformed'],
    ['not an array', rawEncode('price'), 'malformed'],
    ['an array of the wrong length', rawEncode([ENVELOPE_VERSION, runTag(RUN), 0, 1, 'price', 'ue-1']), 'malformed'],
    ['a version 1 map', rawEncode({ v: 1, run: RUN, slot: 0, round: 1, from: 'ue-1', kind: 'price', body: { p: 1 } }), 'version'],
    ['wrong version', env({ v: 1 }), 'version'],
    ['wrong run', env({ run: 'other' }), 'wrong-run'],
    ['run tag not an integer', env({ run: 1.5 }), 'wrong-type'],
    ['noreply not a boolean', env({ noreply: 1 }), 'wrong-type'],
    ['slot as string', env({ slot: '1' }), 'wrong-type'],
    ['negative round', env({ round: -1 }), 'wrong-type'],
    ['fractional slot', env({ slot: 1.5 }), 'wrong-type'],
    ['missing from', env({ from: undefined }), 'wrong-type'],
    ['huge from', env({ from: 'x'.repeat(1000) }), 'wrong-type'],
    ['body is an array', env({ body: [1] }), 'wrong-type'],
    ['body null', env({ body: null }), 'wrong-type'],
    ['NaN in body', env({ body: { p: NaN } }), 'non-finite'],
    ['Infinity deep in body', env({ body: { a: { b: [1, -Infinity] } } }), 'non-finite'],
    ['binary in body', env({ body: { b: new Uint8Array(3) } }), 'wrong-type'],
    ['deep nesting', env({ body: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }), 'too-deep'],
  ])('drops %s', (_name, data, reason) => {
    const d = decode(data as Uint8Array, RUN);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toBe(reason);
  });
  it('drops oversized messages before decoding them', () => {
    const d = decode(new Uint8Array(2000), RUN, 1000);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toBe('oversized');
  });
  it('never throws on arbitrary bytes', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 64);
      const buf = new Uint8Array(n).map(() => Math.floor(rnd() * 256));
      expect(() => decode(buf, RUN)).not.toThrow();
    }
  });
});

describe('subjects and counters', () => {
  it('scopes subjects by run and classifies families', () => {
    const s = subjects('run-7');
    expect(s.bcast('ue')).toBe(`mecsim.${runToken('run-7')}.bc.ue`);
    expect(familyOf(s.bcast('ue'))).toBe('bcast');
    expect(familyOf(s.reply('mec-0', 'ue', 'w1'))).toBe('reply');
    expect(s.reply('mec-0', 'ue', 'w1')).toBe(`mecsim.${runToken('run-7')}.rep.mec-0.ue.w1`);
    expect(familyOf(s.direct('ue-3'))).toBe('direct');
    expect(familyOf(s.join)).toBe('join');
    expect(() => subjects('bad.run')).toThrow(/run id/);
    expect(() => subjects('a*')).toThrow(/run id/);
  });

  it('a run’s subject token is 8 base32 characters, the same for the same run id, different across run ids', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `stackelberg-20261127-204843-s${i}-4g24`);
    const tokens = ids.map(runToken);
    for (const t of tokens) expect(t).toMatch(/^[a-z2-7]{8}$/);
    expect(new Set(tokens).size).toBe(ids.length);
    expect(ids.map(runToken)).toEqual(tokens);
    // SHA-256('run-7') begins b4c05df045, base32 'wtaf34cf' (computed with Python's hashlib): pinned,
    // so agents and orchestrators built from different checkouts agree on a run's subjects
    expect(runToken('run-7')).toBe('wtaf34cf');
  });
  it('counts per family and kind, and drops by reason', () => {
    const c = new Counters();
    c.sent('bcast', 'price', 10);
    c.sent('bcast', 'price', 12);
    c.received('reply', 5);
    c.drop('malformed', 's', 'ue-1', 'x');
    c.drop('malformed', 's', 'ue-1', 'x');
    const snap = c.snapshot();
    expect(snap.out.bcast).toEqual({ msgs: 2, bytes: 22 });
    expect(snap.outByKind.price.msgs).toBe(2);
    expect(snap.drops.malformed).toBe(2);
    expect(sumSnapshots([snap, snap]).out.bcast.msgs).toBe(4);
  });
});

describe('notifications', () => {
  it('carry noreply, and a mistyped noreply is dropped', () => {
    const d = decode(encodeEnvelope(RUN, 0, 1, 'broker', 'award', { w: [1] }, true), RUN);
    expect(d.ok && d.env.noreply).toBe(true);
    const plain = decode(encodeEnvelope(RUN, 0, 1, 'broker', 'fee', {}), RUN);
    expect(plain.ok && plain.env.noreply).toBeFalsy();
    const bad = decode(env({ noreply: 'yes' }), RUN);
    expect(bad.ok).toBe(false);
  });
});

describe('readReply (the leader’s reply path): the same result as decode, or decode’s to do', () => {
  // deterministic pseudo-random cases (no fast-check needed: a fixed LCG)
  let seed = 20261127;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T,>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const bodies = [{ x: 1.5, u: -2 }, {}, { p: 3, cap: true }, { xs: [1, 2, { a: null }] }, { s: 'héllo' }, { n: NaN }, { x: 1, i: -Infinity }, { xs: [1, NaN] }, { m: { n: Infinity } }, { deep: Array.from({ length: 20 }).reduce<unknown>((a) => [a], 1) }, { b: new Uint8Array([1]) }];
  const cases = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      const good = encodeEnvelope(pick([RUN, 'other']), pick([0, 5, 200, 70_000, 2 ** 32 - 1]), pick([0, 1, 300]), pick(['ue-1', 'ue-12', 'mec-0']), pick(['re:price', 'nil', 'state', 'error', 'r']), pick(bodies), rnd() < 0.3);
      out.push(good);
      const bad = good.slice();
      bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256); // one byte changed
      out.push(bad, good.slice(0, Math.floor(rnd() * good.length)), Uint8Array.from([...good, 0xc0]));
    }
    out.push(env({ from: 'ue-1', v: 1 }), env({ from: 'ue-1', slot: 1.5 }), env({ from: 'ue-1', kind: '' }), rawEncode([ENVELOPE_VERSION, runTag(RUN), 0, 1, 'price', 'ue-1', [1]]));
    return out;
  };
  // the roster readReply is given; 'ue-12' is not in it, 'üe-1' is (an id that is not ASCII)
  const ids = ['mec-0', 'ue-1', 'üe-1'];
  const senders = new SenderTable(ids);
  it('accepts only what decode accepts from a roster agent, and reads the same envelope and sender, inside a larger buffer too', () => {
    let read = 0;
    const h: ReplyHead = { slot: -1, round: -1, kind: '', body: {}, noreply: undefined, sender: -1, end: 0 };
    for (const data of [...cases(), encodeEnvelope(RUN, 1, 2, 'üe-1', 'r', { x: 1 })]) {
      const b = decode(data, RUN, 1 << 20);
      // inside a larger buffer, with bytes of another message around it: read only its own
      const framed = Uint8Array.from([0x97, 2, 0xce, ...data, 0x97, 2, 0xce, 1, 2, 3, 4, 5, 6]);
      const inside = readReply(framed, 3, 3 + data.length, RUN, 1 << 20, senders, h);
      // read as the first of a batch (the message goes on after it): finds where it ends
      const first = readReply(framed, 3, framed.length, RUN, 1 << 20, senders, h, true);
      const firstEnd = h.end;
      // what it read as the first of a batch is an envelope readReply accepts alone, the same one (a
      // truncated one may end in the bytes after it: they are the same message's, and read as such)
      if (first) {
        const { slot, round, kind, body, sender } = h;
        expect(readReply(framed, 3, firstEnd, RUN, 1 << 20, senders, h)).toBe(true);
        expect({ slot: h.slot, round: h.round, kind: h.kind, body: h.body, sender: h.sender }).toEqual({ slot, round, kind, body, sender });
      }
      if (!readReply(data, 0, data.length, RUN, 1 << 20, senders, h)) {
        expect(inside).toBe(false);
        // what it leaves is decode's: either dropped there, or from an agent readReply was not given, or of an unusual shape
        continue;
      }
      expect(inside).toBe(true);
      // a notification (8 fields) ends where its message does: never read as the first of a batch
      expect(first).toBe(data[0] === 0x97);
      if (first) expect(firstEnd).toBe(3 + data.length);
      read++;
      expect(b.ok).toBe(true);
      if (!b.ok) continue;
      expect(ids[h.sender]).toBe(b.env.from);
      expect({ slot: h.slot, round: h.round, kind: h.kind, body: h.body, noreply: h.noreply }).toEqual({ slot: b.env.slot, round: b.env.round, kind: b.env.kind, body: b.env.body, noreply: b.env.noreply });
    }
    expect(read).toBeGreaterThan(50); // the accepting path was exercised
  });
  it('never accepts a sender outside the roster, nor more than maxBytes', () => {
    const h: ReplyHead = { slot: -1, round: -1, kind: '', body: {}, noreply: undefined, sender: -1, end: 0 };
    expect(readReply(encodeEnvelope(RUN, 0, 1, 'ue-12', 'r', { p: 1 }), 0, 30, RUN, 1 << 20, senders, h)).toBe(false);
    const ok = encodeEnvelope(RUN, 0, 1, 'ue-1', 'r', { p: 1 });
    expect(readReply(ok, 0, ok.length, RUN, 1 << 20, senders, h)).toBe(true);
    expect(readReply(ok, 0, ok.length, RUN, 4, senders, h)).toBe(false);
    expect(readReply(ok, 0, ok.length, RUN, 4, senders, h, true)).toBe(false);
    expect(readReply(ok, 0, ok.length, RUN, ok.length, senders, h, true)).toBe(true);
    expect(readReply(ok, 0, ok.length, RUN, ok.length - 1, senders, h, true)).toBe(false);
    expect(decode(ok, RUN, 4)).toMatchObject({ ok: false, reason: 'oversized' });
  });
});

describe('ReplyEncoder (a follower’s replies): the bytes encodeEnvelope writes', () => {
  it('for any run, sender, kinds in turn, slot, round and body, the library’s path included', () => {
    // a run whose tag takes 2 bytes, not 4 (the tag's encoding is then shorter)
    let small = '';
    for (let i = 0; !small; i++) if (runTag(`r${i}`) < 0x10000) small = `r${i}`;
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
    const bodies: object[] = [{ x: 0.1, u: -3 }, {}, { p: 2 ** 40, s: 'héllo', xs: [1, null, true] }, { big: 2n ** 70n }, { b: new Uint8Array([1, 2]) }, { u: undefined, x: 1 }];
    let compared = 0;
    for (const run of ['run-a', small, 'ü-run']) {
      for (const from of ['ue-1', 'üe-7', 'x'.repeat(40)]) {
        const enc = new ReplyEncoder(run, from);
        for (let i = 0; i < 60; i++) {
          const kind = pick(['re:price', 're:price', 'nil', 'error', 'ß']);
          const slot = pick([0, 3, 200, 70_000, 2 ** 32 - 1]);
          const round = pick([0, 1, 127, 128, 65_536]);
          const body = pick(bodies);
          let want: Uint8Array | undefined;
          try {
            want = encodeEnvelope(run, slot, round, from, kind, body);
          } catch {
            expect(() => written(enc, slot, round, kind, body)).toThrow();
            continue;
          }
          expect(Uint8Array.from(written(enc, slot, round, kind, body))).toEqual(want);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(400);
  });
  it('write() leaves its bytes readable after a body that grew the scratch past its cap, and the next reply is right too', () => {
    const enc = new ReplyEncoder('run-a', 'ue-1');
    // about 1.6 MB of doubles, past the 1 MB the scratch keeps (in arrays of under 65,536 items, which the fast path writes)
    const big = { xs: [0, 1, 2].map((j) => Array.from({ length: 60_000 }, (_, i) => i + j + 0.5)) };
    const n = enc.write(0, 1, 're:price', big);
    // Buffer.equals: toEqual walks 1.6 MB element by element
    expect(Buffer.from(enc.bytes.buffer, enc.bytes.byteOffset, n).equals(encodeEnvelope('run-a', 0, 1, 'ue-1', 're:price', big))).toBe(true);
    const m = enc.write(0, 2, 're:price', { x: 1, u: 2 });
    expect(Uint8Array.from(enc.bytes.subarray(0, m))).toEqual(encodeEnvelope('run-a', 0, 2, 'ue-1', 're:price', { x: 1, u: 2 }));
  });
});
