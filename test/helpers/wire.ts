/**
 * Builds envelopes by hand for hostile tests: the wire array `[v, runTag, slot, round, kind, from,
 * body(, noreply)]` from named fields that may be of any type. A string `run` is written as its tag
 * (bus/codec.ts runTag), anything else as is; `noreply` is written only if the key is present; an
 * undefined field is written as nil.
 */
import { encode as rawEncode, type Encoder } from '@msgpack/msgpack';
import { runTag, type ReplyEncoder } from '../../bus/codec.ts';

export function wireFields(m: Record<string, unknown>): unknown[] {
  const a = [m.v, typeof m.run === 'string' ? runTag(m.run) : m.run, m.slot, m.round, m.kind, m.from, m.body];
  if ('noreply' in m) a.push(m.noreply);
  return a;
}

export function rawEnvelope(m: Record<string, unknown>, encoder?: Encoder): Uint8Array {
  return encoder ? encoder.encode(wireFields(m)) : rawEncode(wireFields(m));
}

/** What a ReplyEncoder's `write` wrote, as a view of its bytes (valid until the next encode) */
export function written(enc: ReplyEncoder, slot: number, round: number, kind: string, body: object): Uint8Array {
  const n = enc.write(slot, round, kind, body);
  return enc.bytes.subarray(0, n);
}
