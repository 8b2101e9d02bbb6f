/**
 * `mecsim cluster init`: the configuration of a secured NATS cluster for one run — one config file
 * per node (authenticated routes, JetStream), an `accounts.conf` with one NATS user per role of the
 * run, and a credentials file per user (`creds/<user>.env`, what `node --env-file` and `mecsim
 * agent` read: MECSIM_NATS_USER / MECSIM_NATS_PASS).
 *
 * The users' subject permissions are the private server's (orchestrator/permissions.ts,
 * RunPermissions) — not a second copy of them. Two things differ, and both are forced by agents that
 * join a cluster dynamically (`mecsim agent --join`, replicas of a compose service or a Deployment):
 *
 *   1. The run id is fixed at init time (default `compose`). Permissions are subject patterns, and
 *      a run's subjects are `mecsim.<token of the run id>.…`; NATS wildcards match whole tokens only,
 *      so "any run, but each role confined to its own kind of message" cannot be written as one
 *      pattern. A wildcard run token (`mecsim.*.…`) would let a `ue` of run A publish the replies of
 *      run B's agents, i.e. lose the isolation between runs that the token exists for. So the cluster
 *      serves the runs given at init (`--run-id`, repeatable): each user may use those runs'
 *      subjects and nothing else; another run on the same cluster needs a new init (or its own users).
 *   2. Credentials are per role, not per process: every replica of the `ue` service holds the `ue`
 *      credential, and its host id (`ue-<container>-p1`) is not known before it starts. So a host's
 *      own subjects (`join.<host>`, `inbox.<host>.>`, `inbox.orch.failed|bye.<host>`) become
 *      `join.*` etc. (RunPermissions' rules for the host id `*`), with the orchestrator's own inboxes
 *      (`inbox.orch.>`) denied to subscribers. What a role may publish of the mechanism's messages is
 *      unchanged: a `ue` can publish only the replies of `ue-*` agents to the leader, never a price
 *      (`bc.>`), a direct message, control, a slot answer, or a reply for a `mec`. What the wildcard
 *      gives up is the separation between *hosts*: a process can send a join, bye or failure report
 *      naming another host (of any role); the orchestrator still checks that a host speaks only for
 *      the agents it was given (bus/control.ts, joinBarrier), which is what keeps such a message from
 *      changing a result.
 *
 * The roles come from the scenario and its size (who leads, how many agents of each role), so init
 * takes the same scenario flags as `mecsim run`. The role that holds the leader gets the leader's
 * rules; a role that also has followers (no scenario in the tree has one) would get both, and init
 * says so.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgentSpec } from '../scenarios/types.ts';
import { AGENT_ROLES } from '../agents/main.ts';
import { runToken } from '../bus/subjects.ts';
import { RunPermissions, type Credential, type Rules } from './permissions.ts';

/** One node of the cluster: where it listens, and how the others reach its route port. */
export interface ClusterNodeSpec {
  name: string;
  /** address the node binds (0.0.0.0 in a container) */
  listen: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  /** how the other nodes reach this node's route port (host:port) */
  routeAddress: string;
  /** JetStream store directory */
  storeDir: string;
  logFile?: string;
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface ClusterPlan {
  runs: { runId: string; leaderId: string; agents: AgentSpec[] }[];
  nodes: ClusterNodeSpec[];
  clusterName?: string;
  /** TLS for clients and routes: the same server certificate on every node, verified against `ca` */
  tls?: TlsFiles;
  /**
   * Tell neither clients nor other nodes the addresses this node knows (`no_advertise`): for nodes
   * that reach each other through addresses of their own (a relay, a NAT), where the advertised
   * ones would lead around them.
   */
  noAdvertise?: boolean;
}

/** Rules with deny lists (NATS `allow`/`deny`). */
export interface RoleRules {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
}

export interface ClusterUser extends Credential {
  rules: RoleRules;
  /** what this user is for, in words (printed by init) */
  about: string;
}

export interface ClusterConfig {
  /** file name (relative to the output folder) → contents */
  files: Record<string, string>;
  users: ClusterUser[];
  route: Credential;
  notes: string[];
}

/** The host id standing for "any host of this role" in RunPermissions' rules. */
const ANY_HOST = '*';

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`;

function newCredential(user: string, keep: Record<string, string>): Credential {
  return { user, pass: keep[user] ?? randomBytes(18).toString('base64url') };
}

/** Union of several runs' (or parts') rules, keeping each pattern once. */
function merge(parts: Rules[], denySubscribe: string[]): RoleRules {
  const uniq = (xs: string[]) => [...new Set(xs)];
  return {
    publish: { allow: uniq(parts.flatMap((r) => r.publish)), deny: [] },
    subscribe: { allow: uniq(parts.flatMap((r) => r.subscribe)), deny: uniq(denySubscribe) },
  };
}

/**
 * The per-role users of the runs a cluster serves: the orchestrator, and one user per agent role
 * (the rules RunPermissions gives a host of that role, for any host id).
 */
export class ClusterUsers {
  constructor(private readonly runs: ClusterPlan['runs']) {
    if (!runs.length) throw new Error('a cluster serves at least one run id');
    const ids = runs.map((r) => r.runId);
    if (new Set(ids).size !== ids.length) throw new Error(`run id given twice: ${ids.join(', ')}`);
  }

  /** the runs' roles, and every other agent role: a generic compose or Kubernetes deployment starts them all */
  roles(): string[] {
    return [...new Set([...AGENT_ROLES, ...this.runs.flatMap((r) => r.agents.map((a) => a.role))])].sort();
  }

  orchestrator(): RoleRules {
    return merge(
      this.runs.map((r) => new RunPermissions(r.runId, r.leaderId).orchestrator()),
      [],
    );
  }

  /** The rules of role `role`'s credential, and whether it holds the leader's rights. */
  role(role: string): { rules: RoleRules; leads: string[]; follows: boolean; joinOnly: boolean } {
    const parts: Rules[] = [];
    const deny: string[] = [];
    const leads: string[] = [];
    let follows = false;
    for (const r of this.runs) {
      const perms = new RunPermissions(r.runId, r.leaderId);
      const mine = r.agents.filter((a) => a.role === role);
      if (!mine.length) continue;
      const followers = mine.filter((a) => a.id !== r.leaderId);
      if (followers.length < mine.length) {
        parts.push(perms.leaderHost(ANY_HOST));
        leads.push(`${r.leaderId} (run ${r.runId})`);
      }
      if (followers.length) {
        parts.push(perms.followerHost(ANY_HOST, followers));
        follows = true;
      }
      // `inbox.*.>` (any host's request inbox) would include the orchestrator's own inboxes
      deny.push(`mecsim.${runToken(r.runId)}.inbox.orch.>`);
    }
    if (!parts.length) {
      // a role none of the runs has: it may ask to join and hear the answer (the orchestrator says the
      // run has no such agents, and the process exits saying so) — with `ctl.all`, which every agent
      // host listens to from its start — and nothing else
      for (const r of this.runs) {
        const base = `mecsim.${runToken(r.runId)}`;
        parts.push({ publish: [`${base}.join.*`], subscribe: [`${base}.ctl.all`, `${base}.inbox.*.>`] });
        deny.push(`${base}.inbox.orch.>`);
      }
    }
    return { rules: merge(parts, deny), leads, follows, joinOnly: !follows && !leads.length };
  }
}

function permissionsText(r: RoleRules): string {
  const side = (s: { allow: string[]; deny: string[] }) => (s.deny.length ? `{ allow: ${list(s.allow)}, deny: ${list(s.deny)} }` : list(s.allow));
  return `{ publish: ${side(r.publish)}, subscribe: ${side(r.subscribe)} }`;
}

/** The whole configuration: node configs, the accounts file, credentials. Pure: writes nothing. */
export function clusterConfig(plan: ClusterPlan, keep: Record<string, string> = {}): ClusterConfig {
  if (plan.nodes.length < 1) throw new Error('a cluster needs at least one node');
  const names = plan.nodes.map((n) => n.name);
  if (new Set(names).size !== names.length) throw new Error(`node names must differ: ${names.join(', ')}`);
  const users = new ClusterUsers(plan.runs);
  const credential = (user: string) => newCredential(user, keep);
  const out: ClusterUser[] = [{ ...credential('orchestrator'), rules: users.orchestrator(), about: "the orchestrator: every subject of the run, the run's JetStream KV bucket" }];
  const notes: string[] = [];
  for (const role of users.roles()) {
    const { rules, leads, follows, joinOnly } = users.role(role);
    const about = joinOnly ? `role ${role}: no agent of the run has it — may only ask to join (and be told so)` : leads.length ? `role ${role}: the leader ${leads.join(', ')}${follows ? ' and its followers' : ''}` : `role ${role}: followers (replies of its own agents only)`;
    if (leads.length && follows) notes.push(`role ${role} both leads and follows: its credential carries the leader's rights, so its followers could publish broadcasts`);
    out.push({ ...credential(role), rules, about });
  }
  const route = credential('route');
  const files: Record<string, string> = {};
  const userLines = out.map((u) => `    { user: ${q(u.user)}, password: ${q(u.pass)}, permissions: ${permissionsText(u.rules)} }`);
  files['accounts.conf'] = [
    '# generated by `mecsim cluster init`: one user per role of the runs below, with the private server\'s',
    '# per-role subject permissions (orchestrator/permissions.ts). Runs served:',
    ...plan.runs.map((r) => `#   ${r.runId} (subjects mecsim.${runToken(r.runId)}.>, leader ${r.leaderId}, ${r.agents.length} agents)`),
    'accounts {',
    '  MECSIM {',
    '    jetstream: enabled',
    '    users = [',
    ...userLines,
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n');
  const tls = plan.tls;
  const tlsBlock = (indent: string) => (tls ? [`${indent}tls { cert_file: ${q(tls.cert)}, key_file: ${q(tls.key)}, ca_file: ${q(tls.ca)}, verify: false, timeout: 5 }`] : []);
  const routeTls = (indent: string) => (tls ? [`${indent}tls { cert_file: ${q(tls.cert)}, key_file: ${q(tls.key)}, ca_file: ${q(tls.ca)}, verify: true, timeout: 5 }`] : []);
  for (const n of plan.nodes) {
    const others = plan.nodes.filter((o) => o !== n);
    files[`${n.name}.conf`] = [
      `# node ${n.name} of the mecsim cluster (generated by \`mecsim cluster init\`)`,
      `server_name: ${q(n.name)}`,
      `listen: ${q(`${n.listen}:${n.clientPort}`)}`,
      `http: ${q(`${n.listen}:${n.httpPort}`)}`,
      ...(n.logFile ? [`log_file: ${q(n.logFile)}`] : []),
      `jetstream { store_dir: ${q(n.storeDir)} }`,
      ...tlsBlock(''),
      'cluster {',
      `  name: ${q(plan.clusterName ?? 'mecsim')}`,
      `  listen: ${q(`${n.listen}:${n.clusterPort}`)}`,
      // routes are authenticated: a process that is not a node of this cluster cannot join it as one
      `  authorization { user: ${q(route.user)}, password: ${q(route.pass)} }`,
      `  routes: ${list(others.map((o) => `nats-route://${route.user}:${route.pass}@${o.routeAddress}`))}`,
      ...(plan.noAdvertise ? ['  no_advertise: true'] : []),
      ...routeTls('  '),
      '}',
      'include ./accounts.conf',
      '',
    ].join('\n');
  }
  for (const u of out) files[`creds/${u.user}.env`] = `# ${u.about}\nMECSIM_NATS_USER=${u.user}\nMECSIM_NATS_PASS=${u.pass}\n`;
  files['creds/route.env'] = `# the nodes' route credential (only nats-server uses it; kept here so --keep-passwords can reuse it)\nMECSIM_NATS_USER=${route.user}\nMECSIM_NATS_PASS=${route.pass}\n`;
  return { files, users: out, route, notes };
}

/**
 * Write every file; each holds a password, so each is its owner's only. The files go together (node
 * configs, accounts and credentials name the same passwords), so all are written and synced under
 * temporary names first, and renamed into place only once every one is complete: a full disk or a
 * bad folder leaves the previous set as it was, and no half-written file.
 */
export function writeClusterConfig(dir: string, c: ClusterConfig): string[] {
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const [name, text] of Object.entries(c.files)) {
      const path = join(dir, name);
      const tmp = `${path}.tmp-${process.pid}`;
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      staged.push({ tmp, path });
      writeFileSync(tmp, text, { mode: 0o600 });
      const fd = openSync(tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  } catch (e) {
    for (const { tmp } of staged) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* its folder is not there or not writable: nothing was created in it */
      }
    }
    throw new Error(`cannot write the cluster's files in ${dir}: ${(e as Error).message}`);
  }
  for (const { tmp, path } of staged) renameSync(tmp, path);
  return staged.map((s) => s.path);
}

/**
 * The passwords of an earlier init in `dir` (creds/<user>.env), by user: `--keep-passwords` reuses
 * them, so running again (a second `docker compose up`) leaves the servers' files as they were.
 */
export function existingPasswords(dir: string): Record<string, string> {
  const credsDir = join(dir, 'creds');
  if (!existsSync(credsDir)) return {};
  const out: Record<string, string> = {};
  for (const f of readdirSync(credsDir)) {
    if (!f.endsWith('.env')) continue;
    const text = readFileSync(join(credsDir, f), 'utf8');
    const user = /^MECSIM_NATS_USER=(.+)$/m.exec(text)?.[1];
    const pass = /^MECSIM_NATS_PASS=(.+)$/m.exec(text)?.[1];
    if (user && pass && `${user}.env` === f) out[user] = pass;
  }
  return out;
}

/**
 * `--hosts` entries: `host` or `host:client:cluster:http` (ports default to 4222, 6222, 8222). A
 * host name's first label is the node's name and config file (`nats-1` in compose; the pod
 * `mecsim-nats-0` of `mecsim-nats-0.mecsim-nats-headless` in Kubernetes, which picks its file by its
 * pod name); an address gets `nats-<i>`.
 */
export function parseHosts(spec: string, storeDir: string): ClusterNodeSpec[] {
  const hosts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (!hosts.length) throw new Error('--hosts: no host given');
  return hosts.map((h, i) => {
    const m = /^([A-Za-z0-9_.-]+)(?::(\d+):(\d+):(\d+))?$/.exec(h);
    if (!m) throw new Error(`--hosts: "${h}" is not host or host:clientPort:clusterPort:httpPort`);
    const [, host, c = '4222', r = '6222', w = '8222'] = m;
    const ports = [c, r, w].map(Number);
    for (const p of ports) if (!(p >= 1 && p <= 65535)) throw new Error(`--hosts: "${h}": port ${p} is not 1–65535`);
    const isAddress = /^[\d.]+$/.test(host) || host === 'localhost';
    return {
      name: isAddress ? `nats-${i + 1}` : host.split('.')[0],
      listen: isAddress ? host : '0.0.0.0',
      clientPort: ports[0],
      clusterPort: ports[1],
      httpPort: ports[2],
      routeAddress: `${host}:${ports[1]}`,
      storeDir: isAddress ? join(storeDir, `nats-${i + 1}`) : storeDir,
    };
  });
}
