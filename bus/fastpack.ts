/**
 * A fast path for the msgpack the envelope codec writes and reads most: plain data (finite and
 * non-finite numbers, ASCII strings, booleans, nil, arrays, plain maps). It is an accelerator, not
 * a second codec: whenever a value falls outside that subset (non-ASCII text, binary, extensions,
 * 64-bit integers, very large containers, unusual prototypes, truncated or trailing bytes, deep
 * nesting) it gives up and the caller runs @msgpack/msgpack on the whole message, so every result
 * — including every error and drop reason — is the library's.
 *
 * Why: @msgpack/msgpack is general (a DataView per message, a state stack, UTF-8 decoding for every
 * string); the envelope path runs once per message on every agent, and on the leader once per reply.
 */

/** nesting the fast path handles (the library, which it falls back to, allows more) */
const MAX_NEST = 24;

// ---------------------------------------------------------------------------------------------------
// encoding

/** the scratch's size to start with, and the size past which it is given back after use */
const SCRATCH_BYTES = 2048;
const SCRATCH_CAP = 1 << 20;

let out: Uint8Array = new Uint8Array(SCRATCH_BYTES);
/**
 * `out` as a DataView, for floats: a big-endian setFloat64 is one store, where eight byte copies out
 * of a Float64Array's bytes took about 3× as long (eight one-byte stores then an eight-byte load
 * defeat the CPU's store forwarding). The same IEEE 754 bytes; the library writes them so too.
 */
let outView: DataView = new DataView(out.buffer);
let pos = 0;
let busy = false;

/** `out` becomes `b`, and its view with it */
function setOut(b: Uint8Array): void {
  out = b;
  outView = new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** a scratch grown past SCRATCH_CAP (one huge message) is not kept for ever */
function shrinkScratch(): void {
  if (out.length > SCRATCH_CAP) setOut(new Uint8Array(SCRATCH_BYTES));
}

function room(n: number): void {
  if (pos + n <= out.length) return;
  const bigger = new Uint8Array(Math.max(out.length * 2, pos + n));
  bigger.set(out.subarray(0, pos));
  setOut(bigger);
}

// The writers keep `out` and `pos` in locals: each use of a module variable is a load (and, for
// `pos`, a store) of the module's context that the optimizing compiler keeps, and writeNumber runs
// for every value of every reply.
function writeNumber(x: number): void {
  room(9);
  if (Number.isSafeInteger(x) && x >= -0x80000000 && x <= 0xffffffff) {
    pos = x >= 0 ? writeUint(out, pos, x) : writeNegative(out, pos, x);
    return;
  }
  // float 64 (also integers beyond 32 bits: the same number decodes back)
  const p = pos;
  out[p] = 0xcb;
  outView.setFloat64(p + 1, x, false);
  pos = p + 9;
}

/** x, an integer in [0, 2^32), at o[p]: positive fixint, uint 8, 16 or 32; returns the position after it */
function writeUint(o: Uint8Array, p: number, x: number): number {
  if (x < 0x80) {
    o[p] = x;
    return p + 1;
  }
  if (x < 0x100) {
    o[p] = 0xcc;
    o[p + 1] = x;
    return p + 2;
  }
  if (x < 0x10000) {
    o[p] = 0xcd;
    o[p + 1] = x >>> 8;
    o[p + 2] = x & 0xff;
    return p + 3;
  }
  o[p] = 0xce;
  o[p + 1] = x >>> 24;
  o[p + 2] = (x >>> 16) & 0xff;
  o[p + 3] = (x >>> 8) & 0xff;
  o[p + 4] = x & 0xff;
  return p + 5;
}

/** x, an integer in [-2^31, 0), at o[p]: negative fixint, int 8, 16 or 32; returns the position after it */
function writeNegative(o: Uint8Array, p: number, x: number): number {
  if (x >= -0x20) {
    o[p] = x & 0xff;
    return p + 1;
  }
  if (x >= -0x80) {
    o[p] = 0xd0;
    o[p + 1] = x & 0xff;
    return p + 2;
  }
  if (x >= -0x8000) {
    o[p] = 0xd1;
    o[p + 1] = (x >> 8) & 0xff;
    o[p + 2] = x & 0xff;
    return p + 3;
  }
  o[p] = 0xd2;
  o[p + 1] = (x >> 24) & 0xff;
  o[p + 2] = (x >> 16) & 0xff;
  o[p + 3] = (x >> 8) & 0xff;
  o[p + 4] = x & 0xff;
  return p + 5;
}

/** ASCII strings only; false for anything else (the caller falls back) */
function writeString(s: string): boolean {
  const n = s.length;
  if (n > 0xffff) return false;
  room(n + 3);
  if (n < 32) out[pos++] = 0xa0 | n;
  else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else {
    out[pos++] = 0xda;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return false;
    out[pos++] = c;
  }
  return true;
}

function writeValue(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'number':
      writeNumber(v);
      return true;
    case 'string':
      return writeString(v);
    case 'boolean':
      room(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return true;
    case 'undefined':
      room(1);
      out[pos++] = 0xc0;
      return true;
    case 'object':
      if (v === null) {
        room(1);
        out[pos++] = 0xc0;
        return true;
      }
      if (depth > MAX_NEST) return false;
      if (Array.isArray(v)) return writeArray(v, depth);
      {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return false; // Date, Uint8Array, Map, class instances: the library's business
      }
      return writeMap(v as Record<string, unknown>, depth);
    default:
      return false; // bigint, function, symbol
  }
}

/** an array or map header: fix form (`fix | n`) under 16 entries, else the 16-bit form `code16` */
function writeHeader(n: number, fix: number, code16: number): void {
  room(3);
  if (n < 16) out[pos++] = fix | n;
  else {
    out[pos++] = code16;
    out[pos++] = n >>> 8;
    out[pos++] = n & 0xff;
  }
}

function writeArray(a: unknown[], depth: number): boolean {
  const n = a.length;
  if (n > 0xffff) return false;
  writeHeader(n, 0x90, 0xdc);
  for (let i = 0; i < n; i++) if (!writeValue(a[i], depth + 1)) return false;
  return true;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A map without its undefined values (the codec's encoder ignores them): its own enumerable keys in
 * Object.keys order. Walked with for…in, which reads a plain object's keys and values from its
 * shape's caches (Object.keys built an array per map, and `m[key]` was a megamorphic lookup); an
 * inherited enumerable key (a polluted Object.prototype) is the library's business. A map of fewer
 * than 16 entries (a reply body) is written in one walk, its one-byte header filled in after; a
 * larger one is walked again, once to count.
 */
function writeMap(m: Record<string, unknown>, depth: number): boolean {
  const start = pos;
  room(1);
  pos++;
  let n = 0;
  for (const k in m) {
    if (!hasOwn.call(m, k)) return false;
    const v = m[k];
    if (v === undefined) continue;
    if (++n === 16) {
      pos = start;
      return writeLargeMap(m, depth);
    }
    if (!writeString(k) || !writeValue(v, depth + 1)) return false;
  }
  out[start] = 0x80 | n;
  return true;
}

function writeLargeMap(m: Record<string, unknown>, depth: number): boolean {
  let n = 0;
  for (const k in m) {
    if (!hasOwn.call(m, k)) return false;
    if (m[k] !== undefined) n++;
  }
  if (n > 0xffff) return false;
  writeHeader(n, 0x80, 0xde);
  for (const k in m) {
    const v = m[k];
    if (v === undefined) continue;
    if (!writeString(k) || !writeValue(v, depth + 1)) return false;
  }
  return true;
}

/**
 * msgpack of the array `items` (top level; items may be any plain data), or undefined if something
 * in it is outside the fast path's subset — then encode it with the library.
 */
export function packArray(items: unknown[]): Uint8Array | undefined {
  return packArrayAs(items, true);
}

/**
 * packArray of an envelope `[version, tag, slot, round, kind, from, body]` (and `true` after the
 * body for a notification), the same bytes, with the header's fields written as what they are
 * rather than dispatched on their type one by one: a follower writes one per reply.
 */
export function packEnvelope(version: number, tag: number, slot: number, round: number, kind: string, from: string, body: unknown, noreply: boolean, copy: boolean): Uint8Array | undefined {
  if (busy) return undefined;
  busy = true;
  pos = 0;
  try {
    room(1);
    out[pos++] = noreply ? 0x98 : 0x97;
    writeNumber(version);
    writeNumber(tag);
    writeNumber(slot);
    writeNumber(round);
    if (!writeString(kind) || !writeString(from) || !writeValue(body, 2)) return undefined;
    if (noreply) {
      room(1);
      out[pos++] = 0xc3;
    }
    return copy ? out.slice(0, pos) : new Uint8Array(out.buffer, 0, pos);
  } finally {
    busy = false;
    shrinkScratch();
  }
}

/**
 * packEnvelope for a sender whose fields other than slot, round and body are the same message after
 * message: `head` is the msgpack of version and run tag, `mid` that of kind and sender, back to back
 * as packArray writes them (without its array header). Returns how many bytes it wrote at the start
 * of `scratch()` (valid until the next pack), or -1 where packEnvelope would give up. A length, not
 * a view: the caller copies the bytes anyway, and a view per reply was a typed array allocated (and
 * the scratch's ArrayBuffer looked up) once per reply on every follower.
 */
export function packEnvelopeWith(head: Uint8Array, slot: number, round: number, mid: Uint8Array, body: unknown): number {
  if (busy) return -1;
  busy = true;
  pos = 0;
  // shrunk here, not after: the bytes this call writes are read from `out` once it returns
  shrinkScratch();
  try {
    writeReplyHead(head, slot, round, mid);
    return writeValue(body, 2) ? pos : -1;
  } finally {
    busy = false;
  }
}

/** A reply's array header and its fields up to the body: `head`, slot, round, `mid` (see packEnvelopeWith). */
function writeReplyHead(head: Uint8Array, slot: number, round: number, mid: Uint8Array): void {
  const h = head.length;
  const m = mid.length;
  room(1 + h + m);
  out[pos++] = 0x97;
  for (let i = 0; i < h; i++) out[pos++] = head[i];
  writeNumber(slot);
  writeNumber(round);
  room(m);
  for (let i = 0; i < m; i++) out[pos++] = mid[i];
}

/**
 * A host's rows envelope (bus/replyRows.ts): `[version, tag, slot, round, 'rows', host, body]` with
 * body `{kind, at, keys, cols}`, where row r's reply is `{keys[k]: values[r * keys.length + k]}` from
 * the agent at roster position `at[r]`. `head` and `mid` are as packEnvelopeWith's (`mid`: `'rows'`
 * and the host's id). The same bytes packArray writes for that array. Returns how many bytes it wrote
 * at the start of `scratch()`, or -1 where packArray would give up (a non-ASCII kind or key).
 */
export function packRows(head: Uint8Array, slot: number, round: number, mid: Uint8Array, kind: string, at: ArrayLike<number>, keys: readonly string[], values: ArrayLike<number>, rows: number): number {
  if (busy) return -1;
  busy = true;
  pos = 0;
  shrinkScratch();
  try {
    const width = keys.length;
    writeReplyHead(head, slot, round, mid);
    room(1);
    out[pos++] = 0x84;
    if (!writeString('kind') || !writeString(kind) || !writeString('at')) return -1;
    writeHeader(rows, 0x90, 0xdc);
    writeNumbers(at, 0, rows, 1);
    if (!writeString('keys')) return -1;
    writeHeader(width, 0x90, 0xdc);
    for (let k = 0; k < width; k++) if (!writeString(keys[k])) return -1;
    if (!writeString('cols')) return -1;
    writeHeader(width, 0x90, 0xdc);
    for (let k = 0; k < width; k++) {
      writeHeader(rows, 0x90, 0xdc);
      writeNumbers(values, k, rows, width);
    }
    return pos;
  } finally {
    busy = false;
  }
}

/**
 * `count` numbers of `values` from `from`, `stride` apart. A function of its own so that the loops
 * over a host's rows make this small function hot, not packRows, which runs once a round: V8 then
 * optimizes this one alone rather than packRows whole with all it inlines (--trace-opt, a one-slot
 * run at N = 1000: 11 ms of compiling in each packed worker, for a function run 43 times).
 */
function writeNumbers(values: ArrayLike<number>, from: number, count: number, stride: number): void {
  // writeNumber's bytes for each value, with room made once and the buffer and position in locals.
  // Its choice of form is repeated here, not called: under the agents' inlining cap a shared helper
  // left writeUint and writeNegative out of this loop (a 2,500-row packRows: 44 against 37 µs).
  room(9 * count);
  const o = out;
  const view = outView;
  let p = pos;
  for (let r = 0, i = from; r < count; r++, i += stride) {
    const x = values[i];
    if (Number.isSafeInteger(x) && x >= -0x80000000 && x <= 0xffffffff) p = x >= 0 ? writeUint(o, p, x) : writeNegative(o, p, x);
    else {
      o[p] = 0xcb;
      view.setFloat64(p + 1, x, false);
      p += 9;
    }
  }
  pos = p;
}

/** the buffer the last pack wrote into (packEnvelopeWith's bytes are at its start) */
export function scratch(): Uint8Array {
  return out;
}

function packArrayAs(items: unknown[], copy: boolean): Uint8Array | undefined {
  if (busy) return undefined; // re-entered (a getter that encodes): leave it to the library
  busy = true;
  pos = 0;
  try {
    if (!writeArray(items, 1)) return undefined;
    return copy ? out.slice(0, pos) : new Uint8Array(out.buffer, 0, pos);
  } finally {
    busy = false;
    shrinkScratch();
  }
}

// ---------------------------------------------------------------------------------------------------
// decoding

/** thrown (and caught in unpack) when the fast path gives up; a constant, never a new Error */
const GIVE_UP = { giveUp: true };

const EMPTY = new Uint8Array(0);
let src: Uint8Array = EMPTY;
let at = 0;
let end = 0;

/**
 * Whether the last unpackPrefix's value was flat and finite: no container inside it (it may itself
 * be one) and no NaN or infinite float anywhere in it. A reply body that is (nearly every one) passes
 * the envelope's walk for non-finite numbers and depth by construction, so the reader skips that walk.
 */
export let unpackedFlat = true;
/** the depth unpackPrefix reads its value at (an element of the envelope's array); a container deeper than this is nested */
const PREFIX_DEPTH = 2;

function need(n: number): void {
  if (at + n > end) throw GIVE_UP;
}

function readString(n: number): string {
  need(n);
  for (let i = at; i < at + n; i++) if (src[i] > 0x7f) throw GIVE_UP; // UTF-8: the library decodes it
  let s: string;
  // up to 12 characters V8 copies each `+=` into a flat string; from 13 on it would chain a cons
  // string per character (about 32 bytes each, and kept so: a 15-character join nonce held in a
  // map cost ~150 bytes an agent), so longer strings are made in one piece
  if (n <= 12) {
    s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(src[i]);
  } else s = String.fromCharCode.apply(null, src.subarray(at, at + n) as unknown as number[]);
  at += n;
  return s;
}

/**
 * `src` as a DataView, for floats (see outView), made at the first float of a message: a leader reads
 * a host's replies back to back out of one message. It holds the last message read until the next.
 */
let srcView: DataView = new DataView(new ArrayBuffer(0));
let viewed: Uint8Array = EMPTY;

function view(): DataView {
  if (viewed !== src) {
    viewed = src;
    srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }
  return srcView;
}

function readF64(): number {
  need(8);
  const x = view().getFloat64(at, false);
  at += 8;
  if (x - x !== 0) unpackedFlat = false;
  return x;
}

function readF32(): number {
  need(4);
  const x = view().getFloat32(at, false);
  at += 4;
  if (x - x !== 0) unpackedFlat = false;
  return x;
}

function u16(): number {
  need(2);
  const x = (src[at] << 8) | src[at + 1];
  at += 2;
  return x;
}

function u32(): number {
  need(4);
  const x = ((src[at] << 24) | (src[at + 1] << 16) | (src[at + 2] << 8) | src[at + 3]) >>> 0;
  at += 4;
  return x;
}

/**
 * The value at `at` (its containers' items at depth + 1). One function that calls itself for the
 * items of an array or a map, not a value reader and container readers that call each other: the
 * optimizing compiler inlines a mutual recursion into itself level after level (a large compile in
 * every agent process), and does not inline a function into itself.
 */
function readValue(depth: number): unknown {
  need(1);
  const h = src[at++];
  if (h < 0x80) return h;
  if (h >= 0xe0) return h - 0x100;
  if ((h & 0xe0) === 0xa0) return readString(h & 0x1f);
  let n: number;
  let map: boolean;
  if ((h & 0xf0) === 0x90) {
    n = h & 0x0f;
    map = false;
  } else if ((h & 0xf0) === 0x80) {
    n = h & 0x0f;
    map = true;
  } else
    switch (h) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
        return readF32();
      case 0xcb:
        return readF64();
      case 0xcc:
        need(1);
        return src[at++];
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xd0: {
        need(1);
        const x = src[at++];
        return x < 0x80 ? x : x - 0x100;
      }
      case 0xd1: {
        const x = u16();
        return x < 0x8000 ? x : x - 0x10000;
      }
      case 0xd2:
        return u32() | 0;
      case 0xd9:
        need(1);
        return readString(src[at++]);
      case 0xda:
        return readString(u16());
      case 0xdc:
        n = u16();
        map = false;
        break;
      case 0xde:
        n = u16();
        map = true;
        break;
      default:
        throw GIVE_UP; // bin, ext, 64-bit integers, 32-bit lengths, 0xc1: the library (and its limits)
    }
  if (depth > MAX_NEST) throw GIVE_UP;
  if (depth > PREFIX_DEPTH) unpackedFlat = false;
  if (!map) {
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = readValue(depth + 1);
    return a;
  }
  const m: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    need(1);
    const k = src[at++];
    let key: string;
    if ((k & 0xe0) === 0xa0) key = readString(k & 0x1f);
    else if (k === 0xd9) {
      need(1);
      key = readString(src[at++]);
    } else throw GIVE_UP; // number keys, long keys: the library
    if (key === '__proto__') throw GIVE_UP;
    m[key] = readValue(depth + 1);
  }
  return m;
}

/**
 * The decoded value of a whole message, or GAVE_UP if the fast path cannot decode it exactly as the
 * library would (then decode it with the library). Never throws.
 */
export const GAVE_UP: unique symbol = Symbol('gave up');

export function unpack(data: Uint8Array): unknown {
  src = data;
  at = 0;
  end = data.byteLength;
  try {
    const v = readValue(1);
    return at === end ? v : GAVE_UP; // trailing bytes: the library reports them
  } catch (e) {
    if (e === GIVE_UP) return GAVE_UP;
    return GAVE_UP; // e.g. a RangeError from an absurd length: the library decides
  } finally {
    src = EMPTY;
  }
}

/** where the last unpackPrefix's value ended */
export let unpackedEnd = 0;

/**
 * unpackAt of the value that starts at data[offset] and ends anywhere up to `stop` (a message that
 * holds several back to back); where it ended is then `unpackedEnd`. GAVE_UP where the fast path
 * gives up; never throws.
 */
export function unpackPrefix(data: Uint8Array, offset: number, stop: number): unknown {
  src = data;
  at = offset;
  end = stop;
  unpackedFlat = true;
  try {
    const v = readValue(PREFIX_DEPTH);
    unpackedEnd = at;
    return v;
  } catch {
    return GAVE_UP;
  } finally {
    src = EMPTY;
  }
}

/**
 * As unpack, for one element of the message's top-level array: the value that starts at `offset`
 * and must end exactly at `stop`, or GAVE_UP (then decode the whole message with the library).
 * Never throws.
 */
export function unpackAt(data: Uint8Array, offset: number, stop: number): unknown {
  const v = unpackPrefix(data, offset, stop);
  return v !== GAVE_UP && unpackedEnd === stop ? v : GAVE_UP;
}


/**
 * Where the msgpack value at data[from] ends, looking no further than `stop`; -1 if it does not end
 * by then or is not msgpack (0xc1). Nothing is decoded, and nesting costs no stack: it counts the
 * values still to skip (an array's items, a map's keys and values). For a message that holds several
 * values back to back (a host's replies, bus/replyBatch.ts), to cut it into one range per value.
 */
export function valueEnd(data: Uint8Array, from: number, stop: number): number {
  let p = from;
  let pending = 1;
  while (pending > 0) {
    if (p >= stop) return -1;
    const h = data[p];
    pending--;
    let size = 1; // fixints, and the array and map headers below
    if (h < 0x80 || h >= 0xe0) size = 1;
    else if (h < 0x90) pending += 2 * (h & 0x0f);
    else if (h < 0xa0) pending += h & 0x0f;
    else if (h < 0xc0) size = 1 + (h & 0x1f);
    else {
      const k = h - 0xc0;
      size = FIXED[k];
      if (size === 0) return -1; // 0xc1, never used
      const lb = LENGTH_BYTES[k];
      if (lb > 0) {
        const len = lenAt(data, p, stop, lb);
        if (len < 0) return -1;
        if (VALUES_PER[k] > 0) pending += VALUES_PER[k] * len;
        else size += len;
      }
    }
    p += size;
    // every value still to come takes at least a byte
    if (p > stop || pending > stop - p) return -1;
  }
  return p;
}

/**
 * The headers 0xc0–0xdf (index h - 0xc0), as the msgpack spec lays them out: FIXED, the bytes before
 * any payload (header, length, an extension's type; 0: never used); LENGTH_BYTES, how many bytes
 * give a length (0: none); VALUES_PER, what that length counts: 0 bytes of payload, 1 an array's
 * items, 2 a map's entries (a key and a value each).
 */
// headers:              c0 c1 c2 c3 c4 c5 c6 c7 c8 c9 ca cb cc cd ce cf d0 d1 d2 d3 d4 d5 d6 d7  d8 d9 da db dc dd de df
const FIXED = Uint8Array.from([1, 0, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5]);
const LENGTH_BYTES = Uint8Array.from([0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4]);
const VALUES_PER = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2]);

/** the big-endian length of `bytes` bytes after the header at data[p], or -1 if the data stops first */
function lenAt(data: Uint8Array, p: number, stop: number, bytes: number): number {
  if (p + bytes >= stop) return -1;
  if (bytes === 1) return data[p + 1];
  if (bytes === 2) return (data[p + 1] << 8) | data[p + 2];
  return ((data[p + 1] << 24) | (data[p + 2] << 16) | (data[p + 3] << 8) | data[p + 4]) >>> 0;
}
