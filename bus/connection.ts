/**
 * Connecting to NATS: servers, auth options, reconnect policy, and status logging.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { fastPath } from './fastpath.ts';

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
  const servers = opts.servers.split(',').map((s) => s.trim()).filter(Boolean);
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
  };
  if (opts.creds) co.authenticator = credsAuthenticator(readFileSync(opts.creds));
  if (opts.tlsCa || opts.tlsCert) {
    co.tls = { caFile: opts.tlsCa, certFile: opts.tlsCert, keyFile: opts.tlsKey };
  }
  let nc: NatsConnection;
  try {
    nc = await connect(co);
  } catch (e) {
    throw new Error(`cannot connect to NATS at ${servers.join(',')}: ${(e as Error).message}`);
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
