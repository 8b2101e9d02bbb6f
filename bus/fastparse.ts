/**
 * A faster reader of the NATS protocol for mecsim's agent processes.
 *
 * Why: the NATS client (@nats-io/nats-core 3.x) parses what the server sends one byte at a time, in
 * a state machine whose every step is a `switch` over some thirty states read from an object (so a
 * chain of property loads and comparisons per byte), and it builds each message's subject, sid and
 * size through three Buffer views and an array. A leader gathering 10,000 replies a round spent about
 * a quarter of its CPU in that parser alone (CPU profile of a 1000-user price-search run: 161 ms of
 * 667 ms busy in `Parser.parse`, 3.7 µs per reply).
 *
 * What: `installFastParser()` replaces `Parser.prototype.parse` in the process that calls it (the
 * agent processes; never the bench process, whose raw NATS floor keeps the stock client). A `MSG`
 * frame that is complete in the buffer is read directly: its fields and the end of its line in one
 * scan (a call to `indexOf` per line cost more than the scan: 155 -> 100 ns a reply with the
 * payload's CRLF also checked in place), its subject and payload as plain `Uint8Array` views, and
 * the same event as the stock parser's is handed to the same dispatcher (`{ kind: MSG, msg: { subject, sid, reply, size,
 * hdr: -1 }, data }`). Every other frame (`HMSG`, `PING`, `PONG`, `+OK`, `-ERR`, `INFO`, anything
 * malformed) is cut out whole and given to the stock parser, so its handling and its errors are
 * the client's own. A frame split across reads is kept (copied) until the rest arrives and then read
 * whole; the stock parser never sees half a frame. The wire is unchanged, and what subscribers get
 * is the same: test/unit/fastparse.test.ts feeds both parsers the same byte streams, cut at every
 * position, and compares every event.
 *
 * If the client's internals are not what this expects (another major version), nothing is replaced
 * and the stock parser runs. The parser's classes are taken from the transport package's re-exports
 * of the core, so the class replaced is the one its connections make even if npm nests a second copy
 * of @nats-io/nats-core; bus/fastpath.ts checks each connection at connect time, and a connection it
 * marks (`mecsimStock` on its protocol handler) has every read handed to the stock parser.
 */
import { Kind, Parser, State, type NatsConnection, type Subscription } from '@nats-io/transport-node';

const CR = 13, NL = 10, SP = 32, TAB = 9;
const MAX_64MB = 64 * 1024 * 1024;
/** a frame still incomplete beyond this many bytes goes to the stock parser (it accumulates large payloads itself) */
const MAX_CARRY = 1 << 20;

type StockParse = (this: ParserState, buf: Uint8Array) => void;

interface RawSub {
  received: number;
  max?: number;
  mecsimRaw?: (data: Uint8Array) => void;
  /** as mecsimRaw, with the message's subject (a wildcard subscription's), both as ranges of the bytes read */
  mecsimRawSubject?: RangeHandler;
}

interface ParserState {
  dispatcher: {
    push(e: { kind: number; msg?: unknown; data?: Uint8Array }): void;
    /** set by bus/fastpath.ts on a connection that must use the client as it comes */
    mecsimStock?: boolean;
    /** the client's protocol handler has these (a test's dispatcher may not) */
    subscriptions?: { get(sid: number): RawSub | undefined };
    inMsgs: number;
    inBytes: number;
  };
  state: number;
  argBuf?: unknown;
  msgBuf?: unknown;
  /** bytes of an incomplete frame from earlier reads (ours) */
  mecsimCarry?: Uint8Array;
}

/** true when this process reads with the fast parser (installFastParser succeeded and was not undone) */
export function fastParserInstalled(): boolean {
  return (Parser as unknown as { prototype: { parse?: { mecsimFast?: boolean } } }).prototype?.parse?.mecsimFast === true;
}

/** Replace the NATS client's parser in this process; false (and nothing changed) if its internals are not the expected ones. */
export function installFastParser(): boolean {
  const proto = (Parser as unknown as { prototype: { parse?: StockParse & { mecsimFast?: boolean } } }).prototype;
  const stock = proto?.parse;
  if (stock?.mecsimFast) return true;
  if (typeof stock !== 'function' || typeof State?.OP_START !== 'number' || typeof Kind?.MSG !== 'number') return false;
  const OP_START = State.OP_START;
  const MSG = Kind.MSG;
  const fast = function (this: ParserState, input: Uint8Array): void {
    let buf = input;
    const carry = this.mecsimCarry;
    if (carry === undefined && this.dispatcher.mecsimStock === true) return stock.call(this, buf);
    if (carry !== undefined) {
      this.mecsimCarry = undefined;
      buf = new Uint8Array(carry.length + input.length);
      buf.set(carry);
      buf.set(input, carry.length);
    } else if (this.state !== OP_START || this.argBuf !== undefined || this.msgBuf !== undefined) {
      // the stock parser is in the middle of a frame (it was given a large one): let it finish
      return stock.call(this, buf);
    } else {
      // a plain Uint8Array over the socket's Buffer, as the carry's is: the readers that take these
      // bytes (a leader's rows and replies) then see one kind of array; Buffers and Uint8Arrays in
      // turn deoptimized their compiled code ("wrong map"), which was then compiled again
      buf = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    }
    const n = buf.length;
    const ab = buf.buffer;
    const base = buf.byteOffset;
    let i = 0;
    while (i < n) {
      const b0 = buf[i];
      if ((b0 === 77 || b0 === 109) && i + 3 < n && (buf[i + 1] | 32) === 115 && (buf[i + 2] | 32) === 103 && (buf[i + 3] === SP || buf[i + 3] === TAB)) {
        // MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n
        // up to four fields, starts and ends, in one pass to the line's end (its NL)
        let f = 0, s0 = 0, e0 = 0, s1 = 0, e1 = 0, s2 = 0, e2 = 0, s3 = 0, e3 = 0;
        let j = i + 4;
        while (j < n) {
          let c = buf[j];
          if (c === NL) break;
          if (c === SP || c === TAB || c === CR) {
            j++;
            continue;
          }
          const s = j;
          while (j < n && (c = buf[j]) !== SP && c !== TAB && c !== CR && c !== NL) j++;
          if (f === 0) (s0 = s), (e0 = j);
          else if (f === 1) (s1 = s), (e1 = j);
          else if (f === 2) (s2 = s), (e2 = j);
          else if (f === 3) (s3 = s), (e3 = j);
          f++;
        }
        if (j >= n) return keep(this, buf, i, stock);
        const nl = j;
        if (f !== 3 && f !== 4) return void stock.call(this, buf.subarray(i)); // the stock parser says what is wrong
        const sid = digits(buf, s1, e1, Number.MAX_SAFE_INTEGER);
        const size = f === 3 ? digits(buf, s2, e2, MAX_64MB) : digits(buf, s3, e3, MAX_64MB);
        if (sid < 0 || size < 0) return void stock.call(this, buf.subarray(i));
        const start = nl + 1;
        const end = start + size;
        // the payload and its trailing CRLF must be here (the stock parser skips to the next NL after the payload)
        const fin = end + 1 < n && buf[end] === CR && buf[end + 1] === NL ? end + 1 : end < n ? buf.indexOf(NL, end) : -1;
        if (fin < 0) return keep(this, buf, i, stock);
        i = fin + 1;
        const d = this.dispatcher;
        const sub = d.subscriptions?.get(sid);
        if (sub !== undefined && sub.mecsimRaw !== undefined && f === 3) {
          // a subscription that takes the payload alone (onData): what processMsg would do, without the message objects
          d.inMsgs++;
          d.inBytes += size;
          sub.received += 1;
          sub.mecsimRaw(new Uint8Array(ab, base + start, size));
          continue;
        }
        if (sub !== undefined && sub.mecsimRawSubject !== undefined && f === 3) {
          d.inMsgs++;
          d.inBytes += size;
          sub.received += 1;
          sub.mecsimRawSubject(buf, start, end, buf, s0, e0);
          continue;
        }
        const msg = {
          sid,
          hdr: -1,
          size,
          subject: new Uint8Array(ab, base + s0, e0 - s0),
          reply: f === 4 ? new Uint8Array(ab, base + s2, e2 - s2) : undefined,
        };
        d.push({ kind: MSG, msg, data: new Uint8Array(ab, base + start, size) });
        continue;
      }
      // any other frame: cut it out whole and let the stock parser read it
      const nl = buf.indexOf(NL, i);
      if (nl < 0) return keep(this, buf, i, stock);
      let frameEnd = nl + 1;
      if (b0 === 72 || b0 === 104) {
        // HMSG <subject> <sid> [reply] <header size> <total size>\r\n<headers+payload>\r\n
        let e = nl;
        if (buf[e - 1] === CR) e--;
        let k = e;
        while (k > i && buf[k - 1] !== SP && buf[k - 1] !== TAB) k--;
        const total = digits(buf, k, e, MAX_64MB);
        if (total < 0) return void stock.call(this, buf.subarray(i));
        const end = nl + 1 + total;
        const fin = end < n ? buf.indexOf(NL, end) : -1;
        if (fin < 0) return keep(this, buf, i, stock);
        frameEnd = fin + 1;
      }
      stock.call(this, buf.subarray(i, frameEnd));
      i = frameEnd;
      if (this.state !== OP_START || this.argBuf !== undefined || this.msgBuf !== undefined) {
        // not a whole frame after all (cannot happen with a well-formed stream): the stock parser goes on alone
        if (i < n) stock.call(this, buf.subarray(i));
        return;
      }
    }
  };
  proto.parse = Object.assign(fast, { mecsimFast: true, mecsimStockParse: stock });
  return true;
}

/**
 * Put the client's own parser back (the bench measures its NATS floor through mecsim's reader, then
 * runs the framework's orchestrator as `mecsim run` does: with the stock one). Only for a process
 * with no open connection that read with the fast parser: a frame it kept half-read would be lost.
 */
export function uninstallFastParser(): void {
  const proto = (Parser as unknown as { prototype: { parse?: StockParse & { mecsimFast?: boolean; mecsimStockParse?: StockParse } } }).prototype;
  const stock = proto?.parse?.mecsimStockParse;
  if (proto?.parse?.mecsimFast && stock) proto.parse = stock;
}

/** The frame at `i` is not complete: keep its bytes for the next read, or hand a large one to the stock parser. */
function keep(p: ParserState, buf: Uint8Array, i: number, stock: StockParse): void {
  if (buf.length - i > MAX_CARRY) return stock.call(p, buf.subarray(i));
  p.mecsimCarry = buf.slice(i);
}

/** A non-negative decimal integer in buf[s, e) no larger than max, or -1 (as the stock parser's protoParseInt). */
function digits(buf: Uint8Array, s: number, e: number, max: number): number {
  if (e <= s) return -1;
  let v = 0;
  for (let k = s; k < e; k++) {
    const c = buf[k] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > max ? -1 : v;
}

/**
 * Subscribe with a callback that takes the payload alone. With the fast parser installed, a plain
 * message (no headers, no reply subject) for it is handed over straight from the parser: no message
 * objects (the client's parser event, its message, the subject's bytes), which at 10,000 replies a
 * round is a measurable share of a leader's time. Any other message, and every message when the
 * stock parser runs, goes through the client's callback with the same payload. The subscription's
 * subject is the caller's to know (each of mecsim's hot subscriptions is on one literal subject).
 */
export function subscribeData(nc: NatsConnection, subject: string, onData: (data: Uint8Array) => void): Subscription {
  const sub = nc.subscribe(subject, { callback: (err, msg) => (err ? undefined : onData(msg.data)) });
  const raw = sub as unknown as RawSub;
  const stockClient = (nc as unknown as { protocol?: { mecsimStock?: boolean } }).protocol?.mecsimStock === true;
  if (!stockClient && raw.max === undefined && typeof raw.received === 'number') raw.mecsimRaw = onData;
  return sub;
}

const subjectEncoder = new TextEncoder();

/**
 * A message as ranges of bytes, valid only during the call: its payload is data[start, end), its
 * subject subject[subjectStart, subjectEnd). With mecsim's reader both are the bytes it read from
 * the socket (no view made per message: a leader takes 10,000 replies a round).
 */
export type RangeHandler = (data: Uint8Array, start: number, end: number, subject: Uint8Array, subjectStart: number, subjectEnd: number) => void;

/**
 * subscribeData for a wildcard subscription: the callback also gets the message's subject, as
 * ranges of bytes (RangeHandler). With the stock parser the client's message is taken apart the same
 * way (its subject encoded), so the callback sees the same bytes either way.
 */
export function subscribeDataWithSubject(nc: NatsConnection, subject: string, onData: RangeHandler): Subscription {
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const s = subjectEncoder.encode(msg.subject);
      onData(msg.data, 0, msg.data.length, s, 0, s.length);
    },
  });
  const raw = sub as unknown as RawSub;
  const stockClient = (nc as unknown as { protocol?: { mecsimStock?: boolean } }).protocol?.mecsimStock === true;
  if (!stockClient && raw.max === undefined && typeof raw.received === 'number') raw.mecsimRawSubject = onData;
  return sub;
}
