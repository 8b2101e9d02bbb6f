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
 * <size>\r\n<payload>\r\n` — into one buffer, the `PUB <subject> ` part encoded once per subject, and
 * queues it where the client queues its own (`sendCommand`), with the client's own counters
 * (`outMsgs`, `outBytes`). Anything unusual — a closed or draining connection, a payload above the
 * server's limit, a subject the client would refuse, a client whose internals are not the expected
 * ones, a connection bus/fastpath.ts found not to be the client this was written for — goes through
 * `nc.publish`, so its errors are the client's own. test/unit/fastpublish.test.ts checks the bytes
 * against the client's. MECSIM_STOCK_PUBLISH=1 turns it off.
 */
import type { NatsConnection } from '@nats-io/transport-node';

interface Protocol {
  sendCommand(cmd: Uint8Array): void;
  outMsgs: number;
  outBytes: number;
  noMorePublishing: boolean;
  isClosed(): boolean;
  info?: { max_payload?: number };
  /** set by bus/fastpath.ts on a connection that must use the client as it comes */
  mecsimStock?: boolean;
}

const enabled = process.env.MECSIM_STOCK_PUBLISH !== '1';

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
 * Frames are cut from 64 KiB slabs: a typed array of more than 64 bytes gets a backing store of its
 * own outside V8's heap (an allocation and a finalizer each), and a reply's frame is about 90 bytes.
 * A view on a slab is one small heap object. A slab is never written twice: it is dropped when full
 * and freed once the last frame cut from it has been flushed to the socket.
 */
const SLAB = 1 << 16;
let slab = new Uint8Array(SLAB);
let used = 0;

/**
 * `PUB <subject> ` as bytes, for a caller that publishes on one subject again and again (an agent's
 * reply subject) and keeps them: made once, when the agent is set up, instead of looked up in the
 * per-process table at every message (at 2,500 agents a worker, that table's lookup and the first
 * round's encodings were a visible share of a round). undefined for a subject the client would
 * refuse: publishFast then sends through `nc.publish`, whose error is the client's.
 */
export function publishHead(subject: string): Uint8Array | undefined {
  if (!SUBJECT_OK.test(subject)) return undefined;
  const bytes = te.encode(`PUB ${subject} `);
  if (bytes.length > HEAD_SLAB >> 4) return bytes;
  // cut from a shared slab, in the order the agents were set up: a round reads them in about that
  // order, from neighbouring memory, instead of from one separate allocation per agent
  if (headUsed + bytes.length > HEAD_SLAB) {
    headSlab = new Uint8Array(HEAD_SLAB);
    headUsed = 0;
  }
  const head = headSlab.subarray(headUsed, headUsed + bytes.length);
  head.set(bytes);
  headUsed += bytes.length;
  return head;
}
const HEAD_SLAB = 1 << 16;
let headSlab = new Uint8Array(HEAD_SLAB);
let headUsed = 0;

/**
 * Queue `data` on `subject`. `data` is copied before this returns and never kept, so it may be a
 * scratch buffer the caller reuses (the envelope encoder's). `head`, when given, must be
 * publishHead(subject).
 */
export function publishFast(nc: NatsConnection, subject: string, data: Uint8Array, head?: Uint8Array): void {
  const ph = (nc as unknown as { protocol?: Protocol }).protocol;
  if (!enabled || ph === undefined || ph.mecsimStock === true || typeof ph.sendCommand !== 'function' || ph.isClosed() || ph.noMorePublishing) return nc.publish(subject, data.slice());
  const len = data.length;
  const max = ph.info?.max_payload;
  if (max !== undefined && len > max) return nc.publish(subject, data.slice());
  if (head === undefined) head = heads.get(subject);
  if (head === undefined) {
    if (!SUBJECT_OK.test(subject)) return nc.publish(subject, data.slice());
    if (heads.size >= MAX_HEADS) heads.clear();
    head = te.encode(`PUB ${subject} `);
    heads.set(subject, head);
  }
  const nd = len < 10 ? 1 : len < 100 ? 2 : len < 1000 ? 3 : len < 10000 ? 4 : String(len).length;
  const h = head.length;
  const n = h + nd + 2 + len + 2;
  let buf: Uint8Array;
  let o: number;
  if (n > SLAB >> 3) {
    buf = new Uint8Array(n);
    o = 0;
  } else {
    if (used + n > SLAB) {
      slab = new Uint8Array(SLAB);
      used = 0;
    }
    buf = slab;
    o = used;
    used += n;
  }
  buf.set(head, o);
  let at = o + h + nd;
  for (let v = len, k = at - 1; k >= o + h; k--, v = Math.floor(v / 10)) buf[k] = 48 + (v % 10);
  buf[at++] = 13;
  buf[at++] = 10;
  buf.set(data, at);
  at += len;
  buf[at++] = 13;
  buf[at] = 10;
  ph.outBytes += len;
  ph.outMsgs++;
  ph.sendCommand(buf === slab ? new Uint8Array(slab.buffer, o, n) : buf);
}
