/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine: the NATS
 * cluster as `cluster-init` configures it (its command run by the real CLI into a temporary folder),
 * and every mecsim service's command parsed by the real CLI (`run` and `cluster init` by the
 * commander program of orchestrator/cli.ts with their actions replaced, `agent` by the parseArgs
 * options of agents/main.ts) for every scenario command documented at the top of the compose file
 * and every scenario in the tree, each service's credential checked against its role's part.
 * Where a Docker engine answers, `docker compose config` validates the file too.
 */
import { clusterInitInto, parseWith } from '../helpers/cli.ts';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { partsFor } from '../../scenarios/contract.ts';
import { AGENT_OPTIONS, AGENT_ROLES } from '../../agents/main.ts';
import { dockerAnswers } from '../setup/nats.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { resolveInput } from '../../orchestrator/cli.ts';
import { scenarios } from '../../scenarios/index.ts';
import { subjects } from '../../bus/subjects.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { name?: string; services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  profiles?: string[];
  entrypoint?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
}

type Env = Record<string, string | undefined>;

/** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:+r}, ${VAR+r}, ${VAR:?e}, nested. */
function interpolate(s: string, env: Env): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    if (s[i] !== '$') {
      out += s[i++];
      continue;
    }
    if (s[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (s[i + 1] === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < s.length && depth; j++) depth += s[j] === '{' ? 1 : s[j] === '}' ? -1 : 0;
      if (depth) throw new Error(`unclosed \${ in "${s}"`);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/.exec(s.slice(i + 2, j - 1));
      if (!m) throw new Error(`bad interpolation ${s.slice(i, j)}`);
      const [, name, op, arg = ''] = m;
      const v = env[name];
      const set = v !== undefined;
      const full = set && v !== '';
      const present = op?.startsWith(':') ? full : set;
      if (op === undefined) out += v ?? '';
      else if (op.endsWith('-')) out += present ? v : interpolate(arg, env);
      else if (op.endsWith('+')) out += present ? interpolate(arg, env) : '';
      else if (present) out += v;
      else throw new Error(`required variable ${name}: ${arg}`);
      i = j;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (m) {
      out += env[m[0]] ?? '';
      i += 1 + m[0].length;
    } else out += s[i++];
  }
  return out;
}

/** Shell-like word splitting of a string command (what compose does to `command: "…"`). */
function shellSplit(s: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed quote in ${s}`);
      cur = (cur ?? '') + s.slice(i + 1, end);
      i = end;
    } else cur = (cur ?? '') + c;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

function commandArgs(svc: Service, env: Env): string[] {
  if (svc.command === undefined) return [];
  return typeof svc.command === 'string' ? shellSplit(interpolate(svc.command, env)) : svc.command.map((w) => interpolate(String(w), env));
}

/** The value after a flag (`--flag v`); undefined if absent. */
function flag(args: string[], ...names: string[]): string | undefined {
  const i = args.findIndex((a) => names.includes(a));
  return i < 0 ? undefined : args[i + 1];
}

const natsServices = Object.entries(services).filter(([, s]) => /^nats:/.test(s.image ?? ''));
const mecsimServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const agentServices = mecsimServices.filter(([, s]) => commandArgs(s, {})[0] === 'agent');

const parseRun = (args: string[]) => parseWith(['run'], args);

/**
 * What the `cluster-init` service writes, for real: its command run by the real CLI, with the
 * volume's /cluster replaced by a temporary folder. Returns the files by path relative to /cluster.
 */
async function clusterInitFiles(env: Env): Promise<Record<string, string>> {
  const args = commandArgs(services['cluster-init'], env);
  expect(args[args.indexOf('--out') + 1]).toBe('/cluster');
  return clusterInitInto(args, 'mecsim-compose-cluster-');
}

/** The credentials file a service's entrypoint loads (`node --env-file=/cluster/creds/<user>.env bin/mecsim.js`). */
function envFileOf(svc: Service): string {
  const ep = svc.entrypoint ?? [];
  expect(ep[0]).toBe('node');
  expect(ep[ep.length - 1]).toBe('bin/mecsim.js');
  const f = ep.find((w) => w.startsWith('--env-file='));
  expect(f, 'an --env-file').toBeDefined();
  return f!.slice('--env-file='.length);
}

/** One user's permissions line in accounts.conf. */
const userLine = (accounts: string, user: string) => accounts.split('\n').find((l) => l.includes(`user: "${user}"`)) ?? '';

/** Every `docker compose up` command documented in the file's header. */
function documentedCommands(): { line: string; env: Env; scale: Record<string, number> }[] {
  return composeText
    .split('\n')
    .filter((l) => /^#.*docker compose up/.test(l))
    .map((l) => {
      const line = l.replace(/^#\s*/, '').replace(/\s{2,}.*$/, '');
      const [assign, rest] = line.split(/docker compose /);
      const env: Env = {};
      for (const m of assign.matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(\S*))/g)) env[m[1]] = m[2] ?? m[3] ?? m[4];
      const scale: Record<string, number> = {};
      for (const m of rest.matchAll(/--scale (\w[\w-]*)=(\d+)/g)) scale[m[1]] = Number(m[2]);
      return { line, env, scale };
    });
}

describe('docker-compose.yml', () => {
  it('has a 3-node NATS cluster configured by cluster-init: JetStream on, each node with its own store, authenticated routes to the two others', async () => {
    expect(natsServices.map(([n]) => n).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const files = await clusterInitFiles({});
    const stores = new Set<string>();
    const clusterNames = new Set<string>();
    const routePass = /MECSIM_NATS_PASS=(.+)/.exec(files['creds/route.env'])![1];
    for (const [name, svc] of natsServices) {
      expect(svc.image).toBe('nats:2.10-alpine');
      expect(svc.depends_on?.['cluster-init']?.condition).toBe('service_completed_successfully');
      const args = commandArgs(svc, {});
      expect(args).toEqual(['nats-server', '-c', `/cluster/${name}.conf`]);
      expect((svc.volumes ?? []).map((v) => v.split(':'))).toContainEqual(['cluster', '/cluster', 'ro']);
      const conf = files[`${name}.conf`];
      expect(conf, `${name}.conf is generated`).toBeDefined();
      expect(conf).toContain(`server_name: "${name}"`); // JetStream in a cluster needs unique server names
      expect(conf).toContain('include ./accounts.conf');
      clusterNames.add(/name: "([^"]+)"/.exec(conf.slice(conf.indexOf('cluster {')))![1]);
      const port = /listen: "0\.0\.0\.0:(\d+)"/.exec(conf.slice(conf.indexOf('cluster {')))![1];
      expect(conf).toContain(`authorization { user: "route", password: "${routePass}" }`);
      const routes = JSON.parse(/routes: (\[.*\])/.exec(conf)![1]) as string[];
      const others = natsServices.map(([n]) => n).filter((n) => n !== name);
      expect(routes.sort()).toEqual(others.map((n) => `nats-route://route:${routePass}@${n}:${port}`).sort());
      // the store directory lies on a volume of this node only
      const store = /jetstream \{ store_dir: "([^"]+)" \}/.exec(conf)![1];
      const mount = (svc.volumes ?? []).map((v) => v.split(':')).find(([, target]) => store === target || store.startsWith(`${target}/`));
      expect(mount, `${name}: ${store} on a volume`).toBeDefined();
      expect(stores.has(mount![0])).toBe(false);
      stores.add(mount![0]);
      expect(compose.volumes).toHaveProperty(mount![0]);
      expect(conf).toContain('http: "0.0.0.0:8222"'); // the healthcheck reads /healthz
      expect(svc.healthcheck?.test?.join(' ')).toContain('8222/healthz');
    }
    expect(clusterNames.size).toBe(1);
    expect(compose.volumes).toHaveProperty('cluster');
  });

  it('the orchestrator command parses with the real CLI: external agents, the cluster, its own credential, results on a named volume', async () => {
    const args = commandArgs(services.orchestrator, {});
    expect(args[0]).toBe('run');
    const { scenarioId, opts } = await parseRun(args);
    expect(scenarioId).toBe('stackelberg');
    expect(opts.agents).toBe('external');
    expect(opts.runId).toBe('compose');
    expect(opts.users).toBe(6);
    expect(opts.out).toBe('/results');
    const urls = String(opts.nats).split(',');
    expect(urls.sort()).toEqual(natsServices.map(([n]) => `nats://${n}:4222`).sort());
    const vol = (services.orchestrator.volumes ?? []).map((v) => v.split(':')).find(([, t]) => t === '/results');
    expect(vol, '/results is a volume').toBeDefined();
    expect(compose.volumes).toHaveProperty(vol![0]); // a named volume, declared at the top level
    expect(services.orchestrator.profiles).toBeUndefined(); // always started
    expect(envFileOf(services.orchestrator)).toBe('/cluster/creds/orchestrator.env');
    // RUN_ID, USERS and extra flags reach the command
    const custom = await parseRun(commandArgs(services.orchestrator, { RUN_ID: 'r42', USERS: '50', RUN_ARGS: '--slots 3', SCENARIO_ARGS: '--mechanism gsrp-step' }));
    expect(custom.opts).toMatchObject({ runId: 'r42', users: 50, mechanism: 'gsrp-step', slots: 3 });
    // an unknown flag would be refused by the same parser
    await expect(parseRun([...args, '--no-such-flag'])).rejects.toThrow();
  });

  it('cluster-init and the orchestrator describe the same run: same scenario, size, scenario flags and run id', async () => {
    for (const env of [{}, { SCENARIO: 'wholesale-buyback', SIZE_ARGS: '--mecs 40', RUN_ID: 'r9' }, { SCENARIO: 'offload-energy', SCENARIO_ARGS: '--mechanism mobility', USERS: '20' }] as Env[]) {
      const run = await parseRun(commandArgs(services.orchestrator, env));
      const init = await parseWith(['cluster', 'init'], commandArgs(services['cluster-init'], env));
      expect(init.scenarioId).toBe(run.scenarioId);
      expect(init.opts.runId).toEqual([run.opts.runId]);
      for (const k of ['users', 'mecs', 'mechanism', 'config']) expect(init.opts[k], k).toEqual(run.opts[k]);
      expect(init.opts.keepPasswords).toBe(true); // a second `up` of the same run leaves the servers' files unchanged
    }
  });

  it('every agent service runs for any scenario (no profiles), parses with the agent CLI options, and joins with its own role’s credential', async () => {
    expect(agentServices.map(([n]) => n).sort()).toEqual(['broker', 'cloud', 'mec', 'ue']);
    for (const [name, svc] of Object.entries(services)) expect(svc.profiles, name).toBeUndefined();
    const orch = await parseRun(commandArgs(services.orchestrator, {}));
    for (const env of [{}, { RUN_ID: 'r42', UE_PER_CONTAINER: '100', MEC_PER_CONTAINER: '50' }] as Env[]) {
      const runId = env.RUN_ID ?? 'compose';
      for (const [name, svc] of agentServices) {
        const args = commandArgs(svc, env);
        expect(args[0]).toBe('agent');
        const { values, positionals } = parseArgs({ args: args.slice(1), options: AGENT_OPTIONS, strict: true, allowPositionals: false });
        expect(positionals).toEqual([]);
        expect(values.role).toBe(name);
        expect(AGENT_ROLES).toContain(values.role);
        expect(values.join).toBe(true);
        expect(values.run).toBe(runId);
        expect(values.nats).toBe(orch.opts.nats);
        expect(Number(values.count ?? 1)).toBeGreaterThanOrEqual(1);
        expect(Number(values['join-timeout'])).toBeGreaterThanOrEqual(30_000);
        expect(Object.keys(svc.depends_on ?? {}).sort()).toEqual(natsServices.map(([n]) => n).sort());
        expect(envFileOf(svc)).toBe(`/cluster/creds/${name}.env`);
        expect((svc.volumes ?? []).map((v) => v.split(':'))).toContainEqual(['cluster', '/cluster', 'ro']);
      }
    }
  });

  it('`docker compose up --scale ue=50` and every documented command start the roles each scenario needs, each with a credential for exactly its part', async () => {
    const docs = documentedCommands();
    expect(docs.map((d) => d.line)).toContain('docker compose up --scale ue=50'); // the literal command works as written
    // every scenario (the diagnostic ping too) runs on the same services, documented or not
    // (the sizes a scenario needs are the user's --scale; the documented commands give them)
    const cases = [...docs.map((d) => ({ ...d, counted: true })), ...Object.keys(scenarios).map((id) => ({ line: `SCENARIO=${id} SIZE_ARGS=' ' docker compose up`, env: { SCENARIO: id, SIZE_ARGS: ' ' } as Env, scale: {} as Record<string, number>, counted: false }))];
    for (const id of Object.keys(scenarios)) if (id !== 'ping') expect(docs.map((d) => d.env.SCENARIO ?? 'stackelberg'), id).toContain(id);
    for (const d of cases) {
      const { scenarioId, opts } = await parseRun(commandArgs(services.orchestrator, d.env));
      const { scenario, cfg } = resolveInput(scenarioId, opts as Parameters<typeof resolveInput>[1]);
      const parts = partsFor(scenario, cfg);
      const agents = parts.agents(cfg);
      const leaderId = parts.leaderId(cfg);
      const need = new Map<string, number>();
      for (const a of agents) need.set(a.role, (need.get(a.role) ?? 0) + 1);
      for (const role of need.keys()) expect(agentServices.map(([n]) => n), `${d.line}: a service for role ${role}`).toContain(role);
      const accounts = (await clusterInitFiles(d.env))['accounts.conf'];
      const base = subjects(String(opts.runId)).base;
      for (const [name, svc] of agentServices) {
        const replicas = d.scale[name] ?? svc.deploy?.replicas ?? 1;
        const { values } = parseArgs({ args: commandArgs(svc, d.env).slice(1), options: AGENT_OPTIONS, strict: true });
        const started = replicas * Number(values.count ?? 1);
        const line = userLine(accounts, name);
        expect(line, `${d.line}: a ${name} user`).not.toBe('');
        if (!need.has(name)) {
          // a role the scenario does not use may only ask to join (and be told the run has none)
          expect(line, d.line).toContain(`publish: ["${base}.join.*"]`);
          continue;
        }
        if (d.counted) expect(started, `${d.line}: ${name} agents started`).toBeGreaterThanOrEqual(need.get(name)!); // extra replicas wait as spares
        const leads = agents.find((a) => a.id === leaderId)!.role === name;
        expect(line.includes(`"${base}.bc.>"`), `${d.line}: ${name} publishes broadcasts iff it leads`).toBe(leads);
        for (const role of need.keys()) if (role !== name) expect(line, `${d.line}: ${name} may not answer for a ${role}`).not.toContain(`"${base}.rep.${leaderId}.${role}.`);
        if (!leads) expect(line, `${d.line}: ${name} answers on its role's reply subjects`).toContain(`"${base}.rep.${leaderId}.${name}.*"`);
      }
    }
  });

  it.skipIf(!dockerAnswers())('docker compose config accepts the file', () => {
    execFileSync('docker', ['compose', '-f', join(ROOT, 'docker-compose.yml'), 'config', '--quiet'], { stdio: 'pipe', timeout: scaledMs(60_000) });
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage: production dependencies in one stage, a small Node 20 runtime in another', () => {
    const froms = lines.filter((l) => /^FROM\s/i.test(l)).map((l) => /^FROM\s+(\S+)\s+AS\s+(\S+)/i.exec(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f?.[1]).toMatch(/^node:20-(slim|alpine)/);
    const stages = froms.map((f) => f![2]);
    expect(lines.some((l) => /npm ci\b.*--omit=dev/.test(l))).toBe(true);
    expect(lines.some((l) => new RegExp(`^COPY\\s+--from=(${stages.slice(0, -1).join('|')})\\s`).test(l))).toBe(true);
  });

  it('runs as a non-root user with ENTRYPOINT node bin/mecsim.js', () => {
    const users = lines.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
    const entry = lines.filter((l) => /^ENTRYPOINT\s/i.test(l)).pop()!;
    expect(JSON.parse(entry.replace(/^ENTRYPOINT\s+/i, ''))).toEqual(['node', 'bin/mecsim.js']);
  });

  it('copies every source file the CLI imports (and .dockerignore keeps node_modules out)', () => {
    const copied = lines
      .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .filter((w) => !w.startsWith('--'));
    // follow relative imports from bin/mecsim.js: each file must lie under a copied path
    const seen = new Set<string>();
    const queue = [join(ROOT, 'bin/mecsim.js')];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const rel = relative(ROOT, file);
      expect(
        copied.some((c) => rel === c || rel.startsWith(`${c.replace(/\/$/, '')}/`)),
        `${rel} is not copied into the image`,
      ).toBe(true);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)) queue.push(resolve(dirname(file), m[1]));
    }
    expect(seen.size).toBeGreaterThan(20);
    for (const dir of ['agents', 'bus', 'orchestrator', 'scenarios']) expect(statSync(join(ROOT, dir)).isDirectory()).toBe(true);
    expect(readdirSync(ROOT)).toContain('.dockerignore');
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toContain('node_modules');
    for (const c of copied) expect(ignored).not.toContain(c.replace(/\/$/, ''));
  });
});
