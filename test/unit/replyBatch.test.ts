/**
 * bus/replyBatch.ts: a host's replies on one subject go out as one message per task, each envelope's
 * bytes unchanged and in the order added; a batch that would pass its size limit is sent first.
 * (Over a connection without the client's internals, publishFast hands each message to
 * `nc.publish`, which is recorded here; test/integration runs the batches over a real server.)
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { valueEnd } from '../../bus/fastpack.ts';
import { encodeEnvelope } from '../../bus/codec.ts';
import { BATCH_BYTES, ReplyBatch, ReplyBatches } from '../../bus/replyBatch.ts';

function recorder() {
  const sent: { subject: string; data: Uint8Array }[] = [];
  const nc = { publish: (subject: string, data: Uint8Array) => void sent.push({ subject, data: data.slice() }) } as unknown as NatsConnection;
  return { nc, sent };
}
const tick = () => new Promise<void>((r) => setImmediate(r));
/** the envelopes of a message, cut as the leader cuts them */
function cut(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    const e = valueEnd(data, at, data.length);
    if (e < 0) throw new Error(`not a batch at ${at}`);
    out.push(data.subarray(at, e));
    at = e;
  }
  return out;
}

describe('ReplyBatch', () => {
  it('sends the envelopes added in one task as one message, unchanged and in order; the next task starts another', async () => {
    const { nc, sent } = recorder();
    const b = new ReplyBatch(nc, 'mecsim.r.rep.mec-0.ue.w1');
    const envs = Array.from({ length: 5 }, (_, i) => encodeEnvelope('run', 1, 2, `ue-${i}`, 're:price', { x: i / 3, u: -i }));
    for (const e of envs) b.add(e);
    expect(sent).toEqual([]); // not before the task ends
    await tick();
    expect(sent.length).toBe(1);
    expect(sent[0].subject).toBe('mecsim.r.rep.mec-0.ue.w1');
    expect(cut(sent[0].data)).toEqual(envs);
    b.add(envs[0]);
    await tick();
    expect(sent.length).toBe(2);
    expect(cut(sent[1].data)).toEqual([envs[0]]);
  });

  it('a scratch buffer reused after add does not change what is sent', async () => {
    const { nc, sent } = recorder();
    const b = new ReplyBatch(nc, 's');
    const scratch = encodeEnvelope('run', 1, 2, 'ue-0', 're:price', { x: 1 });
    const copy = scratch.slice();
    b.add(scratch);
    scratch.fill(0);
    await tick();
    expect(sent[0].data).toEqual(copy);
  });

  it('never passes its size limit (BATCH_BYTES, or the server’s max_payload if smaller) with more than one envelope', async () => {
    for (const maxPayload of [undefined, 1000]) {
      const { nc, sent } = recorder();
      const b = new ReplyBatch(nc, 's', { maxPayload });
      const limit = Math.min(BATCH_BYTES, maxPayload ?? BATCH_BYTES);
      const envs = Array.from({ length: 3000 }, (_, i) => encodeEnvelope('run', 1, 2, `ue-${i}`, 're:price', { x: i, pad: 'p'.repeat(i % 50) }));
      for (const e of envs) b.add(e);
      // one envelope larger than the limit goes alone
      const huge = encodeEnvelope('run', 1, 2, 'ue-x', 're:price', { pad: 'q'.repeat(limit + 10) });
      b.add(huge);
      await tick();
      expect(sent.length).toBeGreaterThan(1);
      for (const m of sent) expect(m.data.length <= limit || cut(m.data).length === 1).toBe(true);
      expect(sent.flatMap((m) => cut(m.data))).toEqual([...envs, huge]);
    }
  });

  it('a batch the client refuses at the end of the task (connection closed) is reported, not thrown; the next one starts empty', async () => {
    let refuse = true;
    const sent: Uint8Array[] = [];
    const nc = { publish: (_s: string, d: Uint8Array) => (refuse ? (() => { throw new Error('closed'); })() : void sent.push(d.slice())) } as unknown as NatsConnection;
    const lost: number[] = [];
    const b = new ReplyBatch(nc, 's', { lost: (_e, n) => void lost.push(n) });
    const env = encodeEnvelope('run', 1, 2, 'ue-0', 're:price', { x: 1 });
    b.add(env);
    b.add(env);
    await tick();
    expect(lost).toEqual([2]);
    refuse = false;
    b.add(env);
    await tick();
    expect(sent).toEqual([env]);
  });

  it('ReplyBatches keeps one batch per subject', () => {
    const { nc } = recorder();
    const bs = new ReplyBatches(nc);
    expect(bs.for('a')).toBe(bs.for('a'));
    expect(bs.for('a')).not.toBe(bs.for('b'));
  });
});
