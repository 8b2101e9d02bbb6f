/**
 * A faster publish for mecsim's two hot paths: an agent's reply and a leader's round request.
 *
 * Why: the NATS client's `publish` tests the subject against a regular expression, builds the
 * protocol line `PUB <subject> <size>\r\n` as a string and encodes it to bytes, then queues three
 * buffers (line, payload, CRLF) that the flush copies into one. For one reply of ~60 bytes that is
 * most of the cost of sending it; in a CPU profile of a packed worker at 1000 users the publish path
 * was about a fifth of the worker's busy time.
 *
 * What: `publishFast(nc, subject, data)` writes the same bytes the client would — `PUB <subject>
 * <size>\r\n<payload>\r\n` — the `PUB <subject> ` part encoded once per subject, into the
 * connection's batch of frames (FrameBatch), which it queues where the client queues its own
 * (`sendCommand`), with the client's own counters (`outMsgs`, `outBytes`). Anything unusual — a closed or draining connection, a payload above the
 * server's limit, a subject the client would refuse, a client whose internals are not the expected
 * ones, a connection bus/fastpath.ts found not to be the client this was written for — goes through
 * `nc.publish`, so its errors are the client's own. test/unit/fastpublish.test.ts checks the bytes
 * against the client's. MECSIM_STOCK_PUBLISH=1 turns it off.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { copyBytes } from './bytes.ts';

interface Protocol {
  sendCommand(cmd: Uint8Array, ...payloads: Uint8Array[]): void;
  flushPending(): void;
  pendingLimit?: number;
  /** this connection's frames not yet handed to the client (see FrameBatch) */
  mecsimBatch?: FrameBatch;
  outMsgs: number;
  outBytes: number;
  noMorePublishing: boolean;
  isClosed(): boolean;
  info?: { max_payload?: number };
  /** set by bus/fastpath.ts on a connection that must use the client as it comes */
  mecsimStock?: boolean;
}

const enabled = process.env.MECSIM_STOCK_PUBLISH !== '1';

const settled = Promise.resolve();
/**
 * Runs `fn` at the end of the current task, as queueMicrotask does, without the async-hooks resource
 * Node's queueMicrotask makes for every call (an object, an async id and a bound callback, whose
 * dozen functions each worker and the leader went on compiling slot after slot). `fn` must not throw.
 */
export function afterThisTask(fn: () => void): void {
  void settled.then(fn);
}

/** false under MECSIM_STOCK_PUBLISH=1: every publish is the client's own */
export function fastPublishEnabled(): boolean {
  return enabled;
}
const te = new TextEncoder();
/** `PUB <subject> ` as bytes, per subject (a worker's agents' reply subjects and a leader's request subjects) */
const heads = new Map<string, Uint8Array>();
const MAX_HEADS = 1 << 17;
const SUBJECT_OK = /^[^\s]+$/;

/**
 * A connection's fast-published frames, written back to back into one slab and handed to the client
 * as one buffer: at the end of the current task (a microtask), when they reach the client's own
 * flush size (then written at once, alone), or before anything else the client sends or flushes on
 * that connection, so the order on the wire is the order of the calls. The client then queues one
 * buffer a batch instead of one per frame, and writes it without copying it into another: at 2,500
 * agents a worker, the per-frame views, the queue's growth and the copy of every frame into the
 * client's write buffer were a tenth of a worker's CPU. A slab is only ever appended to; one that is
 * full is dropped (its bytes stay alive while the socket writes them) and a new one started.
 */
class FrameBatch {
  private slab = new Uint8Array(SLAB);
  /** the first byte not yet handed to the client, and the end of what is written */
  private start = 0;
  private used = 0;
  private scheduled = false;
  private readonly limit: number;

  constructor(
    pendingLimit: number | undefined,
    private readonly sendCommand: (cmd: Uint8Array) => void,
    private readonly flushPending: () => void,
  ) {
    this.limit = Math.min(pendingLimit ?? 32 * 1024, SLAB);
  }

  /** Hooks the client's connection so that whatever it sends or flushes comes after the batch. */
  static of(ph: Protocol): FrameBatch {
    const existing = ph.mecsimBatch;
    if (existing) return existing;
    const sendCommand = ph.sendCommand;
    const flushPending = ph.flushPending;
    const batch = new FrameBatch(
      ph.pendingLimit,
      (cmd) => sendCommand.call(ph, cmd),
      () => flushPending.call(ph),
    );
    ph.sendCommand = function (this: Protocol, cmd: Uint8Array, ...payloads: Uint8Array[]) {
      batch.handOver();
      return sendCommand.call(this, cmd, ...payloads);
    };
    ph.flushPending = function (this: Protocol) {
      batch.handOver();
      return flushPending.call(this);
    };
    ph.mecsimBatch = batch;
    return batch;
  }

  /** the slab the last reserve() is in */
  get buf(): Uint8Array {
    return this.slab;
  }

  /** Room for a frame of `n` bytes: where in `buf` to write it. */
  reserve(n: number): number {
    if (this.used + n > this.slab.length) {
      this.handOver();
      this.slab = new Uint8Array(Math.max(SLAB, n));
      this.start = this.used = 0;
    }
    const at = this.used;
    this.used += n;
    if (!this.scheduled) {
      this.scheduled = true;
      afterThisTask(this.onTick);
    }
    return at;
  }

  /** After a frame is written: a batch of the client's flush size goes out now, alone. */
  written(): void {
    if (this.used - this.start < this.limit) return;
    this.handOver();
    this.flushPending();
  }

  /** Queues what is written and not yet handed over, as one buffer, with the client. */
  handOver(): void {
    if (this.used === this.start) return;
    const frames = this.slab.subarray(this.start, this.used);
    this.start = this.used;
    this.sendCommand(frames);
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.handOver();
  };
}

const SLAB = 1 << 16;

/**
 * `PUB <subject> ` as bytes, for a caller that publishes on one subject again and again (an agent's
 * reply subject, its host's for its role) and keeps them: looked up when the agent is set up,
 * instead of at every message (at 2,500 agents a worker, that table's lookup and the first round's
 * encodings were a visible share of a round). The agents of a host share one reply subject, and so
 * one head. undefined for a subject the client would refuse: publishFast then sends through
 * `nc.publish`, whose error is the client's.
 */
export function publishHead(subject: string): Uint8Array | undefined {
  let head = heads.get(subject);
  if (head !== undefined) return head;
  if (!SUBJECT_OK.test(subject)) return undefined;
  if (heads.size >= MAX_HEADS) heads.clear();
  head = te.encode(`PUB ${subject} `);
  heads.set(subject, head);
  return head;
}

/**
 * Queue `data` on `subject`. `data` is copied before this returns and never kept, so it may be a
 * scratch buffer the caller reuses (the envelope encoder's). `head`, when given, must be
 * publishHead(subject).
 */
export function publishFast(nc: NatsConnection, subject: string, data: Uint8Array, head?: Uint8Array): void {
  const ph = (nc as unknown as { protocol?: Protocol }).protocol;
  if (!enabled || ph === undefined || ph.mecsimStock === true || typeof ph.sendCommand !== 'function' || typeof ph.flushPending !== 'function' || ph.isClosed() || ph.noMorePublishing) return nc.publish(subject, data.slice());
  const len = data.length;
  const max = ph.info?.max_payload;
  if (max !== undefined && len > max) return nc.publish(subject, data.slice());
  if (head === undefined) head = publishHead(subject);
  if (head === undefined) return nc.publish(subject, data.slice());
  const nd = len < 10 ? 1 : len < 100 ? 2 : len < 1000 ? 3 : len < 10000 ? 4 : String(len).length;
  const h = head.length;
  const n = h + nd + 2 + len + 2;
  ph.outBytes += len;
  ph.outMsgs++;
  if (n > SLAB >> 3) {
    // a large frame: its own buffer, after the batch
    const buf = new Uint8Array(n);
    writeFrame(buf, 0, head, nd, data);
    return ph.sendCommand(buf);
  }
  const batch = FrameBatch.of(ph);
  const at = batch.reserve(n);
  writeFrame(batch.buf, at, head, nd, data);
  batch.written();
}

/** `<head><size>\r\n<data>\r\n` at `o` (the size's `nd` digits written from the right) */
function writeFrame(buf: Uint8Array, o: number, head: Uint8Array, nd: number, data: Uint8Array): void {
  const h = head.length;
  const len = data.length;
  copyBytes(buf, o, head, h);
  let at = o + h + nd;
  for (let v = len, k = at - 1; k >= o + h; k--, v = Math.floor(v / 10)) buf[k] = 48 + (v % 10);
  buf[at++] = 13;
  buf[at++] = 10;
  copyBytes(buf, at, data, len);
  at += len;
  buf[at++] = 13;
  buf[at] = 10;
}
