/**
 * Finding a NATS server: `--nats URL` / `NATS_URL` if given; otherwise a private `nats-server`
 * from PATH on free loopback ports (client + monitoring), with a generated config, stopped when the
 * run ends. The orchestrator reads the private server's `/varz` to report the server's own counts.
 *
 * A private server never outlives the process that started it: it runs under a small watchdog
 * (natsWatchdog.mjs) that holds a pipe from this process and, when the pipe closes — this process
 * exited or was killed, even by SIGKILL or the OOM killer — stops the server and removes its folder
 * (config with generated passwords, JetStream data). The folder is private to the user (0700) while
 * it exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { NatsUnavailable } from '../bus/connection.ts';
import { fileURLToPath } from 'node:url';

const WATCHDOG = fileURLToPath(new URL('./natsWatchdog.mjs', import.meta.url));

export const INSTALL_HINT =
  'mecsim needs a NATS server. Either install nats-server so it is on PATH ' +
  '(Debian/Ubuntu: sudo apt-get install nats-server; other systems: https://docs.nats.io/running-a-nats-service/introduction/installation), ' +
  'or point mecsim at a running server with --nats nats://host:4222 or the NATS_URL environment variable.';

export { NatsUnavailable };

export interface Varz {
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  connections: number;
  slow_consumers: number;
  /** the server's resident memory, bytes */
  mem?: number;
}

export interface NatsHandle {
  url: string;
  /** monitoring base URL when we own the server */
  monitorUrl?: string;
  owned: boolean;
  /** the private server's process id and folder (absent for a server given by URL) */
  pid?: number;
  dir?: string;
  varz(): Promise<Varz | undefined>;
  stop(): Promise<void>;
}

/** nats-server from NATS_SERVER_BIN (authoritative when set), else PATH, else Debian's /usr/sbin. */
export function findNatsServer(): string | undefined {
  const forced = process.env.NATS_SERVER_BIN;
  if (forced) return existsSync(forced) ? forced : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/usr/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'nats-server');
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /** extra config text appended to the generated config (e.g. authorization blocks) */
  extraConfig?: string;
  /** enable JetStream (store in the temp dir) */
  jetstream?: boolean;
  maxPayloadBytes?: number;
  /** where the server log goes (default: the temp dir) */
  logFile?: string;
}

/** The configuration lines every private server has: loopback ports, limits, log file, JetStream if `jsDir`. */
function serverConf(c: { port: number; mport: number; logFile: string; jsDir?: string; maxPayloadBytes?: number }): string[] {
  const lines = [
    `listen: "127.0.0.1:${c.port}"`,
    `http: "127.0.0.1:${c.mport}"`,
    `max_payload: ${c.maxPayloadBytes ?? 8 * 1024 * 1024}`,
    `max_pending: ${256 * 1024 * 1024}`,
    `write_deadline: "10s"`,
    `log_file: "${c.logFile}"`,
  ];
  if (c.jsDir) lines.push(`jetstream { store_dir: "${c.jsDir}", max_memory_store: ${64 * 1024 * 1024}, max_file_store: ${256 * 1024 * 1024} }`);
  return lines;
}

/** Start a private nats-server on free loopback ports. */
export async function startNatsServer(opts: StartOptions = {}): Promise<NatsHandle> {
  const bin = findNatsServer();
  if (!bin) throw new NatsUnavailable(`nats-server was not found on PATH. ${INSTALL_HINT}`);
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    // a folder per attempt: the watchdog of a failed attempt removes its own
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-nats-'));
    const port = await freePort();
    const mport = await freePort();
    const conf = join(dir, 'nats.conf');
    const lines = serverConf({ port, mport, logFile: opts.logFile ?? join(dir, 'nats.log'), jsDir: opts.jetstream ? join(dir, 'js') : undefined, maxPayloadBytes: opts.maxPayloadBytes });
    if (opts.extraConfig) lines.push(opts.extraConfig);
    writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
    const server = new KeptServer(bin, ['-c', conf], dir);
    const url = `nats://127.0.0.1:${port}`;
    const monitorUrl = `http://127.0.0.1:${mport}`;
    const ok = await waitReady(monitorUrl, server.child, 10_000);
    if (ok) {
      const pid = await server.serverPid();
      return { url, monitorUrl, owned: true, pid, dir, varz: () => readVarz(monitorUrl), stop: () => server.stop() };
    }
    lastErr = server.stderr.trim() || `exit code ${server.child.exitCode}`;
    await server.stop();
  }
  throw new NatsUnavailable(`nats-server (${bin}) did not start: ${lastErr}. ${INSTALL_HINT}`);
}

/**
 * A nats-server started under its watchdog (natsWatchdog.mjs): `child` is the watchdog, which exits
 * when the server does, with the server's code; the server's stderr comes through it.
 */
export class KeptServer {
  readonly child: ChildProcess;
  stderr = '';
  private pid?: number;
  private pidKnown: Promise<number | undefined>;

  constructor(bin: string, args: string[], readonly dir: string) {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // the watchdog is plain JavaScript: no loader, no flags meant for the orchestrator
    // detached: a session of its own, so a Ctrl-C in the terminal leaves the server up while the run shuts down
    this.child = spawn(process.execPath, [WATCHDOG, dir, bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.on('data', (d) => (this.stderr += String(d)));
    this.pidKnown = new Promise((resolve) => {
      let line = '';
      this.child.stdout?.on('data', (d) => {
        line += String(d);
        const m = /^\{"pid":(\d+)\}\n/.exec(line);
        if (m) resolve((this.pid = Number(m[1])));
      });
      this.child.once('exit', () => resolve(this.pid));
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** the server's own process id, once the watchdog has started it (undefined if it could not) */
  serverPid(): Promise<number | undefined> {
    return this.pidKnown;
  }

  /** signal the server itself (the watchdog follows it out); resolves when both are gone */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = await this.serverPid();
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    if (pid !== undefined) signalQuietly(pid, signal);
    else this.child.kill(signal);
    await gone;
  }

  /**
   * Close the pipe: the watchdog stops the server (SIGTERM, SIGKILL after 2 s) and removes the
   * folder. Should the watchdog not exit in time, both are killed here and the folder removed.
   */
  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 6000)));
      if (await Promise.race([gone.then(() => false), late])) {
        if (this.pid !== undefined) signalQuietly(this.pid, 'SIGKILL');
        this.child.kill('SIGKILL');
        await gone;
      }
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

async function waitReady(monitorUrl: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) return false;
    try {
      const r = await fetch(`${monitorUrl}/healthz`);
      if (r.ok) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export async function readVarz(monitorUrl: string): Promise<Varz | undefined> {
  try {
    const r = await fetch(`${monitorUrl}/varz`);
    if (!r.ok) return undefined;
    const v = (await r.json()) as Varz;
    return { in_msgs: v.in_msgs, out_msgs: v.out_msgs, in_bytes: v.in_bytes, out_bytes: v.out_bytes, connections: v.connections, slow_consumers: v.slow_consumers, mem: v.mem };
  } catch {
    return undefined;
  }
}

/**
 * The server a run uses: the given URL (not owned, no /varz unless `monitorUrl` given), else a
 * private one. Throws NatsUnavailable with install instructions when neither works.
 */
export async function acquireNats(url: string | undefined, opts: StartOptions = {}): Promise<NatsHandle> {
  if (url) return { url, owned: false, varz: async () => undefined, stop: async () => undefined };
  return startNatsServer(opts);
}

export interface ClusterNode {
  name: string;
  url: string;
  monitorUrl: string;
  pid: number;
  /** client connections on this node now */
  connections(): Promise<number>;
  /** kill this node's process (default SIGKILL) and wait for it to exit */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NatsCluster {
  /** every node's client URL, comma-separated (what `--nats` takes) */
  url: string;
  nodes: ClusterNode[];
  stop(): Promise<void>;
}

/**
 * A private cluster of `size` nats-server processes on loopback: full-mesh routes, JetStream on
 * every node (so a KV bucket can be replicated on all of them). Used by the fault tests; also a
 * local stand-in for docker-compose.yml's 3-node cluster.
 */
export async function startNatsCluster(size = 3, opts: { logDir?: string } = {}): Promise<NatsCluster> {
  // free ports are picked before the servers bind them: on a busy machine another process can take
  // one in between, so a start that fails is tried again on new ports
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(size, opts);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof NatsUnavailable) || /not found on PATH/.test(e.message)) throw e;
    }
  }
}

async function startClusterOnce(size: number, opts: { logDir?: string }): Promise<NatsCluster> {
  const bin = findNatsServer();
  if (!bin) throw new NatsUnavailable(`nats-server was not found on PATH. ${INSTALL_HINT}`);
  const dir = mkdtempSync(join(tmpdir(), 'mecsim-nats-cluster-'));
  const ports = [] as { client: number; http: number; route: number }[];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), http: await freePort(), route: await freePort() });
  const servers: KeptServer[] = [];
  const nodes: ClusterNode[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const p = ports[i];
      const name = `n${i + 1}`;
      const routes = ports.filter((_, j) => j !== i).map((q) => `"nats-route://127.0.0.1:${q.route}"`);
      // each node's folder is its own: its watchdog removes it when the node ends, the others' stay
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir, { mode: 0o700 });
      const conf = join(nodeDir, 'nats.conf');
      writeFileSync(
        conf,
        [
          `server_name: ${name}`,
          ...serverConf({ port: p.client, mport: p.http, logFile: join(opts.logDir ?? nodeDir, `nats-${name}.log`), jsDir: join(nodeDir, 'js') }),
          `cluster { name: mecsim, listen: "127.0.0.1:${p.route}", routes: [${routes.join(', ')}] }`,
        ].join('\n') + '\n',
        { mode: 0o600 },
      );
      const server = new KeptServer(bin, ['-c', conf], nodeDir);
      servers.push(server);
      const monitorUrl = `http://127.0.0.1:${p.http}`;
      nodes.push({
        name,
        url: `nats://127.0.0.1:${p.client}`,
        monitorUrl,
        pid: (await server.serverPid()) ?? -1,
        connections: async () => (await readVarz(monitorUrl))?.connections ?? 0,
        kill: (signal = 'SIGKILL') => server.kill(signal),
      });
    }
    for (let i = 0; i < size; i++) if (!(await waitReady(nodes[i].monitorUrl, servers[i].child, 15_000))) throw new NatsUnavailable(`nats-server cluster node ${nodes[i].name} did not start: ${servers[i].stderr.trim() || (servers[i].exited ? `exit code ${servers[i].child.exitCode}` : 'no /healthz answer')}`);
    // JetStream needs a meta leader before a replicated bucket can be created
    const end = Date.now() + 20_000;
    for (;;) {
      const ok = await Promise.all(nodes.map(async (n) => {
        try {
          const r = await fetch(`${n.monitorUrl}/jsz`);
          const j = (await r.json()) as { meta_cluster?: { leader?: string } };
          return Boolean(j.meta_cluster?.leader);
        } catch {
          return false;
        }
      }));
      if (ok.every(Boolean)) break;
      if (Date.now() > end) throw new NatsUnavailable('the nats-server cluster elected no JetStream meta leader within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { url: nodes.map((n) => n.url).join(','), nodes, stop: stopAll };
}
