import { afterAll, describe, expect, it } from 'vitest';
import { Kind, Parser } from '@nats-io/transport-node';
import { installFastParser } from '../../bus/fastparse.ts';

// the stock parser, taken before the fast one replaces it
const proto = (Parser as unknown as { prototype: { parse: (buf: Uint8Array) => void } }).prototype;
const stockParse = proto.parse;
expect(installFastParser()).toBe(true);
const fastParse = proto.parse;
// the replacement is process-wide: put the stock parser back for whatever runs next in this worker
afterAll(() => void (proto.parse = stockParse));

const te = new TextEncoder();
const td = new TextDecoder();

/** Every event a parser hands its dispatcher, as comparable text; a thrown error ends the list. */
function events(parse: (buf: Uint8Array) => void, chunks: Uint8Array[]): string[] {
  const out: string[] = [];
  const dispatcher = {
    push(e: { kind: number; msg?: { subject: Uint8Array; sid: number; reply?: Uint8Array; size: number; hdr: number }; data?: Uint8Array }) {
      if (e.kind === Kind.MSG) {
        const m = e.msg!;
        out.push(`MSG ${td.decode(m.subject)} ${m.sid} ${m.reply && m.reply.length ? td.decode(m.reply) : '-'} ${m.size} hdr=${m.hdr} [${Buffer.from(e.data!).toString('hex')}]`);
      } else out.push(`${e.kind} ${e.data ? td.decode(e.data) : ''}`);
    },
  };
  const p = new (Parser as unknown as new (d: unknown) => object)(dispatcher);
  try {
    for (const c of chunks) parse.call(p, Buffer.from(c)); // the transport hands Buffers
  } catch (e) {
    out.push(`threw ${(e as Error).message}`);
  }
  return out;
}

function frames(): Uint8Array {
  const parts: (string | Uint8Array)[] = [
    'INFO {"server_id":"x","max_payload":1048576,"headers":true}\r\n',
    '+OK\r\n',
    'MSG mecsim.abcdefgh.rep.mec-0.ue-17 12 5\r\nhello\r\n',
    'MSG mecsim.abcdefgh.bc.ue 3 _INBOX.xyz.1 3\r\n',
    new Uint8Array([0x93, 0x0d, 0x0a]), // a payload holding CR LF
    '\r\n',
    'PING\r\n',
    'MSG a.b 1 0\r\n\r\n', // empty payload
    'HMSG a.h 7 _INBOX.r 22 27\r\nNATS/1.0\r\nX-A: 1\r\n\r\nhello\r\n',
    'PONG\r\n',
    'MSG\ta.tab\t44\t2\r\nhi\r\n',
    'HMSG a.h2 8 12 12\r\nNATS/1.0\r\n\r\n\r\n',
    '-ERR \'Permissions Violation for Publish to "x"\'\r\n',
    'MSG mecsim.abcdefgh.rep.mec-0.ue-9999 123456 40\r\n' + 'z'.repeat(40) + '\r\n',
    'MSG  a.sp   9  \r 3 \r\nabc\r\n', // runs of blanks, a CR inside the line
    'MSG a.tail 11 3\r\nabcXY\r\n', // bytes after the payload before its line end (skipped to the NL)
  ];
  const bufs = parts.map((x) => (typeof x === 'string' ? te.encode(x) : x));
  return Buffer.concat(bufs);
}

function cutAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let a = 0;
  for (const c of [...cuts].sort((x, y) => x - y)) {
    out.push(data.subarray(a, c));
    a = c;
  }
  out.push(data.subarray(a));
  return out;
}

describe('fast NATS parser', () => {
  const data = frames();
  const expected = events(stockParse, [data]);

  it('reads a whole stream into the same events as the stock parser', () => {
    // seven MSG and two HMSG (the client dispatches both as MSG events, an HMSG with its header size)
    expect(expected.filter((e) => e.startsWith('MSG'))).toHaveLength(9);
    expect(expected.filter((e) => e.startsWith('MSG') && !e.includes('hdr=-1'))).toHaveLength(2);
    expect(expected.some((e) => e.startsWith('threw'))).toBe(false);
    expect(events(fastParse, [data])).toEqual(expected);
  });

  it('gives the same events whatever the stream is cut at (one cut at every position, and random cuts)', () => {
    for (let c = 0; c <= data.length; c++) expect(events(fastParse, cutAt(data, [c])), `cut at ${c}`).toEqual(expected);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 300; t++) {
      const cuts = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * data.length));
      expect(events(fastParse, cutAt(data, cuts)), `cuts ${cuts}`).toEqual(expected);
    }
    // one byte at a time
    expect(events(fastParse, cutAt(data, Array.from({ length: data.length }, (_, i) => i)))).toEqual(expected);
  });

  it('leaves malformed frames to the stock parser, which throws its own error', () => {
    for (const bad of ['MSG a.b 1\r\n', 'MSG a.b x 3\r\nabc\r\n', 'MSG a.b 1 2 3 4\r\nab\r\n', 'XYZ\r\n', 'MSG a.b 1 -3\r\n']) {
      const stock = events(stockParse, [te.encode('PING\r\n' + bad)]);
      const fast = events(fastParse, [te.encode('PING\r\n' + bad)]);
      expect(stock.at(-1), bad).toMatch(/^threw/);
      expect(fast, bad).toEqual(stock);
    }
  });

  it('hands a frame larger than it keeps to the stock parser, and takes over again after it', () => {
    const big = 'y'.repeat(3 << 20);
    const stream = te.encode(`MSG big.one 5 ${big.length}\r\n${big}\r\nMSG small 6 2\r\nok\r\n`);
    const want = events(stockParse, [stream]);
    expect(want).toHaveLength(2);
    const chunks = cutAt(stream, Array.from({ length: Math.floor(stream.length / 65536) }, (_, i) => (i + 1) * 65536));
    expect(events(fastParse, chunks)).toEqual(want);
  });
});

describe('subscribeData', () => {
  it('hands a plain message for a data subscription straight to its callback, as the client would count it; anything else goes the usual way', () => {
    const got: string[] = [];
    const raw = { received: 0, mecsimRaw: (d: Uint8Array) => void got.push(`raw ${td.decode(d)}`) };
    const plain = { received: 0 };
    const pushed: string[] = [];
    const dispatcher = {
      inMsgs: 0,
      inBytes: 0,
      subscriptions: { get: (sid: number) => (sid === 1 ? raw : sid === 2 ? plain : undefined) },
      push(e: { kind: number; msg?: { sid: number }; data?: Uint8Array }) {
        pushed.push(`${e.kind === Kind.MSG ? `MSG sid ${e.msg!.sid}` : e.kind} ${e.data ? td.decode(e.data) : ''}`);
      },
    };
    const p = new (Parser as unknown as new (d: unknown) => object)(dispatcher);
    const stream = te.encode('MSG a 1 3\r\none\r\nMSG b 2 3\r\ntwo\r\nMSG a 1 _INBOX.x 5\r\nthree\r\nPING\r\nMSG a 1 4\r\nfour\r\n');
    for (const c of cutAt(stream, [7, 30, 31])) fastParse.call(p, Buffer.from(c));
    expect(got).toEqual(['raw one', 'raw four']);
    expect(pushed).toEqual([`MSG sid 2 two`, `MSG sid 1 three`, `${Kind.PING} `]); // a message with a reply subject keeps its message
    expect(raw.received).toBe(2);
    expect(dispatcher.inMsgs).toBe(2);
    expect(dispatcher.inBytes).toBe(7);
  });

  it('a wildcard data subscription gets each plain message with its subject; one with a reply subject keeps its message', () => {
    const got: string[] = [];
    const raw = { received: 0, mecsimRawSubject: (d: Uint8Array, start: number, end: number, subject: Uint8Array, s0: number, s1: number) => void got.push(`${td.decode(subject.subarray(s0, s1))} ${td.decode(d.subarray(start, end))}`) };
    const pushed: string[] = [];
    const dispatcher = {
      inMsgs: 0,
      inBytes: 0,
      subscriptions: { get: (sid: number) => (sid === 7 ? raw : undefined) },
      push(e: { kind: number; msg?: { sid: number }; data?: Uint8Array }) {
        pushed.push(`${e.kind === Kind.MSG ? `MSG sid ${e.msg!.sid}` : e.kind} ${e.data ? td.decode(e.data) : ''}`);
      },
    };
    const p = new (Parser as unknown as new (d: unknown) => object)(dispatcher);
    const stream = te.encode('MSG r.rep.m.ue-1 7 3\r\none\r\nMSG r.rep.m.ue-22 7 _INBOX.x 3\r\ntwo\r\nMSG r.rep.m.ue-333 7 5\r\nthree\r\n');
    for (const c of cutAt(stream, [5, 21, 40])) fastParse.call(p, Buffer.from(c));
    expect(got).toEqual(['r.rep.m.ue-1 one', 'r.rep.m.ue-333 three']);
    expect(pushed).toEqual(['MSG sid 7 two']);
    expect(raw.received).toBe(2);
    expect(dispatcher.inMsgs).toBe(2);
    expect(dispatcher.inBytes).toBe(8);
  });
});
