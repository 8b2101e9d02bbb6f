/**
 * The message envelope and its validation. Every message on a run's subjects is a msgpack array
 * `[v, runTag, slot, round, kind, from, body]`, or `[…, body, true]` for a notification (the receiver
 * must not reply). `runTag` is a 32-bit hash of the run id: the run id itself is already in every
 * subject (`mecsim.<r>.…`, r derived from the run id), so the envelope only carries enough of it to drop a message meant for
 * another run. An array, not a map: no key strings on the wire or in the decoder, and a message is
 * about half the size. Decoding never throws: it returns either the envelope or the reason the
 * message must be dropped.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { GAVE_UP, packArray, packEnvelope, packEnvelopeWith, scratch, unpack, unpackAt, unpackPrefix, unpackedEnd, unpackedFlat } from './fastpack.ts';
import type { SenderTable } from './senders.ts';

export const ENVELOPE_VERSION = 2;
/** default largest accepted message, bytes (mechanism messages are far smaller) */
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_ID = 64;

export type Body = { [k: string]: unknown };

/** A decoded envelope. `run` is the receiver's run (the wire carries only its tag, see runTag). */
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

/** positions in the wire array */
const V = 0, TAG = 1, SLOT = 2, ROUND = 3, KIND = 4, FROM = 5, BODY = 6, NOREPLY = 7;

let lastRun = '';
let lastTag = 0;
/** The run's tag on the wire: FNV-1a (32 bits) of the run id. */
export function runTag(run: string): number {
  if (run === lastRun) return lastTag;
  let h = 0x811c9dc5;
  for (let i = 0; i < run.length; i++) {
    h ^= run.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  lastRun = run;
  lastTag = h >>> 0;
  return lastTag;
}

/** Encodes an envelope (its `run` is written as the run's tag). */
export function encode(env: Envelope): Uint8Array {
  return encodeEnvelope(env.run, env.slot, env.round, env.from, env.kind, env.body, env.noreply === true);
}

/** one array reused for every message (encoding is synchronous) */
const wire: unknown[] = [ENVELOPE_VERSION, 0, 0, 0, '', '', null];
const wireNoreply: unknown[] = [ENVELOPE_VERSION, 0, 0, 0, '', '', null, true];

export function encodeEnvelope(run: string, slot: number, round: number, from: string, kind: string, body: object, noreply = false): Uint8Array {
  return encodeAs(run, slot, round, from, kind, body, noreply, true);
}

/**
 * One sender's replies: encodeEnvelope's bytes, without a copy of their own (in the encoder's
 * scratch buffer, valid until the next encode: for a caller that copies them at once), with the
 * fields that stay the same reply after reply — version, run tag, kind and sender — encoded once
 * (again when the kind changes) rather than at every reply. A follower answers one kind of request
 * round after round; at 2,500 agents a worker the strings' encoding was a visible part of each reply.
 */
export class ReplyEncoder {
  private kind = '';
  private mid: Uint8Array = new Uint8Array(0);
  private readonly head: Uint8Array;
  /** where the last `write` put its bytes (at the start): fastpack's scratch, or the library's output */
  bytes: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly run: string,
    private readonly from: string,
  ) {
    this.head = headOf(run);
  }

  /** Encodes a reply into `bytes` (valid until the next encode anywhere); returns its length. */
  write(slot: number, round: number, kind: string, body: object): number {
    if (kind !== this.kind) {
      this.kind = kind;
      this.mid = fieldsOf([kind, this.from]);
    }
    const n = packEnvelopeWith(this.head, slot, round, this.mid, body);
    if (n >= 0) {
      this.bytes = scratch();
      return n;
    }
    const b = encodeAs(this.run, slot, round, this.from, kind, body, false, false);
    this.bytes = b;
    return b.length;
  }
}

/** version and run tag as ReplyEncoder writes them, one copy per run (not one per follower: a worker hosts thousands) */
let lastHead: { run: string; head: Uint8Array } | undefined;
function headOf(run: string): Uint8Array {
  if (lastHead?.run !== run) lastHead = { run, head: fieldsOf([ENVELOPE_VERSION, runTag(run)]) };
  return lastHead.head;
}

/** the msgpack of `items`' values back to back (an array's, without its header: fewer than 16 items) */
function fieldsOf(items: unknown[]): Uint8Array {
  return (packArray(items) ?? encoder.encode(items)).slice(1);
}

function encodeAs(run: string, slot: number, round: number, from: string, kind: string, body: object, noreply: boolean, copy: boolean): Uint8Array {
  const tag = runTag(run);
  // plain data (nearly always) takes the fast path; anything else the library encodes
  const fast = packEnvelope(ENVELOPE_VERSION, tag, slot, round, kind, from, body, noreply, copy);
  if (fast) return fast;
  const w = noreply ? wireNoreply : wire;
  w[TAG] = tag;
  w[SLOT] = slot;
  w[ROUND] = round;
  w[KIND] = kind;
  w[FROM] = from;
  w[BODY] = body;
  try {
    return encoder.encode(w);
  } finally {
    w[BODY] = null; // do not keep the body alive
  }
}

/** Decode and validate one message. `run` is the run this receiver belongs to. */
export function decode<B = Body>(data: Uint8Array, run: string, maxBytes = DEFAULT_MAX_BYTES): Decoded<B> {
  if (data.byteLength > maxBytes) return { ok: false, reason: 'oversized', detail: `${data.byteLength} bytes > ${maxBytes}` };
  // the fast path decodes plain data exactly as the library would, or gives up and the library decides
  let raw: unknown = unpack(data);
  if (raw === GAVE_UP) {
    try {
      raw = decoder.decode(data);
    } catch (e) {
      return { ok: false, reason: 'malformed', detail: `not msgpack: ${e instanceof Error ? e.message.slice(0, 120) : 'decoder error'}` };
    }
  }
  if (!Array.isArray(raw)) {
    // a map is what version 1 sent
    if (typeof raw === 'object' && raw !== null && !(raw instanceof Uint8Array)) return bad<B>(undefined, 'version', 'a map (a version 1 envelope?)');
    return { ok: false, reason: 'malformed', detail: 'envelope is not an array' };
  }
  const m = raw as unknown[];
  const f = m[FROM];
  const from = typeof f === 'string' && f.length <= MAX_ID ? f : undefined;
  if (m.length !== 7 && m.length !== 8) return bad<B>(from, 'malformed', `an array of ${m.length}, not 7 or 8 fields`);
  if (m[V] !== ENVELOPE_VERSION) return bad<B>(from, 'version', `v=${show(m[V])}`);
  const tag = m[TAG];
  if (typeof tag !== 'number' || !(tag >>> 0 === tag)) return bad<B>(from, 'wrong-type', 'run tag is not a 32-bit unsigned integer');
  if (tag !== runTag(run)) return bad<B>(from, 'wrong-run', `run tag ${tag}, this run's is ${runTag(run)}`);
  const slot = m[SLOT];
  const round = m[ROUND];
  if (!isCount(slot)) return bad<B>(from, 'wrong-type', 'slot is not a non-negative integer');
  if (!isCount(round)) return bad<B>(from, 'wrong-type', 'round is not a non-negative integer');
  if (from === undefined) return bad<B>(from, 'wrong-type', 'from is not a short string');
  const kind = m[KIND];
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_ID) return bad<B>(from, 'wrong-type', 'kind is not a short string');
  const noreply = m[NOREPLY];
  if (m.length === 8 && typeof noreply !== 'boolean') return bad<B>(from, 'wrong-type', 'noreply is not a boolean');
  const body = m[BODY];
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) return bad<B>(from, 'wrong-type', 'body is not a map');
  const check = checkMap(body as Record<string, unknown>, 0);
  if (check) return bad<B>(from, check === DEPTH ? 'too-deep' : check === BINARY ? 'wrong-type' : 'non-finite', check === DEPTH ? 'body nested too deep' : check === BINARY ? 'binary value in body' : 'NaN or Infinity in body');
  const env: Envelope<B> = { v: ENVELOPE_VERSION, run, slot: smallInt(slot), round: smallInt(round), from, kind, body: body as B };
  if (noreply !== undefined) env.noreply = noreply as boolean;
  return { ok: true, env };
}

/** A reply's header and body as readReply reads them, into an object the caller reuses. */
export interface ReplyHead {
  slot: number;
  round: number;
  kind: string;
  body: Body;
  noreply: boolean | undefined;
  /** the sender's position among the ids readReply was given */
  sender: number;
  /** where the envelope ended (a prefix read: the next one of a batch starts there) */
  end: number;
}

/**
 * decode() for a receiver that takes many replies a round from known senders (a leader), on the
 * message data[from, end), faster: when the bytes have the usual shape — the 7- or 8-element array,
 * this run's 32-bit tag, integer slot and round, a short ASCII kind, a `from` whose bytes are one of
 * `senders`' ids, a plain map body that passes every check — it fills `out` (the sender as its
 * position among those ids) and returns true, allocating only the body; no string is built for
 * `from`, nor for a kind seen before. Returns false for any other bytes, which the caller then gives
 * to decode(): errors and drop reasons are decode()'s own, and every message readReply accepts
 * decodes to the same envelope, from the id at that position.
 *
 * With `prefix`, the envelope (a 7-element one: a reply, not a notification) may end before `end`
 * (a host's batch, bus/replyBatch.ts): `out.end` says where, and data[from, out.end) is what
 * readReply would accept on its own.
 */
export function readReply(data: Uint8Array, from: number, end: number, run: string, maxBytes: number, senders: SenderTable, out: ReplyHead, prefix = false): boolean {
  const n = end;
  if ((!prefix && end - from > maxBytes) || end - from < 12) return false;
  const h0 = data[from];
  if ((h0 !== 0x97 && (prefix || h0 !== 0x98)) || data[from + 1] !== ENVELOPE_VERSION || data[from + 2] !== 0xce) return false;
  if (((data[from + 3] << 24) | (data[from + 4] << 16) | (data[from + 5] << 8) | data[from + 6]) >>> 0 !== runTag(run)) return false;
  at = from + 7;
  const slot = uintAt(data, n);
  if (slot < 0) return false;
  const round = uintAt(data, n);
  if (round < 0) return false;
  const kh = data[at];
  if ((kh & 0xe0) !== 0xa0 || kh === 0xa0 || at + 1 + (kh & 0x1f) > n) return false;
  const kind = kindAt(data, at + 1, kh & 0x1f);
  if (kind === undefined) return false;
  at += 1 + (kh & 0x1f);
  const fh = data[at];
  const fn = fh & 0x1f;
  if ((fh & 0xe0) !== 0xa0 || at + 1 + fn > n) return false;
  const sender = senders.find(data, at + 1, at + 1 + fn);
  if (sender < 0) return false;
  at += 1 + fn;
  let stop = n;
  let noreply: boolean | undefined;
  if (h0 === 0x98) {
    const t = data[n - 1];
    if (t !== 0xc2 && t !== 0xc3) return false;
    noreply = t === 0xc3;
    stop = n - 1;
  }
  const b = data[at];
  if ((b & 0xf0) !== 0x80 && b !== 0xde) return false; // a map
  const body = prefix ? unpackPrefix(data, at, stop) : unpackAt(data, at, stop);
  // the walk for non-finite numbers and depth, where the decoder saw a nested container or a non-finite float
  if (body === GAVE_UP || (!unpackedFlat && checkMap(body as Record<string, unknown>, 0))) return false;
  const stopped = prefix ? unpackedEnd : stop;
  // a whole message was checked against maxBytes on entry; an envelope cut from a batch is checked here
  if (prefix && stopped - from > maxBytes) return false;
  out.slot = slot;
  out.round = round;
  out.kind = kind;
  out.body = body as Body;
  out.noreply = noreply;
  out.sender = sender;
  out.end = h0 === 0x98 ? n : stopped;
  return true;
}

/** readReply's read position */
let at = 0;

/** an unsigned integer at `at` (positive fixint, uint 8/16/32), or -1 */
function uintAt(d: Uint8Array, n: number): number {
  if (at >= n) return -1; // the message may end inside a larger buffer: never read past it
  const h = d[at];
  if (h < 0x80) return (at++, h);
  if (h === 0xcc && at + 2 <= n) return ((at += 2), d[at - 1]);
  if (h === 0xcd && at + 3 <= n) return ((at += 3), (d[at - 2] << 8) | d[at - 1]);
  if (h === 0xce && at + 5 <= n) return ((at += 5), ((d[at - 4] << 24) | (d[at - 3] << 16) | (d[at - 2] << 8) | d[at - 1]) >>> 0);
  return -1;
}

/** kinds seen, so a reply's kind string is built once (a few per run; bounded against junk) */
const kinds: { bytes: Uint8Array; str: string }[] = [];

/** the ASCII string of n bytes at `from`, or undefined if not ASCII; one string per kind seen (a reply's kind, a host's rows') */
export function kindAt(d: Uint8Array, from: number, n: number): string | undefined {
  next: for (let k = 0; k < kinds.length; k++) {
    const c = kinds[k].bytes;
    if (c.length !== n) continue;
    for (let i = 0; i < n; i++) if (d[from + i] !== c[i]) continue next;
    return kinds[k].str;
  }
  const str = asciiAt(d, from, n);
  if (str !== undefined && kinds.length < 16) kinds.push({ bytes: d.slice(from, from + n), str });
  return str;
}

/** the ASCII string of n bytes at `from`, or undefined if not ASCII */
export function asciiAt(d: Uint8Array, from: number, n: number): string | undefined {
  let str = '';
  for (let i = from; i < from + n; i++) {
    if (d[i] > 0x7f) return undefined;
    str += String.fromCharCode(d[i]);
  }
  return str;
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

/**
 * The same integer, as V8's small integer when it is one. The decoded envelope is an array of
 * numbers and strings whose run tag is above 2^31, and V8 then keeps every number in it boxed, even
 * slot 0 and round 1. Stored in a field that held a small integer (a follower's slot, a mechanism's),
 * a boxed number changes that field's representation, and every object of the class then migrates to
 * the new layout when next touched: at the first request of a run, each of a worker's 2,500 agents'
 * runtimes and users, one runtime call each (a worker's first round at N = 10,000: 27–37 ms of CPU
 * with them, 26–30 without; test/unit/first-request.test.ts).
 */
function smallInt(x: number): number {
  return x <= 0x3fffffff ? x | 0 : x;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= Number.MAX_SAFE_INTEGER;
}

const NONFINITE = 1, DEPTH = 2, BINARY = 3, CONTAINER = -1;

/**
 * Walks a decoded body: every number must be finite, no binary blobs, nothing nested deeper than
 * MAX_DEPTH (the body's own fields are depth 1). Scalars are checked inline (no call per number); only nested
 * maps and arrays recurse. Returns 0, or the first problem found (NONFINITE, DEPTH or BINARY).
 *
 * One function that calls itself, not a map walker and an array walker that call each other: the
 * optimizing compiler inlines a mutual recursion into itself level after level, and that walk was
 * the largest code each agent process compiled (about a tenth of a packed worker's compile time in
 * a one-slot run). It does not inline a function into itself.
 */
function checkMap(x: Record<string, unknown>, depth: number): number {
  return walk(x, depth);
}

/** checkMap of a map, or the same walk of an array: `x` is at `depth` (its values at depth + 1). */
function walk(x: object, depth: number): number {
  if (Array.isArray(x)) {
    if (depth >= MAX_DEPTH && x.length > 0) return DEPTH;
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      const c = checkValue(v, depth);
      const r = c === CONTAINER ? walk(v as object, depth + 1) : c;
      if (r) return r;
    }
    return 0;
  }
  for (const k in x) {
    if (depth >= MAX_DEPTH) return DEPTH; // any value in here is too deep
    const v: unknown = (x as Record<string, unknown>)[k];
    const c = checkValue(v, depth);
    const r = c === CONTAINER ? walk(v as object, depth + 1) : c;
    if (r) return r;
  }
  return 0;
}

/** A value of a container at `depth`: 0 (fine), its problem, or CONTAINER (a map or array to walk). It calls nothing. */
function checkValue(v: unknown, depth: number): number {
  if (typeof v === 'number') return v - v !== 0 ? NONFINITE : 0; // NaN and ±Infinity: x - x is NaN
  if (typeof v === 'object' && v !== null) {
    if (depth + 1 > MAX_DEPTH) return DEPTH;
    return v instanceof Uint8Array ? BINARY : CONTAINER;
  }
  return typeof v === 'bigint' ? NONFINITE : 0;
}

/** Type guards handlers use on bodies (the envelope check has already rejected non-finite numbers). */
export const is = {
  num: (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x),
  int: (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x),
  str: (x: unknown): x is string => typeof x === 'string',
  obj: (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x),
  numArray: (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isFinite(v)),
};
