import { copyBytes, grownTo } from '../bus/bytes.ts';
import type { ReplyEncoder } from '../bus/codec.ts';
import { MAX_ROW_KEYS, writeRowEnvelope } from '../bus/replyRows.ts';

/**
 * Each hosted follower's last answered request and its reply, in one table per host, a row per
 * follower (`add` gives its row). A request the leader re-sends (its first copy or our reply was
 * lost) is recognized by its slot, round, kind and size, and gets the same bytes back without
 * running the handler again, so a retransmission never advances a follower's state twice.
 *
 * Why a table and not an object per follower: every follower keeps its reply every round, and
 * checks the next request against it. At 2,500 followers a worker, an object and a values array
 * each were four more scattered cache lines per follower per round, loaded again after every switch
 * to another process on these 2 cores. The numbers are columns here, a follower's next to the next
 * follower's, in the order the host hands them a broadcast. Nothing kept outlives its round but the
 * reply itself: a reply kept as bytes is copied into a buffer of the follower's own (made at its
 * first such reply; most replies go as rows and never need one).
 */
export class LastReplies {
  private rows = 0;
  /** per row: 1 if it holds an answered request */
  private valid = new Uint8Array(0);
  /** per row: the request's slot, round and size in bytes */
  private slot = new Float64Array(0);
  private round = new Float64Array(0);
  private requestSize = new Float64Array(0);
  private readonly kind: string[] = [];
  /** per row: the reply's kind when it went as a row (bus/replyRows.ts), undefined when kept as bytes */
  private readonly rowKind: (string | undefined)[] = [];
  private readonly rowKeys: (readonly string[])[] = [];
  /** per row, MAX_ROW_KEYS values from row × MAX_ROW_KEYS: a row reply's values */
  private values = new Float64Array(0);
  private readonly bytes: Uint8Array[] = [];
  private readonly len: number[] = [];

  /** A new follower's row, holding nothing. */
  add(): number {
    if (this.rows === this.valid.length) this.grow(Math.max(64, 2 * this.valid.length));
    const r = this.rows++;
    this.kind.push('');
    this.rowKind.push(undefined);
    this.rowKeys.push(NO_KEYS);
    this.bytes.push(NO_BYTES);
    this.len.push(0);
    return r;
  }

  /** Row r remembers the first `n` bytes of `reply` (copied: it may be the encoder's scratch) as its answer to this request. */
  keep(r: number, slot: number, round: number, kind: string, requestSize: number, reply: Uint8Array, n = reply.length): void {
    let own = this.bytes[r];
    if (n > own.length) this.bytes[r] = own = new Uint8Array(Math.max(n, 64, 2 * own.length));
    copyBytes(own, 0, reply, n);
    this.len[r] = n;
    this.rowKind[r] = undefined;
    this.answered(r, slot, round, kind, requestSize);
  }

  /** Row r remembers a reply sent as a row: its kind, keys (never changed in place) and values (copied; at most MAX_ROW_KEYS). */
  keepRow(r: number, slot: number, round: number, kind: string, requestSize: number, replyKind: string, keys: readonly string[], values: ArrayLike<number>): void {
    if (this.rowKind[r] !== replyKind) this.rowKind[r] = replyKind;
    if (this.rowKeys[r] !== keys) this.rowKeys[r] = keys;
    const at = r * MAX_ROW_KEYS;
    for (let k = 0; k < keys.length; k++) this.values[at + k] = values[k];
    this.answered(r, slot, round, kind, requestSize);
  }

  private answered(r: number, slot: number, round: number, kind: string, requestSize: number): void {
    this.slot[r] = slot;
    this.round[r] = round;
    if (this.kind[r] !== kind) this.kind[r] = kind;
    this.requestSize[r] = requestSize;
    this.valid[r] = 1;
  }

  /**
   * A copy of row r's kept reply if this request is the one it answered, else undefined. A row is
   * given as the follower's own envelope (`encoder`'s), the bytes the leader reads as that row.
   */
  replyTo(r: number, slot: number, round: number, kind: string, requestSize: number, encoder: ReplyEncoder): Uint8Array | undefined {
    if (this.valid[r] === 0 || this.slot[r] !== slot || this.round[r] !== round || this.requestSize[r] !== requestSize || this.kind[r] !== kind) return undefined;
    const rowKind = this.rowKind[r];
    if (rowKind === undefined) return this.bytes[r].slice(0, this.len[r]);
    const n = writeRowEnvelope(encoder, slot, round, rowKind, this.rowKeys[r], this.values, r * MAX_ROW_KEYS);
    return encoder.bytes.slice(0, n);
  }

  forget(r: number): void {
    this.valid[r] = 0;
  }

  private grow(capacity: number): void {
    const valid = new Uint8Array(capacity);
    valid.set(this.valid);
    this.valid = valid;
    this.slot = grownTo(this.slot, capacity);
    this.round = grownTo(this.round, capacity);
    this.requestSize = grownTo(this.requestSize, capacity);
    this.values = grownTo(this.values, capacity * MAX_ROW_KEYS);
  }
}

const NO_BYTES = new Uint8Array(0);
const NO_KEYS: readonly string[] = [];
