/** The join's shared flush: one PING answers many agents, and never one sent before an agent asked. */
import { describe, expect, it } from 'vitest';
import { SharedFlush } from '../../agents/join.ts';

/** a connection whose flushes the test answers by hand */
function fakeNc() {
  const flushes: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  return { flushes, nc: { flush: () => new Promise<void>((resolve, reject) => flushes.push({ resolve, reject })) } };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('SharedFlush', () => {
  it('agents asking while a flush is out wait for the next one, which covers them all', async () => {
    const { flushes, nc } = fakeNc();
    const f = new SharedFlush(nc);
    const done: string[] = [];
    void f.after().then(() => done.push('a'));
    expect(flushes).toHaveLength(1);
    // b and c subscribed after the first PING went out: it proves nothing for them
    void f.after().then(() => done.push('b'));
    void f.after().then(() => done.push('c'));
    expect(flushes).toHaveLength(1);
    flushes[0].resolve();
    await tick();
    expect(done).toEqual(['a']);
    expect(flushes).toHaveLength(2); // one flush for both
    flushes[1].resolve();
    await tick();
    expect(done).toEqual(['a', 'b', 'c']);
    expect(flushes).toHaveLength(2);
  });

  it('a failed flush fails its waiters, and the next ones get a fresh flush', async () => {
    const { flushes, nc } = fakeNc();
    const f = new SharedFlush(nc);
    const a = f.after();
    const b = f.after();
    flushes[0].reject(new Error('closed'));
    await expect(a).rejects.toThrow('closed');
    flushes[1].resolve();
    await expect(b).resolves.toBeUndefined();
    const c = f.after();
    expect(flushes).toHaveLength(3);
    flushes[2].resolve();
    await expect(c).resolves.toBeUndefined();
  });

  it('a flush that throws at once rejects its waiters instead of throwing', async () => {
    const f = new SharedFlush({ flush: () => { throw new Error('closed'); } });
    await expect(f.after()).rejects.toThrow('closed');
  });
});
