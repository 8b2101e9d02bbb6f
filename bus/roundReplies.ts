/**
 * One round's replies, by roster position, as the leader gathers them: each an envelope's body, a
 * `nil` acknowledgement, or a row of numbers from a host's rows (bus/replyRows.ts), kept in one
 * column per key rather than as an object per reply.
 *
 * Why columns: at 10,000 followers a round's replies were 10,000 objects, each with two boxed
 * numbers, built by a megamorphic keyed store and kept a round (the last reply of each follower):
 * they outlived the young generation, and their copying and promotion were a fifth of the leader's
 * CPU. A mechanism that reads a number per reply (a demand, a bid) takes it as a column
 * (`column(key)`); the objects are made only when something reads `replies()`, and are then the
 * bodies those rows' own envelopes would have decoded to: the same keys in the same order, the same
 * numbers.
 *
 * Rows whose keys differ from the first row's (another host, another kind of reply) are kept as
 * their bodies, so every reply is kept exactly, whatever its shape.
 */
import { replyNumber } from '../scenarios/contract.ts';
import type { RoundResult } from '../scenarios/types.ts';
import type { Body } from './codec.ts';

/** Stands in a reply array for an agent that answered with a `nil` acknowledgement. */
export const NIL = Symbol('nil');

const NONE = 0;
const BODY = 1;
const ROW = 2;
const NILS = 3;

export class RoundReplies {
  /** per position: NONE, BODY, ROW or NILS */
  private readonly state: Uint8Array;
  /** per position, a reply kept as a body (made at the first) */
  private bodies: (Body | undefined)[] | undefined;
  /**
   * The rows' keys, and their columns: cols[k][i] is position i's value of keys[k]. Arrays of V8's
   * heap, not Float64Arrays: a round's new typed arrays were new memory from the C library, whose
   * pages the kernel zeroed and faulted in round after round (a tenth of the leader's CPU at 10,000
   * followers, perf), where the young generation's pages are already there.
   */
  private keys: readonly string[] | undefined;
  private cols: number[][] = [];
  /** keys found equal to `keys` (a host's reader makes a new array when the keys' bytes change) */
  private sameAs: readonly string[] | undefined;
  /** replies() as last made (undone by any change) */
  private made: (Body | typeof NIL | undefined)[] | undefined;

  constructor(readonly size: number) {
    this.state = new Uint8Array(size);
  }

  /** Position `i` answered with `body`. */
  setBody(i: number, body: Body): void {
    (this.bodies ??= new Array(this.size).fill(undefined))[i] = body;
    this.state[i] = BODY;
    this.made = undefined;
  }

  /** Position `i` answered with a `nil` acknowledgement. */
  setNil(i: number): void {
    this.state[i] = NILS;
    this.made = undefined;
  }

  /**
   * Position `i` answered with row `r` of `cols` (keys `keys`): false, and nothing kept, when this
   * round's rows have other keys (the caller keeps the row's body instead).
   */
  setRow(i: number, keys: readonly string[], cols: ArrayLike<number>[], r: number): boolean {
    if (!this.takes(keys)) return false;
    const mine = this.cols;
    for (let k = 0; k < mine.length; k++) mine[k][i] = cols[k][r];
    this.state[i] = ROW;
    this.made = undefined;
    return true;
  }

  /** whether rows of `keys` are kept as rows here (the first keys given are adopted) */
  takes(keys: readonly string[]): boolean {
    return keys === this.keys || keys === this.sameAs || this.adopt(keys);
  }

  /**
   * Rows `from` to `to` − 1 of a host's rows message (bus/replyRows.ts: row r of position at[r], its
   * values cols[k][r]), as setRow each, for keys that `takes`. One pass per column: the leader takes a
   * message of thousands of rows this way, without a call per row.
   */
  setRows(at: ArrayLike<number>, cols: readonly ArrayLike<number>[], from: number, to: number): void {
    const mine = this.cols;
    const state = this.state;
    this.made = undefined;
    for (let r = from; r < to; r++) state[at[r]] = ROW;
    for (let k = 0; k < mine.length; k++) copyColumn(mine[k], cols[k], at, from, to);
  }

  /** the first keys become the columns'; later ones are taken if equal */
  private adopt(keys: readonly string[]): boolean {
    if (this.keys === undefined) {
      this.keys = keys;
      this.cols = keys.map(() => doubles(this.size));
      return true;
    }
    if (keys.length !== this.keys.length) return false;
    for (let k = 0; k < keys.length; k++) if (keys[k] !== this.keys[k]) return false;
    this.sameAs = keys;
    return true;
  }

  /** whether position `i` has a reply (a body or a row; a `nil` is none) */
  has(i: number): boolean {
    const s = this.state[i];
    return s === BODY || s === ROW;
  }

  /** position `i`'s reply as an object (a row made into its body), or undefined */
  body(i: number): Body | undefined {
    const s = this.state[i];
    if (s === BODY) return this.bodies![i];
    if (s !== ROW) return undefined;
    const keys = this.keys!;
    const cols = this.cols;
    const body: Body = {};
    for (let k = 0; k < keys.length; k++) body[keys[k]] = cols[k][i];
    return body;
  }

  /** Position `i` of `from` (a body or a row) becomes position `i`'s reply here. */
  copyFrom(from: RoundReplies, i: number): void {
    const s = from.state[i];
    if (s === ROW && this.setRow(i, from.keys!, from.cols, i)) return;
    if (s === ROW || s === BODY) this.setBody(i, from.body(i)!);
  }

  /**
   * The round as the leader's mechanism is given it: every reply received is remembered in `last`
   * (this kind of request's last reply per follower); a follower that sent none takes its reply from
   * `last` when `reuseLast`; a `nil` is no reply.
   */
  settle(last: RoundReplies, reuseLast: boolean): void {
    this.made = undefined;
    // rows copied into `last` in the loop itself (what last.copyFrom does for a row, without two calls
    // per follower), when `last` keeps this round's keys as rows
    const rows = this.keys !== undefined && last.takes(this.keys);
    if (rows) last.made = undefined;
    const mine = this.cols;
    const width = mine.length;
    const theirs = last.cols;
    const lastState = last.state;
    const state = this.state;
    const size = this.size;
    // nothing after the loop: see scenarios/common/columns.ts
    for (let i = 0; i < size; i++) {
      const s = state[i];
      if (s === ROW && rows) {
        for (let k = 0; k < width; k++) theirs[k][i] = mine[k][i];
        lastState[i] = ROW;
      } else if (s === ROW || s === BODY) last.copyFrom(this, i);
      else if (s === NILS) state[i] = NONE;
      else if (reuseLast && last.has(i)) this.copyFrom(last, i);
    }
  }

  /** every position's reply (NIL for a `nil`), rows made into their bodies; the same array until something changes */
  replies(): (Body | typeof NIL | undefined)[] {
    if (this.made) return this.made;
    const out: (Body | typeof NIL | undefined)[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.state[i] === NILS ? NIL : this.body(i);
    return (this.made = out);
  }

  /** each position's `key` as a number: NaN where there is no reply, or its `key` is not a finite number (a new array each call) */
  column(key: string): number[] {
    const out = doubles(this.size);
    const k = this.keys ? this.keys.indexOf(key) : -1;
    const col = k >= 0 ? this.cols[k] : undefined;
    const state = this.state;
    for (let i = 0; i < this.size; i++) {
      const s = state[i];
      out[i] = s === ROW ? (col ? col[i] : NaN) : s === BODY ? replyNumber(this.bodies![i]![key]) : NaN;
    }
    return out;
  }
}

/** dst[at[r]] = src[r] for r in [from, to) */
function copyColumn(dst: number[], src: ArrayLike<number>, at: ArrayLike<number>, from: number, to: number): void {
  for (let r = from; r < to; r++) dst[at[r]] = src[r];
}

/** an array of `n` NaN, held as unboxed doubles */
function doubles(n: number): number[] {
  return new Array<number>(n).fill(NaN);
}

/**
 * The mechanism's view of a settled round (RoundReplies.settle): its replies made into objects only
 * when first read, its numbers as columns.
 *
 * A class, its getter on the prototype: an object literal with a getter made a hidden class per
 * result, holding that literal's getter and through it the round's table. Those classes were old
 * objects, so every scavenge kept the last rounds' tables alive (2–3.5 MB promoted a scavenge at
 * 10,000 followers, V8's --trace-gc-nvp), until a full collection found the classes unused.
 */
export class SettledRound<R> implements RoundResult<R> {
  readonly #table: RoundReplies;
  #replies: (R | undefined)[] | undefined;

  constructor(
    table: RoundReplies,
    readonly missing: string[],
  ) {
    this.#table = table;
  }

  get replies(): (R | undefined)[] {
    return (this.#replies ??= this.#table.replies() as (R | undefined)[]);
  }

  set replies(value: (R | undefined)[]) {
    this.#replies = value;
  }

  column(key: string): number[] {
    return this.#table.column(key);
  }
}
