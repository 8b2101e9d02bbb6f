/**
 * The fence around the NATS client's internals that bus/fastparse.ts and bus/fastpublish.ts use.
 *
 * Why: both reach past the client's public API (its protocol handler's parser, subscriptions,
 * counters and outbound queue). @nats-io/* are pinned to one exact version in package.json, but an
 * install can still differ from what the code was written for: a second, nested copy of
 * @nats-io/nats-core, another version, a connection object whose parts are of other classes. Then
 * the fast parser may not be the one the connection reads with (its stock parser runs, unnoticed) or,
 * worse, the fast code may run against fields that mean something else.
 *
 * What: `fastPath.check(nc, log)` runs once per connection, right after it is made (bus/connection.ts).
 * It confirms that the connection's protocol handler and parser are instances of the classes this
 * process patched (taken from the transport package's re-exports, so the copy its connections use),
 * that the parser reads with the fast `parse`, and that every field the fast code touches is there
 * with the expected type. Only what is in use is checked: the parser where installFastParser() ran
 * (agent processes, unless MECSIM_STOCK_PARSER=1), the publish unless MECSIM_STOCK_PUBLISH=1. On any
 * mismatch the connection is marked (`mecsimStock` on its protocol handler) and from then on uses the
 * client as it comes: its reads go to the stock parser, subscribeData takes the client's callback,
 * publishFast calls `nc.publish`. The first mismatch in a process is logged as a warning, once.
 */
import { Parser, ProtocolHandler, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { fastParserInstalled } from './fastparse.ts';
import { fastPublishEnabled } from './fastpublish.ts';

/** What the check found for one connection. */
export interface FastPathReport {
  /** the connection reads with the fast parser */
  parser: boolean;
  /** the connection publishes through publishFast's own path */
  publish: boolean;
  /** why the connection uses the stock client (empty when nothing is wrong) */
  problems: string[];
}

/** What this process expects to use: the fast parser and/or the fast publish. */
export interface FastPathExpectation {
  parser: boolean;
  publish: boolean;
}

type Fields = Record<string, unknown>;

export class FastPathCheck {
  private warned = false;

  constructor(private readonly expected: () => FastPathExpectation = () => ({ parser: fastParserInstalled(), publish: fastPublishEnabled() })) {}

  /** Check a connection just made; on a mismatch mark it to use the stock client and warn (once per process). */
  check(nc: NatsConnection, log?: Logger): FastPathReport {
    const want = this.expected();
    if (!want.parser && !want.publish) return { parser: false, publish: false, problems: [] };
    const problems = this.problems(nc, want);
    if (problems.length === 0) return { parser: want.parser, publish: want.publish, problems };
    this.fallBack(nc);
    this.warn(problems, log);
    return { parser: false, publish: false, problems };
  }

  /** Every way the connection differs from what the fast parser and publish were written for. */
  problems(nc: NatsConnection, want: FastPathExpectation): string[] {
    const ph = (nc as unknown as { protocol?: Fields }).protocol;
    if (ph === undefined || ph === null || typeof ph !== 'object') return ['the connection has no protocol handler'];
    const out: string[] = [];
    if (!(ph instanceof (ProtocolHandler as unknown as new () => object))) out.push(`its protocol handler is a ${className(ph)}, not the ProtocolHandler of the @nats-io/nats-core this process loaded (a second copy of the package?)`);
    if (want.parser) {
      const parser = ph.parser as Fields | undefined;
      if (!(parser instanceof (Parser as unknown as new () => object))) out.push(`its parser is a ${className(parser)}, not the Parser of the @nats-io/nats-core this process loaded (a second copy of the package?)`);
      else if ((parser.parse as { mecsimFast?: boolean } | undefined)?.mecsimFast !== true) out.push('its parser does not read with the fast parse');
      expectType(out, parser, 'parser', 'state', 'number');
      expectType(out, ph, 'protocol', 'push', 'function');
      expectType(out, ph, 'protocol', 'inMsgs', 'number');
      expectType(out, ph, 'protocol', 'inBytes', 'number');
      expectType(out, ph.subscriptions as Fields | undefined, 'protocol.subscriptions', 'get', 'function');
    }
    if (want.publish) {
      expectType(out, ph, 'protocol', 'sendCommand', 'function');
      expectType(out, ph, 'protocol', 'isClosed', 'function');
      expectType(out, ph, 'protocol', 'outMsgs', 'number');
      expectType(out, ph, 'protocol', 'outBytes', 'number');
      expectType(out, ph, 'protocol', 'noMorePublishing', 'boolean');
      expectType(out, ph.info as Fields | undefined, 'protocol.info', 'max_payload', 'number');
    }
    return out;
  }

  /** From now on this connection reads, subscribes and publishes as the client does. */
  private fallBack(nc: NatsConnection): void {
    const ph = (nc as unknown as { protocol?: Fields }).protocol;
    if (ph !== undefined && ph !== null && typeof ph === 'object') ph.mecsimStock = true;
  }

  private warn(problems: string[], log?: Logger): void {
    if (this.warned) return;
    this.warned = true;
    const msg = `the NATS client is not the one bus/fastparse.ts and bus/fastpublish.ts were written for (@nats-io/* pinned in package.json): ${problems.join('; ')}. This process uses the client's own parser and publish.`;
    if (log) log.warn({ natsClient: 'stock', problems }, msg);
    else process.stderr.write(`mecsim: ${msg}\n`);
  }
}

/** Adds a problem unless `o[field]` is of `type`. */
function expectType(out: string[], o: Fields | undefined, owner: string, field: string, type: string): void {
  const t = o === undefined || o === null ? 'missing' : typeof o[field];
  if (t !== type) out.push(`${owner}.${field} is ${t === 'undefined' || t === 'missing' ? 'missing' : `a ${t}`}, not a ${type}`);
}

function className(o: unknown): string {
  if (o === undefined || o === null) return String(o);
  return (o as { constructor?: { name?: string } }).constructor?.name || typeof o;
}

/** The process's check: every connection made through bus/connection.ts passes it. */
export const fastPath = new FastPathCheck();
