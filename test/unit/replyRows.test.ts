/**
 * bus/replyRows.ts: a host's replies as rows. What a host writes (ReplyBatch.addRow) the leader reads
 * back as exactly the replies the agents' own envelopes would have carried; the fast reader takes
 * nothing the full decode (decode, then rowsOf) would not take to the same rows, at any cut or
 * mutation of the bytes.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encodeEnvelope, ReplyEncoder } from '../../bus/codec.ts';
import { Counters } from '../../bus/counters.ts';
import { valueEnd } from '../../bus/fastpack.ts';
import { ReplyBatch, type RowSender } from '../../bus/replyBatch.ts';
import { emptyRows, rowBody, rowsOf, RowsReader, ROWS_KIND, type Rows } from '../../bus/replyRows.ts';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261203) });

const RUN = 'stackelberg-20261203-000000-s1-rows';
const HOST = 'w1';
const te = new TextEncoder();
const hostBytes = te.encode(HOST);

function recorder(maxPayload = 1 << 20) {
  const sent: Uint8Array[] = [];
  const nc = { publish: (_s: string, data: Uint8Array) => void sent.push(data.slice()), info: { max_payload: maxPayload } } as unknown as NatsConnection;
  return { nc, sent };
}
const tick = () => new Promise<void>((r) => setImmediate(r));
const sender = (position: number): RowSender => ({ position, encoder: new ReplyEncoder(RUN, `ue-${position}`) });

/** A message cut into its envelopes, each read as the leader reads it: [position, slot, round, kind, body] per reply. */
function readBack(data: Uint8Array): [number, number, number, string, Record<string, unknown>][] {
  const out: [number, number, number, string, Record<string, unknown>][] = [];
  const reader = new RowsReader();
  const rows = emptyRows();
  for (let at = 0; at < data.length; ) {
    const end = valueEnd(data, at, data.length);
    expect(end).toBeGreaterThan(at);
    const d = decode(data.subarray(at, end), RUN);
    if (!d.ok) throw new Error(d.detail);
    if (d.env.kind === ROWS_KIND) {
      expect(reader.read(data, at, data.length, RUN, 1 << 22, hostBytes, 0, hostBytes.length, rows)).toBe(true);
      expect(rows.end).toBe(end);
      for (let r = 0; r < rows.count; r++) out.push([rows.at[r], rows.slot, rows.round, rows.kind, rowBody(rows, r)]);
    } else out.push([Number(d.env.from.slice(3)), d.env.slot, d.env.round, d.env.kind, d.env.body]);
    at = end;
  }
  return out;
}

const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.integer({ min: -40, max: 300 }), fc.constantFrom(0, -0, 2 ** 32, -(2 ** 31) - 1, 1e300));
const keyName = fc.constantFrom('x', 'u', 'theta', 'k', 'bid', 'a_long_key_name');

describe('rows: what a host writes is what the leader reads', () => {
  it('every reply comes back as its own envelope would have decoded, whatever mix of kinds, rounds and keys', async () => {
    const reply = fc.record({ position: fc.nat({ max: 70_000 }), round: fc.nat({ max: 3 }), kind: fc.constantFrom('re:price', 're:final', 'nil'), body: fc.dictionary(keyName, num, { maxKeys: 4 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(reply, { minLength: 1, maxLength: 60 }), async (replies) => {
        const { nc, sent } = recorder();
        const counters = new Counters();
        const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host: HOST }, counters });
        for (const r of replies) expect(b.addRow(sender(r.position), 2, r.round, r.kind, r.body)).toBe(true);
        await tick();
        const got = sent.flatMap(readBack);
        const want = replies.map((r) => {
          const d = decode(encodeEnvelope(RUN, 2, r.round, `ue-${r.position}`, r.kind, r.body), RUN);
          if (!d.ok) throw new Error(d.detail);
          return [r.position, 2, r.round, r.kind, d.env.body];
        });
        expect(got).toEqual(want);
        expect(counters.out.reply.msgs).toBe(replies.length);
        expect(counters.out.reply.bytes).toBe(sent.reduce((s, m) => s + m.length, 0));
        expect(counters.coalesced).toBe(replies.length - sent.length);
      }),
      { numRuns: 300 },
    );
  });

  it('hundreds of rows of up to MAX_ROW_KEYS keys, past the batch’s first room for rows, come back as they went', async () => {
    const wide = fc.dictionary(fc.constantFrom(...Array.from({ length: 20 }, (_, i) => `k${i}`)), num, { maxKeys: 15 });
    // long runs of one shape (rows of one request and keys), then another
    const run = fc.tuple(fc.integer({ min: 1, max: 300 }), wide, fc.nat({ max: 1 }));
    await fc.assert(
      fc.asyncProperty(fc.array(run, { minLength: 1, maxLength: 4 }), async (runs) => {
        const { nc, sent } = recorder();
        const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host: HOST } });
        const want: [number, number, number, string, Record<string, unknown>][] = [];
        let position = 0;
        for (const [count, body, round] of runs)
          for (let i = 0; i < count; i++, position++) {
            const values = Object.fromEntries(Object.entries(body).map(([k, v], j) => [k, j === 0 ? v + i : v]));
            expect(b.addRow(sender(position), 2, round, 're:bid', values)).toBe(true);
            const d = decode(encodeEnvelope(RUN, 2, round, `ue-${position}`, 're:bid', values), RUN);
            if (!d.ok) throw new Error(d.detail);
            want.push([position, 2, round, 're:bid', d.env.body]);
          }
        await tick();
        expect(sent.flatMap(readBack)).toEqual(want);
      }),
      { numRuns: 40 },
    );
  });

  it('a row alone goes as its agent’s own envelope, byte for byte', async () => {
    const { nc, sent } = recorder();
    const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host: HOST } });
    expect(b.addRow(sender(7), 0, 4, 're:price', { x: 1.5, u: -2 })).toBe(true);
    await tick();
    expect(sent).toEqual([encodeEnvelope(RUN, 0, 4, 'ue-7', 're:price', { x: 1.5, u: -2 })]);
  });

  it('replies rows cannot carry are refused (the caller sends their envelopes)', () => {
    const { nc } = recorder();
    const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host: HOST } });
    class Reply {
      x = 1;
    }
    const wide = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]));
    for (const body of [{ x: 'a' }, { x: [1] }, { x: { y: 1 } }, { x: undefined }, { x: null }, { x: true }, new Reply(), wide, { ['k'.repeat(32)]: 1 }, JSON.parse('{"__proto__": 1}'), { 'é': 1 }]) expect(b.addRow(sender(1), 0, 1, 're:price', body), JSON.stringify(body)).toBe(false);
    expect(b.addRow(sender(1), 0, 1, 're:é', { x: 1 })).toBe(false);
    // a class whose `__proto__` says Object.prototype is still no plain map
    class Disguised {
      x = 1;
      get __proto__(): object {
        return Object.prototype;
      }
    }
    expect(b.addRow(sender(1), 0, 1, 're:price', new Disguised())).toBe(false);
    // nor is a map of Object.prototype whose own (non-enumerable) `__proto__` getter says otherwise
    expect(b.addRow(sender(1), 0, 1, 're:price', Object.defineProperty({ x: 1 }, '__proto__', { get: () => null }))).toBe(false);
    // plain maps are rows, of Object.prototype or of no prototype
    expect(b.addRow(sender(1), 0, 1, 're:price', { x: 1 })).toBe(true);
    expect(b.addRow(sender(2), 0, 1, 're:price', Object.assign(Object.create(null), { x: 2 }))).toBe(true);
    expect(b.addRow({ position: -1, encoder: new ReplyEncoder(RUN, 'ue-1') }, 0, 1, 're:price', { x: 1 })).toBe(false);
    expect(new ReplyBatch(nc, 'rep').addRow(sender(1), 0, 1, 're:price', { x: 1 })).toBe(false); // a batch not told its host makes no rows
  });

  it('never passes its size limit with more than one envelope, rows and envelopes mixed', async () => {
    for (const maxPayload of [1 << 20, 2000, 600]) {
      const { nc, sent } = recorder(maxPayload);
      const b = new ReplyBatch(nc, 'rep', { rows: { run: RUN, host: HOST } });
      const limit = Math.min(16 * 1024, maxPayload);
      for (let i = 0; i < 3000; i++) {
        if (i % 97 === 0) b.add(encodeEnvelope(RUN, 0, 1, `ue-${i}`, 'error', { message: 'x'.repeat(i % 300) }));
        else b.addRow(sender(i), 0, 1, 're:price', { x: i / 7, u: -i, theta: 1 / (i + 1) });
      }
      await tick();
      expect(sent.length).toBeGreaterThan(1);
      for (const m of sent) expect(m.length).toBeLessThanOrEqual(limit);
      expect(sent.flatMap(readBack).length).toBe(3000);
    }
  });
});

describe('rows: the fast reader against the full decode', () => {
  const rowsArb = fc.record({
    slot: fc.nat({ max: 70_000 }),
    round: fc.nat({ max: 300 }),
    kind: fc.constantFrom('re:price', 're:final', 'nil', 'state'),
    width: fc.nat({ max: 3 }),
    positions: fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 20 }),
    values: fc.array(num, { minLength: 60, maxLength: 60 }),
  });
  const build = (r: { slot: number; round: number; kind: string; width: number; positions: number[]; values: number[] }) => {
    const keys = ['x', 'u', 'theta'].slice(0, r.width);
    const cols = keys.map((_, k) => r.positions.map((_, i) => r.values[(i * 3 + k) % 60]));
    return encodeEnvelope(RUN, r.slot, r.round, HOST, ROWS_KIND, { kind: r.kind, at: r.positions, keys, cols });
  };
  const fullRead = (data: Uint8Array): Rows | undefined => {
    const d = decode(data, RUN);
    if (!d.ok || d.env.kind !== ROWS_KIND || d.env.from !== HOST) return undefined;
    const out = emptyRows();
    return rowsOf(d.env, out) === undefined ? out : undefined;
  };
  const fastRead = (data: Uint8Array): Rows | undefined => {
    const out = emptyRows();
    return new RowsReader().read(data, 0, data.length, RUN, 1 << 22, hostBytes, 0, hostBytes.length, out) && out.end === data.length ? out : undefined;
  };
  const same = (a: Rows, b: Rows) => {
    expect([a.slot, a.round, a.kind, a.count, Array.from(a.at).slice(0, a.count), a.keys]).toEqual([b.slot, b.round, b.kind, b.count, Array.from(b.at).slice(0, b.count), b.keys]);
    for (let r = 0; r < a.count; r++) expect(rowBody(a, r)).toEqual(rowBody(b, r));
  };

  it('reads what the hosts write, as the full decode does', () => {
    fc.assert(
      fc.property(rowsArb, (r) => {
        const data = build(r);
        const fast = fastRead(data);
        const full = fullRead(data);
        expect(fast).toBeDefined();
        expect(full).toBeDefined();
        same(fast!, full!);
      }),
      { numRuns: 500 },
    );
  });

  it('at every cut and every one-byte change, takes nothing the full decode would not, and reads it the same', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(), fc.nat({ max: 255 }), (r, where, byte) => {
        const data = build({ ...r, positions: r.positions.slice(0, 4) });
        for (let cut = 0; cut < data.length; cut++) expect(fastRead(data.subarray(0, cut))).toBeUndefined();
        const changed = data.slice();
        changed[where % data.length] = byte;
        const fast = fastRead(changed);
        if (fast) {
          const full = fullRead(changed);
          expect(full).toBeDefined();
          same(fast, full!);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses rows from another host, for another run, and malformed bodies', () => {
    const good = { kind: 're:price', at: [0, 1], keys: ['x'], cols: [[1, 2]] };
    expect(fastRead(encodeEnvelope(RUN, 0, 1, HOST, ROWS_KIND, good))).toBeDefined();
    expect(fastRead(encodeEnvelope(RUN, 0, 1, 'w2', ROWS_KIND, good))).toBeUndefined();
    expect(fastRead(encodeEnvelope(`${RUN}x`, 0, 1, HOST, ROWS_KIND, good))).toBeUndefined();
    const out = emptyRows();
    const bad = (body: object) => {
      const d = decode(encodeEnvelope(RUN, 0, 1, HOST, ROWS_KIND, body), RUN);
      return d.ok ? rowsOf(d.env, out) : d.reason;
    };
    expect(bad(good)).toBeUndefined();
    expect(bad({ ...good, cols: [[1]] })).toMatch(/one value per row/);
    expect(bad({ ...good, cols: [[1, 'a']] })).toMatch(/finite numbers/);
    expect(bad({ ...good, at: [0, 1.5] })).toMatch(/roster positions/);
    expect(bad({ ...good, at: [] })).toMatch(/non-empty/);
    expect(bad({ ...good, keys: ['x', 'x'], cols: [[1, 2], [1, 2]] })).toMatch(/repeats/);
    expect(bad({ ...good, keys: ['__proto__'] })).toMatch(/key/);
    expect(bad({ at: good.at, kind: good.kind, keys: good.keys, cols: good.cols })).toMatch(/in that order/);
    expect(bad({ ...good, cols: [[1, NaN]] })).toBe('non-finite');
  });
});
