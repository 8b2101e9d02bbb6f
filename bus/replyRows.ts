/**
 * A host's replies as rows: the replies its agents give to one request, when each is a flat map of
 * numbers with the same keys, go as one envelope of kind `rows` from the host, its body the replies'
 * columns:
 *
 *   [v, tag, slot, round, 'rows', <host>, {kind, at, keys, cols}]
 *
 * Row r is the reply `{keys[k]: cols[k][r]}` of kind `kind` from the agent at roster position `at[r]`
 * (its welcome's `position`). The leader takes each row as if that agent's own envelope had come
 * alone on the subject — the same sender checks (role and host), the same round checks, counted as one
 * message — and the row decodes to exactly the body that envelope would have: the same keys in the
 * same order, the same numbers (bus/fastpack.ts writes both).
 *
 * Why: at 10,000 users a host of 2,500 agents wrote an envelope per reply — a header, a kind, its
 * sender's id, each body's keys — and the leader read each back and looked its sender up. The
 * header, the kind and the keys once per host and round, and a roster position per row instead of
 * an id, leave the numbers themselves as most of the work.
 *
 * The sender checks are those of an envelope: the subject names the host (the server's permissions
 * pin a host to its own reply subjects), the envelope's `from` must be that host, and every row's
 * agent must be of the subject's role and on that host. A message that is not a well-formed rows
 * envelope is one drop; a row naming an agent it may not is that row's drop.
 */
import { asciiAt, ENVELOPE_VERSION, kindAt, runTag, type Envelope, type ReplyEncoder } from './codec.ts';

export const ROWS_KIND = 'rows';
/** a row has at most this many keys, each at most MAX_KEY characters (longer replies go as envelopes) */
export const MAX_ROW_KEYS = 15;
export const MAX_KEY = 31;

/** A rows envelope as read (one object, reused message after message by its reader). */
export interface Rows {
  slot: number;
  round: number;
  /** the replies' kind */
  kind: string;
  /** rows */
  count: number;
  /** each row's roster position (the first `count`) */
  at: ArrayLike<number>;
  keys: string[];
  /** cols[k][r]: key k's value in row r */
  cols: ArrayLike<number>[];
  /** where the envelope ended (the next of a host's batch starts there) */
  end: number;
}

export function emptyRows(): Rows {
  return { slot: 0, round: 0, kind: '', count: 0, at: [], keys: [], cols: [], end: 0 };
}

/** The body of row `r`: the reply that agent's own envelope would have decoded to. */
export function rowBody(rows: Rows, r: number): Record<string, number> {
  const body: Record<string, number> = {};
  const { keys, cols } = rows;
  for (let k = 0; k < keys.length; k++) body[keys[k]] = cols[k][r];
  return body;
}

/**
 * A decoded envelope of kind `rows` checked as one (the generic path: any bytes the fast reader does
 * not take), into `out`; returns undefined, or why it is malformed.
 */
export function rowsOf(env: Envelope<unknown>, out: Rows): string | undefined {
  const b = env.body as Record<string, unknown>;
  const keysOf = Object.keys(b);
  if (keysOf.length !== 4 || keysOf[0] !== 'kind' || keysOf[1] !== 'at' || keysOf[2] !== 'keys' || keysOf[3] !== 'cols') return 'a rows body is {kind, at, keys, cols}, in that order';
  const { kind, at, keys, cols } = b as { kind: unknown; at: unknown; keys: unknown; cols: unknown };
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > 64 || !isAscii(kind)) return 'rows: kind is not a short ASCII string';
  if (!Array.isArray(at) || at.length === 0) return 'rows: at is not a non-empty list';
  for (const p of at) if (!(typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 0xffffffff)) return 'rows: at holds something other than roster positions';
  if (!Array.isArray(keys) || keys.length > MAX_ROW_KEYS) return `rows: keys is not a list of at most ${MAX_ROW_KEYS}`;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    if (typeof key !== 'string' || key.length > MAX_KEY || !isAscii(key) || key === '__proto__') return 'rows: a key is not a short ASCII string';
    if (keys.indexOf(key) !== k) return `rows: key ${key} repeats`;
  }
  if (!Array.isArray(cols) || cols.length !== keys.length) return 'rows: cols is not one list per key';
  for (const c of cols) {
    if (!Array.isArray(c) || c.length !== at.length) return 'rows: a column is not one value per row';
    for (const x of c) if (typeof x !== 'number' || x - x !== 0) return 'rows: a column holds something other than finite numbers';
  }
  out.slot = env.slot;
  out.round = env.round;
  out.kind = kind;
  out.count = at.length;
  out.at = at as number[];
  out.keys = keys as string[];
  out.cols = cols as number[][];
  return undefined;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * A row alone, as its agent's own envelope: the reply `{keys[k]: values[from + k]}` of `kind`, written
 * by the agent's `encoder` (its bytes, valid until the next encode, are `encoder.bytes`); returns
 * their length. The bytes the leader reads as that row: a row that goes alone, or is asked for again.
 */
export function writeRowEnvelope(encoder: ReplyEncoder, slot: number, round: number, kind: string, keys: readonly string[], values: ArrayLike<number>, from: number): number {
  const body: Record<string, number> = {};
  for (let k = 0; k < keys.length; k++) body[keys[k]] = values[from + k];
  return encoder.write(slot, round, kind, body);
}

/**
 * Reads the rows envelope at data[from, end) from the host whose id's bytes are host[h0, h1), into
 * `out` (its arrays reused), when its bytes have the shape the hosts write: a 7-element array, this
 * run's 32-bit tag, integer slot and round, `rows`, the host's id, the body's four keys in order, ASCII
 * keys and kind, columns of finite numbers in msgpack's integer and float forms. Returns false for
 * any other bytes, which the caller decodes in full (decode(), then rowsOf): whatever this reader
 * takes, that path takes too, to the same rows.
 */
export class RowsReader {
  /**
   * The message being read (kept after: a field that held the bytes' own type and an empty array's
   * in turn deoptimized the reader, as did columns that changed from small integers to doubles; the
   * positions and columns are typed arrays of the reader's, grown as needed)
   */
  private d: Uint8Array = new Uint8Array(0);
  private at = new Uint32Array(64);
  private cols: Float64Array[] = [];
  private p = 0;
  private n = 0;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private viewed: Uint8Array = this.d;
  /** the last keys read, and their bytes: the keys repeat message after message */
  private keyBytes = new Uint8Array(0);
  private keys: string[] = [];

  read(data: Uint8Array, from: number, end: number, run: string, maxBytes: number, host: Uint8Array, h0: number, h1: number, out: Rows): boolean {
    this.d = data;
    this.p = from;
    this.n = end;
    const ok = this.body(run, host, h0, h1, out) && this.p - from <= maxBytes;
    if (ok) out.end = this.p;
    return ok;
  }

  private body(run: string, host: Uint8Array, h0: number, h1: number, out: Rows): boolean {
    const d = this.d;
    const from = this.p;
    if (this.n - from < 16 || d[from] !== 0x97 || d[from + 1] !== ENVELOPE_VERSION || d[from + 2] !== 0xce) return false;
    if (((d[from + 3] << 24) | (d[from + 4] << 16) | (d[from + 5] << 8) | d[from + 6]) >>> 0 !== runTag(run)) return false;
    this.p = from + 7;
    const slot = this.uint();
    const round = this.uint();
    if (slot < 0 || round < 0) return false;
    if (!this.literal(ROWS_TAG)) return false;
    // from: the subject's host
    const hn = h1 - h0;
    if (hn > 31 || this.p + 1 + hn > this.n || d[this.p] !== (0xa0 | hn)) return false;
    for (let i = 0; i < hn; i++) if (d[this.p + 1 + i] !== host[h0 + i]) return false;
    this.p += 1 + hn;
    if (!this.literal(BODY_KIND)) return false;
    const kind = this.kind();
    if (kind === undefined || !this.literal(BODY_AT)) return false;
    const rows = this.arrayHeader();
    if (rows <= 0) return false;
    if (this.at.length < rows) this.at = new Uint32Array(Math.max(rows, 2 * this.at.length));
    const at = this.at;
    if (!this.positions(at, rows) || !this.literal(BODY_KEYS)) return false;
    const keys = this.readKeys();
    if (!keys || !this.literal(BODY_COLS) || this.arrayHeader() !== keys.length) return false;
    const cols = this.cols;
    for (let k = 0; k < keys.length; k++) {
      if (this.arrayHeader() !== rows) return false;
      if (k === cols.length || cols[k].length < rows) cols[k] = new Float64Array(Math.max(rows, 64, 2 * (cols[k]?.length ?? 0)));
      if (!this.column(cols[k], rows)) return false;
    }
    out.slot = slot;
    out.round = round;
    out.kind = kind;
    out.count = rows;
    out.at = at;
    out.keys = keys;
    out.cols = cols;
    return true;
  }

  // The loops over a message's rows are functions of their own (positions, column), as fastpack's
  // writeNumbers: they are what gets hot, and V8 optimizes them alone rather than body whole, which
  // runs a few times a round.

  /** `rows` roster positions into `at`, or false */
  private positions(at: Uint32Array, rows: number): boolean {
    // the usual forms (positive fixint, uint 16) read here with the position in a local; any other by uint()
    const d = this.d;
    const n = this.n;
    let p = this.p;
    for (let r = 0; r < rows; r++) {
      const h = d[p];
      if (h < 0x80 && p < n) {
        at[r] = h;
        p += 1;
      } else if (h === 0xcd && p + 3 <= n) {
        at[r] = (d[p + 1] << 8) | d[p + 2];
        p += 3;
      } else {
        this.p = p;
        const x = this.uint();
        if (x < 0) return false;
        at[r] = x;
        p = this.p;
      }
    }
    this.p = p;
    return true;
  }

  /** `rows` finite numbers into `c`, or false */
  private column(c: Float64Array, rows: number): boolean {
    // a float 64, the usual form, read here with the position in a local; any other by number()
    const d = this.d;
    const n = this.n;
    const view = this.dataView();
    let p = this.p;
    for (let r = 0; r < rows; r++) {
      let x: number;
      if (d[p] === 0xcb && p + 9 <= n) {
        x = view.getFloat64(p + 1, false);
        p += 9;
      } else {
        this.p = p;
        x = this.number();
        p = this.p;
      }
      if (x - x !== 0) return false; // not a number (NaN stands for that), or not finite
      c[r] = x;
    }
    this.p = p;
    return true;
  }

  /** the bytes `lit` next, or false */
  private literal(lit: Uint8Array): boolean {
    if (this.p + lit.length > this.n) return false;
    for (let i = 0; i < lit.length; i++) if (this.d[this.p + i] !== lit[i]) return false;
    this.p += lit.length;
    return true;
  }

  /** an unsigned integer (positive fixint, uint 8/16/32), or -1 */
  private uint(): number {
    const d = this.d;
    const p = this.p;
    if (p >= this.n) return -1;
    const h = d[p];
    if (h < 0x80) return (this.p++, h);
    if (h === 0xcc && p + 2 <= this.n) return ((this.p += 2), d[p + 1]);
    if (h === 0xcd && p + 3 <= this.n) return ((this.p += 3), (d[p + 1] << 8) | d[p + 2]);
    if (h === 0xce && p + 5 <= this.n) return ((this.p += 5), ((d[p + 1] << 24) | (d[p + 2] << 16) | (d[p + 3] << 8) | d[p + 4]) >>> 0);
    return -1;
  }

  /** an array's length (fixarray or array 16), or -1 */
  private arrayHeader(): number {
    const d = this.d;
    const p = this.p;
    if (p >= this.n) return -1;
    const h = d[p];
    if ((h & 0xf0) === 0x90) return (this.p++, h & 0x0f);
    if (h === 0xdc && p + 3 <= this.n) return ((this.p += 3), (d[p + 1] << 8) | d[p + 2]);
    return -1;
  }

  /** a number in any of msgpack's integer forms up to 32 bits, or a float; NaN for anything else */
  private number(): number {
    const d = this.d;
    const p = this.p;
    if (p >= this.n) return NaN;
    const h = d[p];
    if (h < 0x80) return (this.p++, h);
    if (h >= 0xe0) return (this.p++, h - 0x100);
    switch (h) {
      case 0xcb:
        if (p + 9 > this.n) return NaN;
        this.p += 9;
        return this.dataView().getFloat64(p + 1, false);
      case 0xca:
        if (p + 5 > this.n) return NaN;
        this.p += 5;
        return this.dataView().getFloat32(p + 1, false);
      case 0xcc:
      case 0xcd:
      case 0xce:
        return this.uint();
      case 0xd0:
        if (p + 2 > this.n) return NaN;
        this.p += 2;
        return (d[p + 1] << 24) >> 24;
      case 0xd1:
        if (p + 3 > this.n) return NaN;
        this.p += 3;
        return (((d[p + 1] << 8) | d[p + 2]) << 16) >> 16;
      case 0xd2:
        if (p + 5 > this.n) return NaN;
        this.p += 5;
        return (d[p + 1] << 24) | (d[p + 2] << 16) | (d[p + 3] << 8) | d[p + 4];
      default:
        return NaN;
    }
  }

  private dataView(): DataView {
    if (this.viewed !== this.d) {
      this.viewed = this.d;
      this.view = new DataView(this.d.buffer, this.d.byteOffset, this.d.byteLength);
    }
    return this.view;
  }

  /** a short ASCII kind (fixstr), one string per kind seen (bus/codec.ts kindAt) */
  private kind(): string | undefined {
    const d = this.d;
    const h = d[this.p];
    const len = h & 0x1f;
    if ((h & 0xe0) !== 0xa0 || len === 0 || this.p + 1 + len > this.n) return undefined;
    const from = this.p + 1;
    this.p = from + len;
    return kindAt(d, from, len);
  }

  /** the keys (an array of short ASCII fixstr, none repeated, no `__proto__`), the last ones' strings if their bytes are the same */
  private readKeys(): string[] | undefined {
    const start = this.p;
    const width = this.arrayHeader();
    if (width < 0 || width > MAX_ROW_KEYS) return undefined;
    const d = this.d;
    for (let k = 0; k < width; k++) {
      const h = d[this.p];
      if (this.p >= this.n || (h & 0xe0) !== 0xa0) return undefined;
      this.p += 1 + (h & 0x1f);
      if (this.p > this.n) return undefined;
    }
    const len = this.p - start;
    const last = this.keyBytes;
    if (last.length === len) {
      let same = true;
      for (let i = 0; i < len && same; i++) same = last[i] === d[start + i];
      if (same) return this.keys;
    }
    const keys: string[] = [];
    for (let q = start + (width < 16 ? 1 : 3), k = 0; k < width; k++) {
      const l = d[q] & 0x1f;
      const key = asciiAt(d, q + 1, l);
      if (key === undefined || key === '__proto__' || keys.includes(key)) return undefined;
      keys.push(key);
      q += 1 + l;
    }
    this.keyBytes = d.slice(start, this.p);
    this.keys = keys;
    return keys;
  }
}

const te = new TextEncoder();
/** msgpack of a fixstr */
const fixstr = (s: string) => Uint8Array.of(0xa0 | s.length, ...te.encode(s));
const ROWS_TAG = fixstr(ROWS_KIND);
/** the body: a map of four, its first key; then the others */
const BODY_KIND = Uint8Array.of(0x84, ...fixstr('kind'));
const BODY_AT = fixstr('at');
const BODY_KEYS = fixstr('keys');
const BODY_COLS = fixstr('cols');
