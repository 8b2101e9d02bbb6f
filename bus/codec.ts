/**
 * The message envelope and its validation. Every message on a run's subjects is a msgpack map
 * `{v, run, slot, round, from, kind, body}`. Decoding never throws: it returns either the envelope
 * or the reason the message must be dropped.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';

export const ENVELOPE_VERSION = 1;
/** default largest accepted message, bytes (mechanism messages are far smaller) */
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_ID = 64;

export type Body = { [k: string]: unknown };

export interface Envelope<B = Body> {
  v: number;
  run: string;
  slot: number;
  round: number;
  from: string;
  kind: string;
  body: B;
  /** set on notifications: the receiver must not reply (not even `nil`) */
  noreply?: boolean;
}

export type DropReason = 'oversized' | 'malformed' | 'version' | 'wrong-type' | 'non-finite' | 'wrong-run' | 'too-deep';

export type Decoded<B = Body> = { ok: true; env: Envelope<B> } | { ok: false; reason: DropReason; detail: string; from?: string };

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ maxStrLength: 1 << 20, maxBinLength: 1 << 20, maxArrayLength: 1 << 22, maxMapLength: 1 << 16, maxExtLength: 0 });

export function encode(env: Envelope): Uint8Array {
  return encoder.encode(env);
}

export function encodeEnvelope(run: string, slot: number, round: number, from: string, kind: string, body: object, noreply = false): Uint8Array {
  return encoder.encode(noreply ? { v: ENVELOPE_VERSION, run, slot, round, from, kind, body, noreply: true } : { v: ENVELOPE_VERSION, run, slot, round, from, kind, body });
}

/** Decode and validate one message. `run` is the run this receiver belongs to. */
export function decode<B = Body>(data: Uint8Array, run: string, maxBytes = DEFAULT_MAX_BYTES): Decoded<B> {
  if (data.byteLength > maxBytes) return { ok: false, reason: 'oversized', detail: `${data.byteLength} bytes > ${maxBytes}` };
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: `not msgpack: ${e instanceof Error ? e.message.slice(0, 120) : 'decoder error'}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    return { ok: false, reason: 'malformed', detail: 'envelope is not a map' };
  }
  const m = raw as Record<string, unknown>;
  const from = typeof m.from === 'string' && m.from.length <= MAX_ID ? m.from : undefined;
  if (m.v !== ENVELOPE_VERSION) return bad<B>(from, 'version', `v=${show(m.v)}`);
  if (typeof m.run !== 'string') return bad<B>(from, 'wrong-type', 'run is not a string');
  if (m.run !== run) return bad<B>(from, 'wrong-run', `run ${m.run.slice(0, 64)}`);
  if (!isCount(m.slot)) return bad<B>(from, 'wrong-type', 'slot is not a non-negative integer');
  if (!isCount(m.round)) return bad<B>(from, 'wrong-type', 'round is not a non-negative integer');
  if (from === undefined) return bad<B>(from, 'wrong-type', 'from is not a short string');
  if (typeof m.kind !== 'string' || m.kind.length === 0 || m.kind.length > MAX_ID) return bad<B>(from, 'wrong-type', 'kind is not a short string');
  if (m.noreply !== undefined && typeof m.noreply !== 'boolean') return bad<B>(from, 'wrong-type', 'noreply is not a boolean');
  if (typeof m.body !== 'object' || m.body === null || Array.isArray(m.body) || m.body instanceof Uint8Array) return bad<B>(from, 'wrong-type', 'body is not a map');
  const check = checkValues(m.body, 0);
  if (check) return bad<B>(from, check === 'depth' ? 'too-deep' : check === 'binary' ? 'wrong-type' : 'non-finite', check === 'depth' ? 'body nested too deep' : check === 'binary' ? 'binary value in body' : 'NaN or Infinity in body');
  return { ok: true, env: m as unknown as Envelope<B> };
}

// module-level (not a closure per message: the hot path creates no functions)
function bad<B>(from: string | undefined, reason: DropReason, detail: string): Decoded<B> {
  return { ok: false, reason, detail, from };
}

/**
 * A short description of a decoded value for a drop's detail. Never String() a map or an array: a
 * hostile map with a `toString` key (e.g. `{toString: 1}`) makes String() throw.
 */
function show(x: unknown): string {
  if (x === null || typeof x !== 'object') return String(x).slice(0, 20);
  return Array.isArray(x) ? 'an array' : x instanceof Uint8Array ? 'binary' : 'a map';
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= Number.MAX_SAFE_INTEGER;
}

/** Walks a decoded value: every number must be finite, no binary blobs, bounded depth. */
function checkValues(x: unknown, depth: number): 'nonfinite' | 'depth' | 'binary' | undefined {
  if (depth > MAX_DEPTH) return 'depth';
  if (typeof x === 'number') return Number.isFinite(x) ? undefined : 'nonfinite';
  if (typeof x === 'bigint') return 'nonfinite';
  if (x === null || typeof x !== 'object') return undefined;
  if (x instanceof Uint8Array) return 'binary';
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const r = checkValues(x[i], depth + 1);
      if (r) return r;
    }
    return undefined;
  }
  for (const k in x as Record<string, unknown>) {
    const r = checkValues((x as Record<string, unknown>)[k], depth + 1);
    if (r) return r;
  }
  return undefined;
}

/** Type guards handlers use on bodies (the envelope check has already rejected non-finite numbers). */
export const is = {
  num: (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x),
  int: (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x),
  str: (x: unknown): x is string => typeof x === 'string',
  obj: (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x),
  numArray: (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isFinite(v)),
};
