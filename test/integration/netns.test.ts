/**
 * Several hosts for real: three Linux network namespaces on this machine, each a host with its own
 * network stack, joined by veth pairs to a bridge. Each host runs one node of a secured 3-node NATS
 * cluster (`mecsim cluster init`'s configuration, built through its API); the orchestrator runs on
 * host 1, the leader on host 2, users on all three, each agent process connected to its own host's
 * node with its role's credential (`mecsim agent --join`).
 *
 * The hosts reach each other only through delaying TCP relays that the test runs on the bridge: this
 * kernel has no netem qdisc (`tc qdisc add … netem` answers "Specified qdisc kind is unknown"), so
 * the delay is imposed on the route connections between the NATS nodes, D ms each way (a round trip
 * of 2·D between any two hosts). The nodes advertise no addresses (`no_advertise`), so neither a
 * node nor a client learns a way around the relays.
 *
 * Checks: the run equals the single-host run; its round latency exceeds the single-host run's by the
 * imposed round trip within 20 %; a run during which host 3's link is down for a few seconds
 * completes with the same result; the same run on loopback with the equivalent modelled delay (the
 * link model, bus/link.ts) reaches its equilibrium in the real run's time within 20 %. Skips, saying why, where namespaces cannot be made (not root, no
 * iproute2, no permission). Nothing is left behind: namespaces, veths, the bridge and every process
 * are removed in afterAll, on a failed test too (and, should the worker die, by an exit hook).
 */
import { partsOf } from '../../scenarios/contract.ts';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { scaledMs } from '../../bus/timeouts.ts';
import { clusterConfig, writeClusterConfig } from '../../orchestrator/cluster.ts';
import { catalog } from '../../catalog/catalog.ts';
import type { AgentSpec, Scenario } from '../../scenarios/types.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';
import { readCreds, startClusterNodes, type StartedCluster } from '../helpers/secureCluster.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/mecsim.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One-way delay each relay adds (ms): a round trip between two hosts is twice this. */
const ONE_WAY_MS = 100;
const HOSTS = 3;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why this machine cannot build namespace hosts, or undefined if it can (tried once, undone at once). */
function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_NET_ADMIN)';
  try {
    sh('ip', ['-V']);
  } catch {
    return 'no `ip` (iproute2 is not installed; .ci/run installs it)';
  }
  const probe = `mecsimprobe${process.pid}`;
  try {
    sh('ip', ['netns', 'add', probe]);
  } catch (e) {
    return `ip netns add fails: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`;
  } finally {
    try {
      sh('ip', ['netns', 'del', probe]);
    } catch {
      /* was not made */
    }
  }
  return undefined;
}

const skipWhy = whyNot();
if (skipWhy) console.warn(`network-namespace test skipped: ${skipWhy}`);

/**
 * Three namespaces on a bridge. Names carry this process's id, so a second test process would not
 * collide, and leftovers of a killed one are recognised by a dead pid and removed.
 */
class NamespaceHosts {
  readonly tag = String(process.pid % 1_000_000);
  readonly subnet = `10.231.${20 + (process.pid % 200)}`;
  readonly bridge = `msb${this.tag}`;
  readonly bridgeIp = `${this.subnet}.254`;
  private made: string[] = [];

  ns(i: number): string {
    return `mecsimt-${this.tag}-h${i}`;
  }
  ip(i: number): string {
    return `${this.subnet}.${i}`;
  }
  /** the root-side end of host i's veth: bringing it down cuts the host off */
  rootVeth(i: number): string {
    return `msv${this.tag}h${i}`;
  }

  static removeStale(): void {
    for (const line of sh('ip', ['netns', 'list']).split('\n')) {
      const m = /^mecsimt-(\d+)-h\d+/.exec(line.trim());
      if (!m) continue;
      if (isAlive(Number(m[1]))) continue;
      try {
        sh('ip', ['netns', 'del', m[0]]);
      } catch {
        /* raced with its owner */
      }
    }
    for (const line of sh('ip', ['-o', 'link', 'show', 'type', 'bridge']).split('\n')) {
      const m = /^\d+: (msb(\d+))[:@]/.exec(line);
      if (m && !isAlive(Number(m[2]))) {
        try {
          sh('ip', ['link', 'del', m[1]]);
        } catch {
          /* gone */
        }
      }
    }
  }

  create(): void {
    const run = (...args: string[]) => sh('ip', args);
    run('link', 'add', this.bridge, 'type', 'bridge');
    this.made.push(`link:${this.bridge}`);
    run('addr', 'add', `${this.bridgeIp}/24`, 'dev', this.bridge);
    run('link', 'set', this.bridge, 'up');
    for (let i = 1; i <= HOSTS; i++) {
      const ns = this.ns(i);
      const peer = `msp${this.tag}h${i}`;
      run('netns', 'add', ns);
      this.made.push(`netns:${ns}`);
      run('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      run('link', 'add', this.rootVeth(i), 'type', 'veth', 'peer', 'name', peer);
      this.made.push(`link:${this.rootVeth(i)}`);
      run('link', 'set', peer, 'netns', ns);
      run('link', 'set', this.rootVeth(i), 'master', this.bridge);
      run('link', 'set', this.rootVeth(i), 'up');
      run('netns', 'exec', ns, 'ip', 'addr', 'add', `${this.ip(i)}/24`, 'dev', peer);
      run('netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up');
    }
  }

  setLink(i: number, up: boolean): void {
    sh('ip', ['link', 'set', this.rootVeth(i), up ? 'up' : 'down']);
  }

  /** Remove what was made (a namespace takes its veth end with it; the peer goes too). Synchronous: also runs from an exit hook. */
  destroy(): void {
    for (const m of this.made.splice(0).reverse()) {
      const [kind, name] = m.split(':');
      try {
        sh('ip', kind === 'netns' ? ['netns', 'del', name] : ['link', 'del', name]);
      } catch {
        /* already gone (a veth goes with its namespace) */
      }
    }
  }

  leftovers(): string[] {
    const ns = sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`mecsimt-${this.tag}-`));
    const links = sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => new RegExp(`: ms[bvp]${this.tag}(h\\d)?[:@]`).test(l));
    return [...ns, ...links];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A TCP relay that delays every chunk by `oneWayMs` in each direction, in order, without holding a
 * thread: a queue per direction and one timer for its head. What the kernel's netem would do to the
 * link, done to the one connection kind that crosses between hosts here (the NATS routes).
 */
class DelayRelay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly oneWayMs: number,
    private readonly target: { host: string; port: number },
  ) {}

  listen(host: string): Promise<number> {
    this.server = createServer((client) => this.relay(client));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, host, () => resolve((this.port = (this.server!.address() as { port: number }).port)));
    });
  }

  private relay(client: Socket): void {
    const upstream = tcpConnect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    this.delayed(client, upstream);
    this.delayed(upstream, client);
  }

  private delayed(from: Socket, to: Socket): void {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length && queue[0].due <= now) to.write(queue.shift()!.chunk);
      if (queue.length) timer = setTimeout(flush, queue[0].due - now);
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      queue.push({ due: performance.now() + this.oneWayMs, chunk });
      timer ??= setTimeout(flush, this.oneWayMs);
    });
    from.on('end', () => {
      ended = true;
      if (!queue.length && !timer) to.end();
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

describe.skipIf(Boolean(skipWhy))(`three hosts as network namespaces, a NATS node on each, delaying links between them${skipWhy ? ` (skipped: ${skipWhy})` : ''}`, () => {
  const net = new NamespaceHosts();
  const relays: DelayRelay[] = [];
  const procs: Proc[] = [];
  let cluster: StartedCluster | undefined;
  let dir = '';
  const runIds = { delayed: `netns-delay-${process.pid}`, cut: `netns-cut-${process.pid}`, modelled: `netns-model-${process.pid}` };
  /** the delayed run's summary (the first test's; the model's test makes its own when run alone) */
  let delayed: Record<string, any> | undefined;
  const cfg = resolveCfg('stackelberg', { seed: 3, users: 4 });
  const stackelberg = partsOf(catalog.get('stackelberg')!, 'gsrp-search');
  const cleanupOnExit = () => net.destroy();

  /** `mecsim <args>` on host i: its own network stack, its own node at 127.0.0.1:4222 */
  function onHost(i: number, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const child = spawn('ip', ['netns', 'exec', net.ns(i), process.execPath, BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    const p = { child, out: () => out, err: () => err, exited: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
    procs.push(p);
    onTestFailed(() => console.error(`--- host ${i}: mecsim ${args.slice(0, 5).join(' ')} (exit ${child.exitCode}):\n${err.slice(-3000)}`));
    return p;
  }

  const creds = (user: string) => readCreds(join(dir, 'conf', 'creds', `${user}.env`));
  const LOCAL = 'nats://127.0.0.1:4222';

  /** orchestrator on host 1, the leader on host 2, users on hosts 1 (two), 2 and 3; resolves with the summary */
  async function runAcrossHosts(runId: string, during?: (runLog: string) => Promise<void>): Promise<Record<string, any>> {
    const orch = creds('orchestrator');
    const run = onHost(1, ['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '3', '--users', '4', '--nats', LOCAL, '--user', orch.user, '--pass', orch.pass, '--out', outDir, '--round-timeout', String(scaledMs(30_000)), '--join-timeout', String(scaledMs(120_000)), '--json']);
    const agent = (host: number, role: string, count: number) => {
      const c = creds(role);
      return onHost(host, ['agent', '--run', runId, '--role', role, '--join', '--count', String(count), '--nats', LOCAL, '--join-timeout', String(scaledMs(120_000))], { MECSIM_NATS_USER: c.user, MECSIM_NATS_PASS: c.pass });
    };
    const agents = [agent(2, 'mec', 1), agent(1, 'ue', 2), agent(2, 'ue', 1), agent(3, 'ue', 1)];
    const duringDone = during?.(join(outDir, runId, 'run.log'));
    const code = await run.exited;
    await duringDone;
    expect(code, run.err()).toBe(0);
    for (const a of agents) expect(await a.exited, a.err()).toBe(0);
    return JSON.parse(run.out());
  }

  beforeAll(async () => {
    NamespaceHosts.removeStale();
    process.once('exit', cleanupOnExit);
    try {
      net.create();
      dir = mkdtempSync(join(tmpdir(), 'mecsim-netns-'));
      // one relay in front of each node's route port; every route to node i goes through relay i
      for (let i = 1; i <= HOSTS; i++) {
        const r = new DelayRelay(ONE_WAY_MS, { host: net.ip(i), port: 6222 });
        await r.listen(net.bridgeIp);
        relays.push(r);
      }
      const runs = Object.values(runIds).map((runId) => ({ runId, leaderId: stackelberg.leaderId(cfg as never), agents: stackelberg.agents(cfg as never) }));
      const nodes = [1, 2, 3].map((i) => ({ name: `nats-${i}`, listen: '0.0.0.0', clientPort: 4222, clusterPort: 6222, httpPort: 8222, routeAddress: `${net.bridgeIp}:${relays[i - 1].port}`, storeDir: join(dir, `js-${i}`) }));
      writeClusterConfig(join(dir, 'conf'), clusterConfig({ runs, nodes, noAdvertise: true }));
      cluster = await startClusterNodes(
        nodes.map((n, i) => ({ name: n.name, conf: join(dir, 'conf', `${n.name}.conf`), monitorUrl: `http://${net.ip(i + 1)}:8222`, netns: net.ns(i + 1) })),
        { timeoutMs: scaledMs(60_000) },
      );
    } catch (e) {
      await cluster?.stop();
      for (const r of relays) await r.close();
      net.destroy();
      throw e;
    }
  }, scaledMs(120_000));

  afterEach(() => {
    for (const p of procs.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  afterAll(async () => {
    for (const p of procs.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await cluster?.stop();
    for (const r of relays) await r.close();
    net.destroy();
    process.removeListener('exit', cleanupOnExit);
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(net.leftovers()).toEqual([]);
  });

  it('the run across three hosts equals the single-host run, and its rounds take the imposed round trip longer (within 20 %)', async () => {
    const single = await runDistributed('stackelberg', cfg, 'process');
    const across = (delayed = await runAcrossHosts(runIds.delayed));
    expect(across.status).toBe('complete');
    expect(across.compare.ok).toBe(true);
    expect(across.equilibrium).toEqual(single.equilibrium);
    expect(across.metrics.rounds).toBe(single.metrics.rounds);
    expect(across.metrics.messages).toBe(single.metrics.messages);
    expect(readFileSync(join(outDir, runIds.delayed, 'trajectory.csv'))).toEqual(readFileSync(join(outDir, single.runId, 'trajectory.csv')));
    // every round waits for a reply from another host: one broadcast out and one reply back, through the relays
    const rtt = 2 * ONE_WAY_MS;
    const added = across.runMetrics.roundLatencyMs.p50 - single.runMetrics.roundLatencyMs.p50;
    console.info(`netns: imposed round trip ${rtt} ms; round p50 ${across.runMetrics.roundLatencyMs.p50.toFixed(1)} ms across hosts vs ${single.runMetrics.roundLatencyMs.p50.toFixed(1)} ms on one host: +${added.toFixed(1)} ms`);
    expect(Math.abs(added - rtt)).toBeLessThanOrEqual(0.2 * rtt);
  }, scaledMs(300_000));

  it('host 3 cut off for a few seconds (its link down, then up) during the run: the run completes with the same result', async () => {
    const single = await runDistributed('stackelberg', cfg, 'process');
    const cutMs = 3000;
    let cutAt = 0;
    let finishedBeforeRestore = false;
    const across = await runAcrossHosts(runIds.cut, async (runLog) => {
      // once every agent has joined and a few rounds have gone by
      const end = Date.now() + scaledMs(120_000);
      while (Date.now() < end) {
        try {
          if (/all agents joined/.test(readFileSync(runLog, 'utf8'))) break;
        } catch {
          /* not written yet */
        }
        await sleep(100);
      }
      await sleep(4 * 2 * ONE_WAY_MS);
      net.setLink(3, false);
      cutAt = Date.now();
      try {
        await sleep(cutMs);
      } finally {
        net.setLink(3, true);
      }
      finishedBeforeRestore = procs[0].child.exitCode !== null;
    });
    expect(cutAt).toBeGreaterThan(0);
    expect(finishedBeforeRestore, 'the cut fell inside the run').toBe(false);
    expect(across.status).toBe('complete');
    expect(across.equilibrium).toEqual(single.equilibrium);
    expect(across.metrics.rounds).toBe(single.metrics.rounds);
    expect(across.compare.ok).toBe(true);
    // the cut was felt: some round waited for host 3 through it
    expect(across.runMetrics.roundLatencyMs.max).toBeGreaterThan(cutMs / 2);
  }, scaledMs(300_000));

  it('the same run on loopback with the equivalent modelled delay reaches its equilibrium in the real run\'s time (within 20 %)', async () => {
    delayed ??= await runAcrossHosts(runIds.modelled);
    // The equivalent link model. A message between the leader (host 2) and a user crosses
    // agent → its host's node → route → the leader's node → leader: one relay between two hosts,
    // none on one host. So a user on host 1 or 3 is ONE_WAY_MS away each way and the user on host 2
    // ~0. Which user id joins on which host is the join race's, but a round waits for its slowest
    // reply, and three of the four users are remote in every assignment: the model gives every user
    // the relay's round trip except one (the last), at a thousandth of it (a factor must be > 0).
    const users = stackelberg.agents(cfg as never).filter((a) => a.role === 'ue');
    const local = users[users.length - 1].id;
    const modelled: Scenario = { ...catalog.get('stackelberg')!, linkFactor: (_cfg, a: AgentSpec) => (a.id === local ? 0.001 : 1) };
    const loopback = await runDistributed('stackelberg', { ...cfg, link: { rtt: 2 * ONE_WAY_MS } }, 'process', { scenario: modelled });
    expect(loopback.status).toBe('complete');
    expect(loopback.compare.ok).toBe(true);
    expect(loopback.equilibrium).toEqual(delayed.equilibrium);
    expect(loopback.metrics.rounds).toBe(delayed.metrics.rounds);
    const real = delayed.runMetrics.timeToEquilibriumMs.p50;
    const model = loopback.runMetrics.timeToEquilibriumMs.p50;
    console.info(`netns: time to equilibrium ${real.toFixed(1)} ms across hosts (relays ${ONE_WAY_MS} ms each way), ${model.toFixed(1)} ms on loopback with the modelled round trip ${2 * ONE_WAY_MS} ms (${delayed.metrics.rounds} rounds; model/real ${(model / real).toFixed(3)})`);
    expect(Math.abs(model - real)).toBeLessThanOrEqual(0.2 * real);
  }, scaledMs(300_000));
});
