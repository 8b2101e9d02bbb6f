/**
 * The secured cluster `mecsim cluster init` configures: three real nats-server processes on free
 * loopback ports, routes authenticated, one NATS user per role with the private server's per-role
 * permissions. An agent with the `ue` credential cannot publish the leader's or the orchestrator's
 * messages (the server refuses them, and a subscriber on another node never sees them) while its own
 * replies do cross the cluster; a run with the orchestrator and its agents on different nodes, each
 * with its role's credential, equals the same run with spawned agents. TLS between the nodes and to
 * the clients is tested once, with a throw-away CA made by openssl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { encodeEnvelope } from '../../bus/codec.ts';
import { subjects } from '../../bus/subjects.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { findNatsServer, freePort, KeptServer } from '../../orchestrator/natsServer.ts';
import { outDir, resolveCfg, runDistributed } from '../helpers/run.ts';
import { readCreds, startClusterNodes, type StartedCluster } from '../helpers/secureCluster.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/mecsim.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}
const procs: Proc[] = [];

function mecsim(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const p = { child, out: () => out, err: () => err, exited: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
  procs.push(p);
  try {
    onTestFailed(() => console.error(`--- mecsim ${args.slice(0, 5).join(' ')} (exit ${child.exitCode}):\n${err.slice(-3000)}`));
  } catch {
    /* started from a hook, not a test: its exit code is checked there */
  }
  return p;
}

afterEach(() => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

interface Ports {
  client: number;
  cluster: number;
  http: number;
}

/** `mecsim cluster init` for three loopback nodes; returns the folder and each node's ports. */
async function initCluster(dir: string, runId: string, extra: string[] = []): Promise<Ports[]> {
  const ports: Ports[] = [];
  for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), cluster: await freePort(), http: await freePort() });
  const hosts = ports.map((p) => `127.0.0.1:${p.client}:${p.cluster}:${p.http}`).join(',');
  const init = mecsim(['cluster', 'init', 'stackelberg', '--users', '4', '--seed', '5', '--run-id', runId, '--out', join(dir, 'conf'), '--hosts', hosts, '--store-dir', join(dir, 'js'), ...extra]);
  expect(await init.exited, init.err()).toBe(0);
  expect(init.out()).toMatch(/creds\/ue\.env/);
  return ports;
}

async function start(dir: string, ports: Ports[]): Promise<StartedCluster> {
  return startClusterNodes(ports.map((p, i) => ({ name: `nats-${i + 1}`, conf: join(dir, 'conf', `nats-${i + 1}.conf`), monitorUrl: `http://127.0.0.1:${p.http}` })));
}

/**
 * `mecsim cluster init` in `dir` and its three nodes started. The ports are free when picked, not
 * when the servers bind them: another process may take one first (that node exits, "address already
 * in use"), and then the whole is done again with new ports, as startNatsServer does for one server.
 */
async function initAndStart(dir: string, runId: string, extra: string[] = []): Promise<{ ports: Ports[]; cluster: StartedCluster }> {
  for (let attempt = 1; ; attempt++) {
    const ports = await initCluster(dir, runId, extra);
    try {
      return { ports, cluster: await start(dir, ports) };
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
      rmSync(join(dir, 'conf'), { recursive: true, force: true });
      rmSync(join(dir, 'js'), { recursive: true, force: true });
    }
  }
}

/** The server's permission refusals seen by one connection. */
class Violations {
  readonly seen: string[] = [];
  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const st of nc.status()) {
        const e = (st as { error?: { name?: string; operation?: string; subject?: string } }).error;
        if (st.type === 'error' && e?.name === 'PermissionViolationError') this.seen.push(`${e.operation} ${e.subject}`);
      }
    })().catch(() => undefined);
  }
}

describe('secured NATS cluster (mecsim cluster init)', () => {
  const runId = `cluster-${process.pid}-${Date.now().toString(36)}`;
  const s = subjects(runId);
  let dir: string;
  let ports: Ports[];
  let cluster: StartedCluster | undefined;
  const url = (i: number) => `nats://127.0.0.1:${ports[i].client}`;
  const creds = (role: string) => readCreds(join(dir, 'conf', 'creds', `${role}.env`));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mecsim-cluster-test-'));
    ({ ports, cluster } = await initAndStart(dir, runId));
  }, scaledMs(90_000));

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes need the route credential: a server without it cannot join the cluster', async () => {
    // a would-be node that knows the route port but not the password
    const intruderDir = mkdtempSync(join(tmpdir(), 'mecsim-cluster-intruder-'));
    const [c, r, h] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(intruderDir, 'n.conf'), `server_name: intruder\nlisten: "127.0.0.1:${c}"\nhttp: "127.0.0.1:${h}"\ncluster { name: "mecsim", listen: "127.0.0.1:${r}", routes: ["nats-route://127.0.0.1:${ports[0].cluster}"] }\n`);
    const server = new KeptServer(findNatsServer()!, ['-c', join(intruderDir, 'n.conf')], intruderDir);
    try {
      const routes = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/routez`)).json()) as { num_routes: number }).num_routes;
      // the intruder is up and has been trying its route for a few seconds
      const end = Date.now() + scaledMs(10_000);
      while (Date.now() < end && !/authorization|authentication/i.test(cluster!.nodes[0].log())) await sleep(200);
      expect(cluster!.nodes[0].log()).toMatch(/authorization|authentication/i);
      expect(await routes(h)).toBe(0);
      // …and the cluster's own nodes still route to each other only
      expect(await routes(ports[0].http)).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it("a ue credential cannot publish the leader's price or the orchestrator's control: refused, and never delivered on another node", async () => {
    const ue = creds('ue');
    const mec = creds('mec');
    // the target: a legitimate user agent on node 3, listening to its role's broadcasts and control
    const victim = await connect({ servers: url(2), user: ue.user, pass: ue.pass });
    const intruder = await connect({ servers: url(0), user: ue.user, pass: ue.pass });
    const leader = await connect({ servers: url(1), user: mec.user, pass: mec.pass });
    const refused = new Violations(intruder);
    const got: string[] = [];
    for (const subject of [s.bcast('ue'), s.ctlAll]) victim.subscribe(subject, { callback: (_e, m) => void got.push(`${m.subject} ${m.data.length}`) });
    const leaderGot: string[] = [];
    leader.subscribe(s.replyWildcard('mec-0'), { callback: (_e, m) => void leaderGot.push(m.subject) });
    await Promise.all([victim.flush(), leader.flush()]);
    // subscription interest crosses the routes asynchronously: wait until the legitimate path works
    const end = Date.now() + scaledMs(10_000);
    while (got.length === 0 && Date.now() < end) {
      leader.publish(s.bcast('ue'), encodeEnvelope(runId, 0, 1, 'mec-0', 'price', { p: 3 }));
      await sleep(100);
    }
    expect(got.length, 'the leader’s price reaches a ue on another node').toBeGreaterThan(0);
    got.length = 0;

    intruder.publish(s.bcast('ue'), encodeEnvelope(runId, 0, 1, 'mec-0', 'price', { p: 1e6 })); // a forged price
    intruder.publish(s.ctlAll, encodeEnvelope(runId, 0, 0, 'orchestrator', 'shutdown', {})); // the orchestrator's control
    intruder.publish(s.orchSlots, encodeEnvelope(runId, 0, 0, 'mec-0', 'slot-done', {})); // the leader's slot answer
    intruder.publish(`mecsim.${'a'.repeat(8)}.bc.ue`, encodeEnvelope(runId, 0, 1, 'mec-0', 'price', { p: 1 })); // another run's subjects
    intruder.publish(s.reply('mec-0', 'mec', 'h1'), encodeEnvelope(runId, 0, 1, 'mec-0', 're:price', { x: 1, u: 1 })); // another role's replies
    intruder.publish(s.reply('mec-0', 'ue', 'h1'), encodeEnvelope(runId, 0, 1, 'ue-1', 're:price', { x: 1, u: 1 })); // its own role's reply: allowed
    await intruder.flush();
    await sleep(scaledMs(1500));
    expect(got, 'no forged message reached the ue on node 3').toEqual([]);
    expect(leaderGot).toEqual([s.reply('mec-0', 'ue', 'h1')]);
    expect(refused.seen.sort()).toEqual([`publish ${s.bcast('ue')}`, `publish ${s.ctlAll}`, `publish ${s.orchSlots}`, 'publish mecsim.aaaaaaaa.bc.ue', `publish ${s.reply('mec-0', 'mec', 'h1')}`].sort());
    expect(cluster!.nodes[0].log()).toMatch(/Publish Violation - User "ue", Subject "[^"]*\.bc\.ue"/); // and logs it
    // nor may it listen to the orchestrator's inboxes (RunPermissions' `inbox.<host>.>` for any host, minus the orchestrator's)
    intruder.subscribe(`${s.base}.inbox.orch.slots`);
    await intruder.flush();
    await sleep(300);
    expect(refused.seen.some((v) => v.startsWith('subscription') && v.includes('inbox.orch.slots'))).toBe(true);
    await Promise.all([victim.close(), intruder.close(), leader.close()]);
  });

  it('a run over the cluster, orchestrator and agents on different nodes with their roles’ credentials, equals the spawned run', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 5, users: 4 });
    const violations = () => cluster!.nodes.map((n) => n.log().match(/Violation/g)?.length ?? 0);
    const before = violations();
    const orch = creds('orchestrator');
    const run = mecsim(['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '5', '--users', '4', '--nats', url(0), '--user', orch.user, '--pass', orch.pass, '--out', outDir, '--round-timeout', String(scaledMs(20_000)), '--join-timeout', String(scaledMs(90_000)), '--json']);
    const agent = (role: string, node: number, count = 1) => {
      const c = creds(role);
      return mecsim(['agent', '--run', runId, '--role', role, '--join', '--count', String(count), '--nats', url(node)], { MECSIM_NATS_USER: c.user, MECSIM_NATS_PASS: c.pass });
    };
    // what docker compose does for every scenario: start a role the run lacks, whose join-only credential gets it told so.
    // Told first: started with the others on a loaded machine, it once exited 0 without being told (most likely it came after the run had ended)
    const cloud = agent('cloud', 2);
    expect(await cloud.exited, cloud.err()).toBe(1);
    expect(cloud.err()).toMatch(/has no cloud agents/);
    const agents = [agent('mec', 1), agent('ue', 2, 2), agent('ue', 0, 2)];
    const code = await run.exited;
    expect(code, run.err()).toBe(0);
    for (const a of agents) expect(await a.exited, a.err()).toBe(0);
    const ext = JSON.parse(run.out());
    expect(ext.status).toBe('complete');
    expect(ext.compare.ok).toBe(true);
    // the leader's state went to the cluster's JetStream (enabled in the account the users live in), on all three nodes
    expect(ext.stateStore).toMatchObject({ kind: 'jetstream-kv', replicas: 3 });
    const spawned = await runDistributed('stackelberg', cfg, 'process');
    expect(ext.equilibrium).toEqual(spawned.equilibrium);
    expect(ext.metrics.rounds).toBe(spawned.metrics.rounds);
    expect(ext.metrics.messages).toBe(spawned.metrics.messages);
    // nothing the run's own processes sent was refused
    expect(violations(), cluster!.nodes.map((n) => n.log().split("\n").filter((l) => /Violation/.test(l)).join("\n")).join("\n")).toEqual(before);
  }, scaledMs(240_000));
});

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
if (!openssl) console.warn('cluster TLS test skipped: openssl is not on PATH (.ci/run installs it)');

describe.skipIf(!openssl)('secured NATS cluster over TLS', () => {
  it('routes and clients use TLS with a CA-signed certificate; a plain connection is refused; messages cross the cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-cluster-tls-'));
    let cluster: StartedCluster | undefined;
    try {
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mecsim test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=mecsim nats', '-keyout', 'server-key.pem', '-out', 'server.csr');
        // routes verify each other's certificate (verify: true): the same certificate serves as client and server
      writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
      ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem');
      const runId = `cluster-tls-${process.pid}`;
      const started = await initAndStart(dir, runId, ['--tls-ca', join(dir, 'ca.pem'), '--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server-key.pem')]);
      cluster = started.cluster;
      const ports = started.ports;
      const s = subjects(runId);
      const ue = readCreds(join(dir, 'conf', 'creds', 'ue.env'));
      const mec = readCreds(join(dir, 'conf', 'creds', 'mec.env'));
      await expect(connect({ servers: `nats://127.0.0.1:${ports[0].client}`, user: ue.user, pass: ue.pass, tls: null, reconnect: false, timeout: 3000 }).then((nc) => nc.close())).rejects.toThrow();
      const tls = { caFile: join(dir, 'ca.pem') };
      const sub = await connect({ servers: `tls://127.0.0.1:${ports[2].client}`, user: ue.user, pass: ue.pass, tls });
      const pub = await connect({ servers: `tls://127.0.0.1:${ports[0].client}`, user: mec.user, pass: mec.pass, tls });
      const got: number[] = [];
      sub.subscribe(s.bcast('ue'), { callback: () => void got.push(1) });
      await sub.flush();
      const end = Date.now() + scaledMs(10_000);
      while (!got.length && Date.now() < end) {
        pub.publish(s.bcast('ue'), encodeEnvelope(runId, 0, 1, 'mec-0', 'price', { p: 3 }));
        await sleep(100);
      }
      expect(got.length, 'a price crossed the TLS routes').toBeGreaterThan(0);
      const varz = (await (await fetch(`http://127.0.0.1:${ports[1].http}/varz`)).json()) as { tls_required?: boolean; cluster?: { tls_required?: boolean } };
      expect(varz.tls_required).toBe(true);
      expect(varz.cluster?.tls_required).toBe(true);
      await Promise.all([sub.close(), pub.close()]);
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, scaledMs(120_000));
});
