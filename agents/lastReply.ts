import { copyBytes } from '../bus/bytes.ts';
import type { ReplyEncoder } from '../bus/codec.ts';
import { writeRowEnvelope } from '../bus/replyRows.ts';

/**
 * A follower's last answered request and its reply's bytes. A request the leader re-sends (its first
 * copy or our reply was lost) is recognized by its slot, round, kind and size, and gets the same bytes
 * back without running the handler again, so a retransmission never advances a follower's state
 * twice. Kept in place, in a buffer of the agent's own: a reply allocates nothing that outlives its
 * round (at 10,000 agents, a new record and a new buffer per reply were promoted out of the young
 * generation every round, and freed the round after).
 */
export class LastReply {
  private valid = false;
  private slot = 0;
  private round = 0;
  private kind = '';
  /** the request's size, bytes */
  private requestSize = 0;
  /** made at the first reply kept as bytes: a follower whose replies go as rows never needs one (thousands of small buffers a worker) */
  private bytes = NO_BYTES;
  private len = 0;
  /** a reply sent as a row (bus/replyRows.ts): its kind, keys and values, encoded only if asked for again */
  private rowKind: string | undefined;
  private rowKeys: readonly string[] = [];
  private readonly rowValues: number[] = [];

  /** Remember the first `n` bytes of `reply` (copied: it may be the encoder's scratch) as the answer to this request. */
  keep(slot: number, round: number, kind: string, requestSize: number, reply: Uint8Array, n = reply.length): void {
    if (n > this.bytes.length) this.bytes = new Uint8Array(Math.max(n, 64, 2 * this.bytes.length));
    copyBytes(this.bytes, 0, reply, n);
    this.len = n;
    this.rowKind = undefined;
    this.answered(slot, round, kind, requestSize);
  }

  /** Remember a reply sent as a row: its kind, keys (never changed in place) and values (copied). */
  keepRow(slot: number, round: number, kind: string, requestSize: number, replyKind: string, keys: readonly string[], values: readonly number[]): void {
    this.rowKind = replyKind;
    this.rowKeys = keys;
    for (let k = 0; k < keys.length; k++) this.rowValues[k] = values[k];
    this.answered(slot, round, kind, requestSize);
  }

  /** the request the kept reply answers */
  private answered(slot: number, round: number, kind: string, requestSize: number): void {
    this.slot = slot;
    this.round = round;
    this.kind = kind;
    this.requestSize = requestSize;
    this.valid = true;
  }

  /**
   * A copy of the kept reply if this request is the one it answered, else undefined. A row is given
   * as the agent's own envelope (`encoder`'s), the bytes the leader reads as that row.
   */
  replyTo(slot: number, round: number, kind: string, requestSize: number, encoder: ReplyEncoder): Uint8Array | undefined {
    if (!this.valid || this.slot !== slot || this.round !== round || this.kind !== kind || this.requestSize !== requestSize) return undefined;
    if (this.rowKind === undefined) return this.bytes.slice(0, this.len);
    const n = writeRowEnvelope(encoder, slot, round, this.rowKind, this.rowKeys, this.rowValues, 0);
    return encoder.bytes.slice(0, n);
  }

  forget(): void {
    this.valid = false;
  }
}

const NO_BYTES = new Uint8Array(0);
