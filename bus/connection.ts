/**
 * Connecting to NATS: servers, auth options, reconnect policy, and status logging.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { fastPath } from './fastpath.ts';

/**
 * No NATS server can be used: none is reachable at the URL(s) given, or none could be started.
 * The CLI exits with code 3 on it. (Wrong credentials are not this: the server is there.)
 */
export class NatsUnavailable extends Error {}

/** A `--nats` / NATS_URL value that is not a server URL. */
export class BadServerUrl extends Error {}

const SCHEMES = ['nats:', 'tls:'];

/**
 * The server URLs of a `--nats` / NATS_URL value: one, or several comma-separated (a cluster); each
 * `nats://host:port`, `tls://host:port` or `host[:port]`. Throws BadServerUrl naming the bad one.
 */
export function parseServers(spec: string): string[] {
  const servers = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!servers.length) throw new BadServerUrl(`"${spec}" names no server; give a URL such as nats://127.0.0.1:4222`);
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(s) ? s : `nats://${s}`);
    } catch {
      throw new BadServerUrl(`"${s}" is not a server URL; give one such as nats://127.0.0.1:4222 (several: comma-separated)`);
    }
    if (!SCHEMES.includes(u.protocol)) throw new BadServerUrl(`"${s}": the scheme must be nats:// or tls://, not ${u.protocol}//`);
    if (!u.hostname) throw new BadServerUrl(`"${s}" names no host; give one such as nats://127.0.0.1:4222`);
  }
  return servers;
}

/** The server refused our credentials: it is there, so this is not NatsUnavailable. */
const isAuthError = (e: unknown) => e instanceof Error && /^(AuthorizationError|UserAuthenticationExpiredError)$/.test(e.name);

export interface BusOptions {
  /** one URL, or several comma-separated (a cluster) */
  servers: string;
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** path to a NATS .creds file */
  creds?: string;
  /** TLS: a CA file, and optionally a client cert and key */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** prefix for request inboxes (run-scoped, so permissions can allow it) */
  inboxPrefix?: string;
  /** give up reconnecting after this many ms without a server (default 30 s) */
  reconnectBudgetMs?: number;
}

export async function connectBus(opts: BusOptions, log?: Logger): Promise<NatsConnection> {
  const servers = parseServers(opts.servers);
  const waitMs = 250;
  const co: ConnectionOptions = {
    servers,
    name: opts.name,
    user: opts.user,
    pass: opts.pass,
    token: opts.token,
    reconnect: true,
    reconnectTimeWait: waitMs,
    maxReconnectAttempts: Math.max(1, Math.ceil((opts.reconnectBudgetMs ?? 30_000) / waitMs)),
    pingInterval: 10_000,
    timeout: 5_000,
    inboxPrefix: opts.inboxPrefix,
    ignoreClusterUpdates: false,
    // no stack captured per request (two Error objects each): 100,000 agents' join requests spent
    // more in capturing stacks than in joining; a timed-out request still says what timed out
    noAsyncTraces: true,
  };
  if (opts.creds) co.authenticator = credsAuthenticator(readFileSync(opts.creds));
  if (opts.tlsCa || opts.tlsCert) {
    co.tls = { caFile: opts.tlsCa, certFile: opts.tlsCert, keyFile: opts.tlsKey };
  }
  let nc: NatsConnection;
  try {
    nc = await connect(co);
  } catch (e) {
    const message = `cannot connect to NATS at ${servers.join(',')}: ${(e as Error).message}`;
    throw isAuthError(e) ? new Error(message) : new NatsUnavailable(message);
  }
  // mecsim's own parser and publish only where the client is the one they were written for
  fastPath.check(nc, log);
  if (log) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'reconnecting' || s.type === 'error' || s.type === 'slowConsumer') {
          log.warn({ nats: s.type, server: (s as { server?: string }).server }, `nats ${s.type}`);
        }
      }
    })().catch(() => undefined);
  }
  return nc;
}
