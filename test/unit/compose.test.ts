/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine: the NATS
 * cluster's routes, and every mecsim service's command parsed by the real CLI (`run` by the
 * commander program of orchestrator/cli.ts with its action replaced, `agent` by the parseArgs
 * options of agents/main.ts) for every scenario command documented at the top of the compose file.
 * Where a Docker engine answers, `docker compose config` validates the file too.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mechanismOf, partsOf } from '../../scenarios/contract.ts';
import { AGENT_OPTIONS, AGENT_ROLES } from '../../agents/main.ts';
import { dockerAnswers } from '../setup/nats.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { buildProgram, resolveInput } from '../../orchestrator/cli.ts';
import { scenarios } from '../../scenarios/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { name?: string; services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  profiles?: string[];
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

/** Parse `mecsim run …` with the real commander program, its action replaced so nothing runs. */
async function parseRun(args: string[]): Promise<{ scenarioId: string; opts: Record<string, unknown> }> {
  const program = buildProgram();
  program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  const run = program.commands.find((c) => c.name() === 'run') as Command;
  run.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  let got: { scenarioId: string; opts: Record<string, unknown> } | undefined;
  run.action((scenarioId: string, opts: Record<string, unknown>) => {
    got = { scenarioId, opts };
  });
  await program.parseAsync(args, { from: 'user' });
  if (!got) throw new Error(`not a run command: ${args.join(' ')}`);
  return got;
}

/** Every `docker compose … up` command documented in the file's header. */
function documentedCommands(): { line: string; env: Env; profile: string; scale: Record<string, number> }[] {
  return composeText
    .split('\n')
    .filter((l) => /^#.*docker compose --profile/.test(l))
    .map((l) => {
      const line = l.replace(/^#\s*/, '');
      const [assign, rest] = line.split(/docker compose /);
      const env: Env = {};
      for (const m of assign.matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(\S*))/g)) env[m[1]] = m[2] ?? m[3] ?? m[4];
      const scale: Record<string, number> = {};
      for (const m of rest.matchAll(/--scale (\w[\w-]*)=(\d+)/g)) scale[m[1]] = Number(m[2]);
      return { line, env, profile: /--profile (\S+)/.exec(rest)![1], scale };
    });
}

describe('docker-compose.yml', () => {
  it('has a 3-node NATS cluster: JetStream on, each node with its own store, routes to the two others', () => {
    expect(natsServices.map(([n]) => n).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const stores = new Set<string>();
    const clusterNames = new Set<string>();
    for (const [name, svc] of natsServices) {
      expect(svc.image).toBe('nats:2.10-alpine');
      const args = commandArgs(svc, {});
      expect(args.includes('-js') || args.includes('--jetstream'), name).toBe(true);
      expect(flag(args, '--server_name', '-n', '--name')).toBe(name); // JetStream in a cluster needs unique server names
      clusterNames.add(flag(args, '--cluster_name')!);
      const port = /:(\d+)$/.exec(flag(args, '--cluster')!)![1];
      const routes = flag(args, '--routes')!.split(',').map((r) => r.trim());
      const others = natsServices.map(([n]) => n).filter((n) => n !== name);
      expect(routes.sort()).toEqual(others.map((n) => `nats://${n}:${port}`).sort());
      // the store directory lies on a volume of this node only
      const store = flag(args, '--store_dir', '-sd')!;
      const mount = (svc.volumes ?? []).map((v) => v.split(':')).find(([, target]) => store === target || store.startsWith(`${target}/`));
      expect(mount, `${name}: ${store} on a volume`).toBeDefined();
      expect(stores.has(mount![0])).toBe(false);
      stores.add(mount![0]);
      expect(compose.volumes).toHaveProperty(mount![0]);
      expect(flag(args, '-m', '--http_port')).toBe('8222'); // the healthcheck reads /healthz
      expect(svc.healthcheck?.test?.join(' ')).toContain('8222/healthz');
    }
    expect(clusterNames.size).toBe(1);
    expect([...clusterNames][0]).toBeTruthy();
  });

  it('the orchestrator command parses with the real CLI: external agents, the cluster, results on a named volume', async () => {
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
    // RUN_ID, USERS and extra flags reach the command
    const custom = await parseRun(commandArgs(services.orchestrator, { RUN_ID: 'r42', USERS: '50', RUN_ARGS: '--mechanism gsrp-step --slots 3' }));
    expect(custom.opts).toMatchObject({ runId: 'r42', users: 50, mechanism: 'gsrp-step', slots: 3 });
    // an unknown flag would be refused by the same parser
    await expect(parseRun([...args, '--no-such-flag'])).rejects.toThrow();
  });

  it('every agent command parses with the agent CLI options and joins the orchestrator’s run on the same cluster', async () => {
    expect(agentServices.map(([n]) => n).sort()).toEqual(['broker', 'cloud', 'mec', 'ue']);
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
      }
    }
  });

  it('each documented profile starts exactly the roles its scenario needs, as many agents as the orchestrator waits for', async () => {
    const docs = documentedCommands();
    // every scenario (except the diagnostic ping) has a documented command
    const documented = new Set(docs.map((d) => d.env.SCENARIO ?? 'stackelberg'));
    for (const id of Object.keys(scenarios)) if (id !== 'ping') expect(documented, id).toContain(id);
    // plus the plain `docker compose --profile stackelberg up` with every default
    for (const d of [...docs, { line: 'defaults', env: {}, profile: 'stackelberg', scale: {} }]) {
      const { scenarioId, opts } = await parseRun(commandArgs(services.orchestrator, d.env));
      const { scenario, cfg } = resolveInput(scenarioId, opts as Parameters<typeof resolveInput>[1]);
      const need = new Map<string, number>();
      const parts = partsOf(scenario, mechanismOf(scenario, cfg));
      for (const a of parts.agents(cfg)) need.set(a.role, (need.get(a.role) ?? 0) + 1);
      const leaderRole = parts.agents(cfg).find((a) => a.id === parts.leaderId(cfg))!.role;
      const started = new Map<string, number>();
      for (const [name, svc] of agentServices) {
        if (!svc.profiles?.includes(d.profile)) continue;
        const replicas = d.scale[name] ?? svc.deploy?.replicas ?? 1;
        const { values } = parseArgs({ args: commandArgs(svc, d.env).slice(1), options: AGENT_OPTIONS, strict: true });
        started.set(String(values.role), replicas * Number(values.count ?? 1));
      }
      expect(Object.fromEntries(started), d.line).toEqual(Object.fromEntries(need));
      expect(started.has(leaderRole), d.line).toBe(true);
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
