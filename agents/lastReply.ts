import { copyBytes } from '../bus/bytes.ts';

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
  private bytes = new Uint8Array(64);
  private len = 0;

  /** Remember the first `n` bytes of `reply` (copied: it may be the encoder's scratch) as the answer to this request. */
  keep(slot: number, round: number, kind: string, requestSize: number, reply: Uint8Array, n = reply.length): void {
    if (n > this.bytes.length) this.bytes = new Uint8Array(Math.max(n, 2 * this.bytes.length));
    copyBytes(this.bytes, 0, reply, n);
    this.len = n;
    this.slot = slot;
    this.round = round;
    this.kind = kind;
    this.requestSize = requestSize;
    this.valid = true;
  }

  /** A copy of the kept reply if this request is the one it answered, else undefined. */
  replyTo(slot: number, round: number, kind: string, requestSize: number): Uint8Array | undefined {
    if (!this.valid || this.slot !== slot || this.round !== round || this.kind !== kind || this.requestSize !== requestSize) return undefined;
    return this.bytes.slice(0, this.len);
  }

  forget(): void {
    this.valid = false;
  }
}
