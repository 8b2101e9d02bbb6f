/**
 * Start the nodes of a cluster that `mecsim cluster init` configured, each under the watchdog that
 * keeps private servers from outliving the test (orchestrator/natsWatchdog.mjs), optionally inside a
 * network namespace (`ip netns exec <ns> nats-server …`: `ip` execs the server, so the watchdog's pid
 * is the server's). Waits until every node answers /healthz, has routes to all the others, and the
 * JetStream meta group has a leader.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServer, KeptServer } from '../../orchestrator/natsServer.ts';
import { scaledMs } from '../../bus/timeouts.ts';

export interface StartedNode {
  name: string;
  server: KeptServer;
  monitorUrl: string;
  /** the server's log so far (it logs to stderr, which comes through the watchdog) */
  log: () => string;
}

export interface StartedCluster {
  nodes: StartedNode[];
  stop: () => Promise<void>;
}

export interface NodeToStart {
  name: string;
  conf: string;
  /** http://host:port of the node's monitoring endpoint, as the test process reaches it */
  monitorUrl: string;
  /** run the server in this network namespace */
  netns?: string;
}

/** GET a monitoring endpoint (JSON), undefined if it does not answer 200. */
export type Fetcher = (url: string) => Promise<unknown>;

const defaultFetch: Fetcher = async (url) => {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return r.ok ? r.json() : undefined;
};

export async function startClusterNodes(nodes: NodeToStart[], opts: { fetcher?: Fetcher; timeoutMs?: number } = {}): Promise<StartedCluster> {
  const bin = findNatsServer();
  if (!bin) throw new Error('nats-server is not on PATH');
  const get = opts.fetcher ?? defaultFetch;
  const started: StartedNode[] = [];
  const stop = async () => {
    await Promise.all(started.map((n) => n.server.stop()));
  };
  try {
    for (const n of nodes) {
      // the watchdog removes its folder at the end: a folder of its own, not the one with the configs
      const dir = mkdtempSync(join(tmpdir(), `mecsim-cluster-${n.name}-`));
      const args = n.netns ? ['netns', 'exec', n.netns, bin, '-c', n.conf] : ['-c', n.conf];
      const server = new KeptServer(n.netns ? 'ip' : bin, args, dir);
      started.push({ name: n.name, server, monitorUrl: n.monitorUrl, log: () => server.stderr });
    }
    const end = Date.now() + (opts.timeoutMs ?? scaledMs(30_000));
    for (;;) {
      const dead = started.find((n) => n.server.exited);
      if (dead) throw new Error(`nats-server ${dead.name} exited: ${dead.log().slice(-2000)}`);
      const ready = await Promise.all(
        started.map(async (n) => {
          try {
            const routez = (await get(`${n.monitorUrl}/routez`)) as { num_routes?: number } | undefined;
            const jsz = (await get(`${n.monitorUrl}/jsz`)) as { meta_cluster?: { leader?: string } } | undefined;
            return (routez?.num_routes ?? 0) >= nodes.length - 1 && Boolean(jsz?.meta_cluster?.leader);
          } catch {
            return false;
          }
        }),
      );
      if (ready.every(Boolean)) break;
      if (Date.now() > end) throw new Error(`the cluster did not form (routes to every node and a JetStream meta leader) within ${opts.timeoutMs ?? scaledMs(30_000)} ms:\n${started.map((n) => `${n.name}: ${n.log().slice(-800)}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes: started, stop };
}

/** MECSIM_NATS_USER / MECSIM_NATS_PASS from a `creds/<user>.env` file. */
export function readCreds(file: string): { user: string; pass: string } {
  const env = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { user: env.MECSIM_NATS_USER, pass: env.MECSIM_NATS_PASS };
}
