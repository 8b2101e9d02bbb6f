/**
 * The connect-time check of bus/fastpath.ts, on real connections to the tests' nats-server: the usual
 * connection is confirmed to read with the fast parser (a message for a subscribeData subscription
 * never reaches the client's processMsg) and to publish through publishFast's own path; a connection
 * whose parser is a second copy of the core's Parser class, or whose protocol handler is of another
 * class, is found out, warned about once per process, and served by the stock client from then on.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { connect, Parser, ProtocolHandler, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { FastPathCheck } from '../../bus/fastpath.ts';
import { installFastParser, subscribeData } from '../../bus/fastparse.ts';
import { publishFast } from '../../bus/fastpublish.ts';

const proto = (Parser as unknown as { prototype: { parse: unknown } }).prototype;
const stockParse = proto.parse;
expect(installFastParser()).toBe(true);
// the replacement is process-wide: put the stock parser back for whatever runs next in this worker
afterAll(() => void (proto.parse = stockParse));

const open: NatsConnection[] = [];
afterEach(async () => void (await Promise.all(open.splice(0).map((nc) => nc.close()))));

async function connection(): Promise<{ nc: NatsConnection; ph: any; processed: () => number; published: () => number }> {
  const nc = await connect({ servers: inject('natsUrl') });
  open.push(nc);
  const ph = (nc as unknown as { protocol: any }).protocol;
  // count what goes through the client's own message dispatch and publish
  let processed = 0;
  const processMsg = ph.processMsg.bind(ph);
  ph.processMsg = (m: unknown, d: Uint8Array) => (processed++, processMsg(m, d));
  let published = 0;
  const publish = nc.publish.bind(nc);
  nc.publish = (s: string, d?: Uint8Array) => (published++, publish(s, d));
  return { nc, ph, processed: () => processed, published: () => published };
}

/** A warning-only logger that records what it is told. */
function recorder(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => void warnings.push(msg) } as unknown as Logger;
  return { log, warnings };
}

/** Send `n` messages on a fresh subject through publishFast, received by subscribeData; resolves with what arrived. */
async function roundTrip(nc: NatsConnection, n: number): Promise<{ got: string[]; raw: boolean }> {
  const subject = `fastpath.${Math.random().toString(36).slice(2)}`;
  const got: string[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = subscribeData(nc, subject, (d) => {
    got.push(Buffer.from(d).toString());
    if (got.length === n) done();
  });
  await nc.flush();
  for (let i = 0; i < n; i++) publishFast(nc, subject, Buffer.from(`m${i}`));
  await all;
  sub.unsubscribe();
  return { got, raw: (sub as unknown as { mecsimRaw?: unknown }).mecsimRaw !== undefined };
}

/** The core's Parser class loaded a second time from a copy of its files: what a nested second copy of @nats-io/nats-core gives. */
function secondCopyOfParser(): new (d: unknown) => object {
  const transport = createRequire(import.meta.url).resolve('@nats-io/transport-node');
  const lib = dirname(createRequire(transport).resolve('@nats-io/nats-core/internal'));
  const dir = mkdtempSync(join(tmpdir(), 'mecsim-nats-core-copy-'));
  for (const f of ['parser.js', 'denobuffer.js', 'encoders.js']) cpSync(join(lib, f), join(dir, f));
  const Other = createRequire(join(dir, 'x.js'))('./parser.js').Parser;
  expect(Other).not.toBe(Parser);
  return Other;
}

describe('the fast path check at connect time', () => {
  it('confirms the usual connection fast: it reads with the fast parser and publishes through its own path, with no warning', async () => {
    const check = new FastPathCheck();
    const { log, warnings } = recorder();
    const { nc, ph, processed, published } = await connection();
    expect(check.check(nc, log)).toEqual({ parser: true, publish: true, problems: [] });
    expect(ph.mecsimStock).toBeUndefined();
    const outBefore = ph.outMsgs;
    const r = await roundTrip(nc, 20);
    expect(r.got).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(r.raw).toBe(true);
    expect(processed()).toBe(0); // handed over by the fast parser, not by the client's dispatch
    expect(published()).toBe(0); // queued by publishFast itself
    expect(ph.outMsgs - outBefore).toBe(20); // and counted as the client counts
    expect(warnings).toEqual([]);
  });

  it('finds a parser of a second copy of the core package, warns once, and the connection runs the stock client', async () => {
    const check = new FastPathCheck();
    const { log, warnings } = recorder();
    const Other = secondCopyOfParser();
    const a = await connection();
    a.ph.parser = new Other(a.ph); // as if the transport had loaded its own copy of @nats-io/nats-core
    const report = check.check(a.nc, log);
    expect(report.parser).toBe(false);
    expect(report.publish).toBe(false);
    expect(report.problems.join('\n')).toMatch(/parser is a Parser, not the Parser of the @nats-io\/nats-core this process loaded/);
    expect(a.ph.mecsimStock).toBe(true);
    const r = await roundTrip(a.nc, 20);
    expect(r.got).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(r.raw).toBe(false);
    expect(a.processed()).toBe(20); // every message through the client's dispatch
    expect(a.published()).toBe(20); // every publish through nc.publish
    // a second connection with the same mismatch: served the same way, and no second warning
    const b = await connection();
    b.ph.parser = new Other(b.ph);
    expect(check.check(b.nc, log).problems.length).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/uses the client's own parser and publish/);
  });

  it('finds a protocol handler of another class, and the fast parser of this process hands that connection\'s reads to the stock one', async () => {
    const check = new FastPathCheck();
    const { log, warnings } = recorder();
    const c = await connection();
    // the same methods on a prototype that is not the loaded ProtocolHandler's: what another copy of the package makes
    const foreign = Object.create(Object.prototype, Object.getOwnPropertyDescriptors((ProtocolHandler as unknown as { prototype: object }).prototype));
    Object.setPrototypeOf(c.ph, foreign);
    expect(c.ph.parser.parse).toBe(proto.parse); // still the fast parser's class: only the check tells it apart
    const report = check.check(c.nc, log);
    expect(report.problems.join('\n')).toMatch(/protocol handler is a ProtocolHandler, not the ProtocolHandler of the @nats-io\/nats-core this process loaded/);
    expect(c.ph.mecsimStock).toBe(true);
    const r = await roundTrip(c.nc, 20);
    expect(r.got).toHaveLength(20);
    expect(r.raw).toBe(false);
    expect(c.processed()).toBe(20);
    expect(c.published()).toBe(20);
    expect(warnings).toHaveLength(1);
  });

  it('names each internal the fast code touches that is missing or of another type', () => {
    const check = new FastPathCheck(() => ({ parser: true, publish: true }));
    const nc = { protocol: { parser: {}, outMsgs: '0', info: {} } } as unknown as NatsConnection;
    const problems = check.problems(nc, { parser: true, publish: true });
    expect(problems.join('\n')).toMatch(/protocol handler is a Object/);
    expect(problems.join('\n')).toMatch(/parser is a Object/);
    expect(problems).toContain('protocol.outMsgs is a string, not a number');
    expect(problems).toContain('protocol.sendCommand is missing, not a function');
    expect(problems).toContain('protocol.info.max_payload is missing, not a number');
    expect(check.problems({} as NatsConnection, { parser: true, publish: true })).toEqual(['the connection has no protocol handler']);
  });

  it('checks only what the process uses: nothing under MECSIM_STOCK_PARSER=1 and MECSIM_STOCK_PUBLISH=1, the publish alone where the parser is stock', async () => {
    const { log, warnings } = recorder();
    const { nc, ph } = await connection();
    ph.parser = new (secondCopyOfParser())(ph);
    expect(new FastPathCheck(() => ({ parser: false, publish: false })).check(nc, log)).toEqual({ parser: false, publish: false, problems: [] });
    expect(new FastPathCheck(() => ({ parser: false, publish: true })).check(nc, log)).toEqual({ parser: false, publish: true, problems: [] });
    expect(ph.mecsimStock).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
