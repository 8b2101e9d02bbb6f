/**
 * A host's replies on one reply subject, sent as one NATS message per task: the envelopes its agents
 * answer with while it handles one broadcast (or one direct request), back to back, each exactly the
 * bytes it would have been sent as alone.
 *
 * Why: the agents packed in a worker share one connection, and a broadcast is answered by all of a
 * role's agents there in one task. One message per reply made the server parse, route and write
 * 2,500 frames a round per worker at 10,000 users, and the leader's reader take each apart; on this
 * kind of machine the per-message cost of NATS, not the framework's, was most of a round.
 *
 * What the receiver checks is unchanged: it cuts the message into its envelopes (bus/fastpack.ts
 * valueEnd) and checks each as it checked a message alone — run, sender, role and host, slot and
 * round — and counts each as a message; the subject still names the host, which the server's
 * permissions pin. A message of one envelope is the old wire format, so an agent that does not batch
 * (a process of its own, a client in another language) is read the same way.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { copyBytes, grownTo } from './bytes.ts';
import { ENVELOPE_VERSION, runTag, type ReplyEncoder } from './codec.ts';
import type { Counters } from './counters.ts';
import { packArray, packRows, scratch } from './fastpack.ts';
import { afterThisTask, publishFast, publishHead } from './fastpublish.ts';
import { isAscii, MAX_KEY, MAX_ROW_KEYS, ROWS_KIND, writeRowEnvelope } from './replyRows.ts';

/** a batch is sent once it would pass this many bytes (it stays one frame in the publish slab's range) */
export const BATCH_BYTES = 16 * 1024;

export interface ReplyBatchOptions {
  /** where `coalesced` is counted (the envelopes that went inside another's message) */
  counters?: Counters;
  /** the server's largest message (default: the connection's) */
  maxPayload?: number;
  /** told of a batch the client refused (the connection closed), with how many envelopes it held */
  lost?: (error: unknown, envelopes: number) => void;
  /** the run and this host's id: replies added as rows (addRow) go as the host's rows envelopes (bus/replyRows.ts) */
  rows?: { run: string; host: string };
}

/** An agent whose reply goes as a row: its roster position, and its own encoder (for a row that goes alone, as its envelope). */
export interface RowSender {
  readonly position: number;
  readonly encoder: ReplyEncoder;
}

const hasOwn = Object.prototype.hasOwnProperty;

export class ReplyBatch {
  private buf = new Uint8Array(4096);
  private used = 0;
  /** envelopes in the batch (a rows envelope counts its rows) */
  private count = 0;
  private scheduled = false;
  private readonly head: Uint8Array | undefined;
  private readonly limit: number;
  /** the rows in the making (see addRow), written into the batch when closed */
  private readonly group: RowGroup | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly subject: string,
    private readonly o: ReplyBatchOptions = {},
  ) {
    this.head = publishHead(subject);
    this.limit = Math.min(BATCH_BYTES, o.maxPayload ?? nc.info?.max_payload ?? BATCH_BYTES);
    if (o.rows) this.group = new RowGroup(o.rows.run, o.rows.host);
  }

  /** Adds an envelope's bytes, the first `n` of `envelope` (copied at once: they may be the encoder's scratch buffer). */
  add(envelope: Uint8Array, n = envelope.length): void {
    const pending = this.used + (this.group && this.group.rows > 0 ? this.group.bound : 0);
    if (pending > 0 && pending + n > this.limit) this.send();
    this.append(envelope, n, 1);
  }

  /**
   * Adds `from`'s reply as a row of the host's rows envelope (bus/replyRows.ts), if the batch makes
   * rows and `body` is a plain map of at most MAX_ROW_KEYS numbers under short ASCII keys; false
   * otherwise (then add its envelope). Its values are copied at once, and counted as a reply sent
   * when the rows are written. Replies of another request or kind, or with other keys, start new rows.
   */
  addRow(from: RowSender, slot: number, round: number, kind: string, body: object): boolean {
    const g = this.group;
    if (!g || from.position < 0 || !g.read(body)) return false;
    if (!g.fits(slot, round, kind)) this.closeRows();
    const rowBound = g.rowBound();
    if (g.rows > 0 && this.used + g.bound + rowBound > this.limit) this.closeRows();
    if (g.rows === 0) {
      if (this.used > 0 && this.used + g.headBound() + rowBound > this.limit) this.send();
      if (g.headBound() + rowBound > this.limit || !g.open(slot, round, kind)) return false;
    }
    g.push(from, rowBound);
    this.schedule();
    return true;
  }

  /** the keys and values addRow read last (the row just added) */
  get rowKeys(): readonly string[] {
    return this.group!.keys;
  }
  get rowValues(): ArrayLike<number> {
    return this.group!.values;
  }

  /** Publishes what has been added, as one message. */
  send(): void {
    this.closeRows();
    if (this.used === 0) return;
    const count = this.count;
    const data = this.buf.subarray(0, this.used);
    this.used = 0;
    this.count = 0;
    try {
      publishFast(this.nc, this.subject, data, this.head);
    } catch (e) {
      // the connection closed or is draining (the host is going): the client refuses the message, as
      // it would have refused each reply; the leader re-sends requests whose replies do not come. Not
      // thrown: from the end-of-task callback it would end the process.
      this.o.lost?.(e, count);
      return;
    }
    if (this.o.counters) this.o.counters.coalesced += count - 1;
  }

  /** Writes the rows in the making into the batch: one rows envelope, or a lone row as its agent's envelope. */
  private closeRows(): void {
    const g = this.group;
    if (!g || g.rows === 0) return;
    const rows = g.rows;
    const n = rows > 1 ? g.packRows() : -1;
    if (n >= 0) {
      this.append(scratch(), n, rows);
      this.o.counters?.sent('reply', g.kind, n, rows);
    } else
      for (let r = 0; r < rows; r++) {
        const e = g.rowEnvelope(r);
        this.append(e.bytes, e.n, 1);
        this.o.counters?.sent('reply', g.kind, e.n);
      }
    g.clear();
  }

  private append(bytes: Uint8Array, n: number, envelopes: number): void {
    if (this.used + n > this.buf.length) this.grow(this.used + n);
    copyBytes(this.buf, this.used, bytes, n);
    this.used += n;
    this.count += envelopes;
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      afterThisTask(this.onTick);
    }
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.send();
  };
}

/**
 * The replies of one request and kind, with the same keys, as rows (bus/replyRows.ts): their senders'
 * roster positions and their values, row after row. `bound` is at most the bytes they will take.
 */
class RowGroup {
  private readonly head: Uint8Array;
  private readonly mid: Uint8Array;
  slot = 0;
  round = 0;
  kind = '';
  /** the open rows' keys (a new array when they change, never changed in place) */
  keys: string[] = [];
  rows = 0;
  bound = 0;
  /**
   * Each row's roster position and its values (row r's at table[r * width …]). Typed arrays, grown
   * as needed: arrays of V8's heap changed their elements' kind (small integers, then doubles) in
   * the first rounds, and each change deoptimized the code that wrote them.
   */
  private at = new Float64Array(64);
  private senders: RowSender[] = [];
  private table = new Float64Array(64 * 2);
  /** the body read last (read): its keys, values and width, and whether its keys are the open rows' */
  private readonly readKeys: string[] = [];
  readonly values = new Float64Array(MAX_ROW_KEYS);
  private width = 0;
  private keysSame = false;

  constructor(run: string, host: string) {
    this.head = packArray([ENVELOPE_VERSION, runTag(run)])!.slice(1);
    this.mid = packArray([ROWS_KIND, host])!.slice(1);
  }

  /** Reads a reply body's keys and values, if it is a plain map of numbers that rows can carry. */
  read(body: object): boolean {
    // The `__proto__` load comes first for V8's sake: it checks the body's hidden class, after which
    // the optimizing compiler folds Object.getPrototypeOf to a constant and reads the for-in below
    // from the class's enum cache. Without it, Object.getPrototypeOf was a call into the runtime for
    // every reply, and the for-in a builtin call (a host's path for 2,500 followers: 0.55 ->
    // 0.50 ms a broadcast). A body whose `__proto__` is not its prototype (a getter of its own) is
    // no plain map: its reply goes as its envelope.
    const accessor = (body as { __proto__?: unknown }).__proto__;
    const proto = Object.getPrototypeOf(body);
    if (proto !== null && (proto !== Object.prototype || accessor !== proto)) return false;
    const open = this.keys;
    let same = true;
    let n = 0;
    for (const k in body) {
      if (n === MAX_ROW_KEYS || !hasOwn.call(body, k) || k.length > MAX_KEY || k === '__proto__') return false;
      const v = (body as Record<string, unknown>)[k];
      if (typeof v !== 'number') return false;
      // compared as read: the rows' keys are checked once per reply, in this loop
      same = same && n < open.length && open[n] === k;
      this.readKeys[n] = k;
      this.values[n++] = v;
    }
    this.width = n;
    this.keysSame = same && n === open.length;
    return true;
  }

  /** whether the body read last may join the open rows (the same request, kind and keys) */
  fits(slot: number, round: number, kind: string): boolean {
    return this.rows > 0 && slot === this.slot && round === this.round && kind === this.kind && this.keysSame;
  }

  /** Opens rows of the body read last's keys; false if the kind or a key is not ASCII (rows are written by the fast packer alone). */
  open(slot: number, round: number, kind: string): boolean {
    if (!this.keysSame) {
      for (let k = 0; k < this.width; k++) if (!isAscii(this.readKeys[k])) return false;
      this.keys = this.readKeys.slice(0, this.width);
      this.keysSame = true;
    }
    if (kind !== this.kind && !(kind.length <= 64 && isAscii(kind))) return false;
    this.slot = slot;
    this.round = round;
    this.kind = kind;
    this.bound = this.headBound();
    return true;
  }

  push(from: RowSender, rowBound: number): void {
    const r = this.rows++;
    const w = this.width;
    if (r === this.at.length || (r + 1) * w > this.table.length) this.grow(r + 1, w);
    this.at[r] = from.position;
    this.senders[r] = from;
    const table = this.table;
    const values = this.values;
    for (let k = 0, i = r * w; k < w; k++, i++) table[i] = values[k];
    this.bound += rowBound;
  }

  /** room for `rows` rows of `width` values (twice what is needed: a batch grows a row at a time) */
  private grow(rows: number, width: number): void {
    if (rows > this.at.length) this.at = grownTo(this.at, 2 * rows);
    if (rows * width > this.table.length) this.table = grownTo(this.table, 2 * rows * width);
  }

  /** at most the bytes of the envelope without rows: header, host, kind, keys */
  headBound(): number {
    return 128 + this.mid.length + 40 * this.width;
  }

  /** at most a row's bytes: its position and its numbers */
  rowBound(): number {
    return 5 + 9 * this.width;
  }

  packRows(): number {
    return packRows(this.head, this.slot, this.round, this.mid, this.kind, this.at, this.keys, this.table, this.rows);
  }

  /** row r as its agent's own envelope (in that agent's encoder's scratch) */
  rowEnvelope(r: number): { bytes: Uint8Array; n: number } {
    const enc = this.senders[r].encoder;
    const n = writeRowEnvelope(enc, this.slot, this.round, this.kind, this.keys, this.table, r * this.keys.length);
    return { bytes: enc.bytes, n };
  }

  clear(): void {
    this.rows = 0;
    this.bound = 0;
  }
}

/** A host's batches, one per reply subject. */
export class ReplyBatches {
  private readonly bySubject = new Map<string, ReplyBatch>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: Omit<ReplyBatchOptions, 'maxPayload'> = {},
  ) {}

  for(subject: string): ReplyBatch {
    let b = this.bySubject.get(subject);
    if (!b) this.bySubject.set(subject, (b = new ReplyBatch(this.nc, subject, this.o)));
    return b;
  }
}
