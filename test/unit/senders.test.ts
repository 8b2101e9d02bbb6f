/** The leader's lookup of a reply's sender from its subject's bytes. */
import { describe, expect, it } from 'vitest';
import { SenderTable } from '../../bus/senders.ts';

const te = new TextEncoder();
const find = (t: SenderTable, subject: string, prefix: number) => {
  const b = te.encode(subject);
  return t.find(b, prefix, b.length);
};

describe('SenderTable', () => {
  it('finds every roster id at its position, in a subject after the prefix, and nothing else', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `ue-${i}`).concat(['mec-0', 'x', 'ü-1']);
    const t = new SenderTable(ids);
    const prefix = 'mecsim.abcdefgh.rep.mec-0.';
    ids.forEach((id, i) => expect(find(t, prefix + id, prefix.length)).toBe(i));
    // near misses: a prefix or extension of an id, another case, an id not in the roster, nothing
    for (const other of ['ue-', 'ue-50000', 'ue-12a', 'UE-1', 'ue-5000', 'mec-1', 'xx', '', 'u-1']) expect(find(t, prefix + other, prefix.length)).toBe(-1);
  });

  it('an empty roster finds nothing; a repeated id keeps its first position', () => {
    expect(find(new SenderTable([]), 'ue-1', 0)).toBe(-1);
    expect(find(new SenderTable(['a', 'b', 'a']), 'a', 0)).toBe(0);
    // after 'b' the next position holds 'a' too: still the first one
    const dup = new SenderTable(['a', 'b', 'a', 'c']);
    expect([find(dup, 'b', 0), find(dup, 'a', 0), find(dup, 'c', 0), find(dup, 'a', 0)]).toEqual([1, 0, 3, 0]);
  });

  it('in any order (several workers’ replies interleaved, out of order, repeated), the same positions as in roster order', () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `ue-${i}`);
    const t = new SenderTable(ids);
    let x = 12345;
    const order: number[] = [];
    for (let k = 0; k < 20_000; k++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // mostly runs in order from four interleaved streams, sometimes a jump anywhere or a repeat
      const r = x % 10;
      order.push(r < 7 ? (k % 4) * 750 + ((k >> 2) % 750) : r < 9 ? x % 3000 : (order[order.length - 1] ?? 0));
    }
    for (const i of order) expect(find(t, ids[i], 0)).toBe(i);
    for (const other of ['ue-3000', 'ue-', 'ue-0 ']) expect(find(t, other, 0)).toBe(-1);
  });
});
