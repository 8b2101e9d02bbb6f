/**
 * Ids looked up by their bytes, as they stand in a message: the leader reads a reply's sender from
 * the envelope's `from` among the roster's ids, and a reply subject's role and host tokens among the
 * roster's roles and the run's hosts, without building a string. An open-addressing table of
 * positions over one buffer holding every id's bytes: at 100,000 agents a few MB, where one
 * subscription per agent held about 2 KB each in the leader (and as much again in the server).
 */
const te = new TextEncoder();

export class SenderTable {
  /** every id's UTF-8 bytes, back to back; id i is keys[offsets[i], offsets[i + 1]) */
  private readonly keys: Uint8Array;
  private readonly offsets: Int32Array;
  /** roster position + 1 per slot (0: empty) */
  private readonly slots: Int32Array;
  private readonly mask: number;
  /**
   * The position after the last one found: tried first. A worker sends its agents' replies in roster
   * order, so the next sender is nearly always the one after the last; the bytes are compared in full
   * either way. At 100,000 agents the hashed probe missed the cache three times a reply (slots,
   * offsets, keys: 1.7 s of the leader's 12.8 s busy in a two-slot run); the next id's bytes are
   * next to the last's.
   */
  private next = 0;
  /** the last position found: tried second (a reply subject's role and host tokens repeat) */
  private last = -1;
  /** false when an id repeats: a repeated id must give its first position, which only the probe gives */
  private readonly hinted: boolean;

  constructor(ids: string[]) {
    const encoded = ids.map((id) => te.encode(id));
    this.offsets = new Int32Array(ids.length + 1);
    for (let i = 0; i < ids.length; i++) this.offsets[i + 1] = this.offsets[i] + encoded[i].length;
    this.keys = new Uint8Array(this.offsets[ids.length]);
    encoded.forEach((b, i) => this.keys.set(b, this.offsets[i]));
    let size = 16;
    while (size < 2 * ids.length) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    let repeated = false;
    for (let i = 0; i < ids.length; i++) {
      const at = this.offsets[i];
      const end = this.offsets[i + 1];
      if (this.probe(this.keys, at, end) >= 0) {
        repeated = true; // a repeated id keeps its first position
        continue;
      }
      let h = hash(this.keys, at, end) & this.mask;
      while (this.slots[h] !== 0) h = (h + 1) & this.mask;
      this.slots[h] = i + 1;
    }
    this.hinted = !repeated;
  }

  /** The roster position of the id whose bytes are bytes[from, to), or -1 if none has them. */
  find(bytes: Uint8Array, from: number, to: number): number {
    if (this.hinted) {
      if (this.is(this.next, bytes, from, to)) return this.found(this.next);
      if (this.is(this.last, bytes, from, to)) return this.found(this.last);
    }
    const found = this.probe(bytes, from, to);
    if (found >= 0 && this.hinted) this.found(found);
    return found;
  }

  /** whether id `g` (any number: out of range is no) has the bytes bytes[from, to) */
  private is(g: number, bytes: Uint8Array, from: number, to: number): boolean {
    if (g < 0 || g >= this.offsets.length - 1) return false;
    const at = this.offsets[g];
    const n = to - from;
    if (this.offsets[g + 1] - at !== n) return false;
    let k = 0;
    while (k < n && this.keys[at + k] === bytes[from + k]) k++;
    return k === n;
  }

  private found(g: number): number {
    this.last = g;
    this.next = g + 1;
    return g;
  }

  /** find() by the hash table alone */
  private probe(bytes: Uint8Array, from: number, to: number): number {
    const n = to - from;
    for (let h = hash(bytes, from, to) & this.mask; ; h = (h + 1) & this.mask) {
      const s = this.slots[h];
      if (s === 0) return -1;
      const at = this.offsets[s - 1];
      if (this.offsets[s] - at !== n) continue;
      let k = 0;
      while (k < n && this.keys[at + k] === bytes[from + k]) k++;
      if (k === n) return s - 1;
    }
  }
}

/** FNV-1a (32 bits) of bytes[from, to) */
function hash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
