/**
 * The `mecsim` command line. Usage errors (unknown flags, bad numbers, unknown scenario or
 * mechanism, impossible parameters) exit with code 2 and a message naming the flag.
 */
import { existsSync, mkdtempSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { catalog } from '../catalog/catalog.ts';
import { describeSlotOf, partsFor } from '../scenarios/contract.ts';
import { ConfigError, type JsonObject, type RunInput, type Scenario } from '../scenarios/types.ts';
import { agentMain } from '../agents/main.ts';
import { NatsUnavailable } from './natsServer.ts';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { assertToken } from '../bus/subjects.ts';
import { BadServerUrl, parseServers } from '../bus/connection.ts';
import { BEYOND_MAX_AGENTS, checkConfig, countList, MAX_AGENTS, MAX_SLOTS, stampConfig } from '../scenarios/common/schema.ts';
import { checkProcessBudget, parsePlacement, planWorkers, runScenario, RunError, type ExternalAgents, type NatsAuth, type Placement, type Progress } from './run.ts';
import { scalars, toCsv, writeAtomic } from './results.ts';
import { claimsRows } from './report.ts';
import type { Faults } from './run/resultsWriter.ts';
import { LinkConfigError, mergeLinkFlags, type LinkSection } from '../bus/link.ts';
import { linkLine, withLink } from './run/linkPlan.ts';
import { comparedWith, runVerdict, slotVerdict } from './verdict.ts';
import { cite } from '../scenarios/common/paper.ts';
import { Interrupt } from './interrupt.ts';
import { collectSooner } from './heapPolicy.ts';
import { clusterConfig, existingPasswords, parseHosts, writeClusterConfig } from './cluster.ts';

export class UsageError extends Error {}

/** Node's timers hold at most 2^31 − 1 ms; a longer one fires at once, which would make every deadline 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMER_LIMIT = "Node's timers hold at most 2^31 − 1 ms, about 24.8 days";
const SLOTS_LIMIT = 'every slot keeps a record in memory and a row in slots.csv; run a longer horizon as several runs';

/** An integer flag in [min, max] (1e4 notation allowed); above max the message says what to do instead. */
const intArg =
  (flag: string, min: number, max = Number.MAX_SAFE_INTEGER, instead = '') =>
  (v: string): number => {
    const n = Number(v);
    if (!/^[-+]?\d+(?:\.\d+)?(?:e\+?\d+)?$/i.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer ≥ ${min}, not "${v}"`);
    if (n > max) throw new InvalidArgumentError(`${flag} must be at most ${max}, not ${v}${instead ? ` (${instead})` : ''}`);
    return n;
  };
const usersArg = intArg('--users', 1, MAX_AGENTS, BEYOND_MAX_AGENTS);
const slotsArg = intArg('--slots', 1, MAX_SLOTS, SLOTS_LIMIT);
const timeoutArg = (flag: string) => intArg(flag, 1, MAX_TIMER_MS, TIMER_LIMIT);

/** Every scenario-specific option, so `run` and `params` accept them; each is checked against the chosen scenario. */
function scenarioOptionNames(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const s of catalog.all()) for (const o of s.options) m.set(o.name, [...(m.get(o.name) ?? []), s.id]);
  return m;
}

function addScenarioOptions(cmd: Command): void {
  const seen = new Set<string>();
  for (const s of catalog.all()) {
    for (const o of s.options) {
      if (seen.has(o.name)) continue;
      seen.add(o.name);
      const users = [...(scenarioOptionNames().get(o.name) ?? [])].join(', ');
      cmd.addOption(new Option(`--${o.name}${o.arg ? ` ${o.arg}` : ''}`, `${o.description} [${users}]`));
    }
  }
}

/** `--config`: the file parsed, checked against the scenario's schema for `mechanism` (wrong types and unknown keys refused). */
function loadConfig(path: string, scenario: Scenario, mechanism: string | undefined): JsonObject {
  const config = parseConfigFile(path);
  if (config.scenario !== undefined && config.scenario !== scenario.id) throw new UsageError(`--config: the file is for scenario "${String(config.scenario)}", not ${scenario.id}`);
  try {
    checkConfig(scenario.configSchema(mechanism ?? (typeof config.mechanism === 'string' ? config.mechanism : scenario.defaultMechanism)), config);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--config ${path}: ${e.message}`);
    throw e;
  }
  return config;
}

function parseConfigFile(path: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the top level must be a JSON object');
    return v as JsonObject;
  } catch (e) {
    throw new UsageError(`--config: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

interface CommonOpts {
  mechanism?: string;
  users?: number;
  seed?: number;
  slots?: number;
  config?: string;
  [k: string]: unknown;
}

const GENERIC = new Set(['mechanism', 'users', 'seed', 'slots', 'config', 'placement', 'agents', 'out', 'json', 'verbose', 'nats', 'roundTimeout', 'joinTimeout', 'runId', 'sweep', 'restarts', 'strict', 'user', 'pass', 'token', 'creds', 'tlsCa', 'tlsCert', 'tlsKey', 'rtt', 'jitter', 'loss', 'link']);

/** Resolve the scenario's full configuration from the CLI flags and an optional config file. */
export function resolveInput(scenarioId: string, o: CommonOpts): { scenario: Scenario; cfg: JsonObject } {
  const scenario = catalog.get(scenarioId);
  if (!scenario) throw new UsageError(`unknown scenario "${scenarioId}"; known: ${catalog.ids().join(', ')} (see mecsim list)`);
  if (o.mechanism !== undefined && !scenario.mechanisms.some((m) => m.id === o.mechanism)) {
    throw new UsageError(`--mechanism: "${o.mechanism}" is not a mechanism of ${scenario.id}; choose one of ${scenario.mechanisms.map((m) => m.id).join(', ')}`);
  }
  const config = o.config ? loadConfig(o.config, scenario, o.mechanism) : undefined;
  const mechanism = o.mechanism ?? (config?.mechanism as string | undefined);
  if (mechanism !== undefined && !scenario.mechanisms.some((m) => m.id === mechanism)) {
    throw new UsageError(`--mechanism: "${mechanism}" is not a mechanism of ${scenario.id}; choose one of ${scenario.mechanisms.map((m) => m.id).join(', ')}`);
  }
  const options: RunInput['options'] = {};
  const own = new Set(scenario.options.map((x) => x.name));
  for (const [k, v] of Object.entries(o)) {
    if (GENERIC.has(k) || v === undefined) continue;
    const flag = k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!own.has(flag) && !own.has(k)) throw new UsageError(`--${flag} does not apply to scenario ${scenario.id}`);
    options[own.has(flag) ? flag : k] = v as string | number | boolean;
  }
  const input: RunInput = {
    mechanism,
    seed: o.seed ?? (typeof config?.seed === 'number' ? config.seed : 1),
    slots: o.slots ?? (typeof config?.slots === 'number' ? config.slots : scenario.defaultSlots ?? 1),
    users: o.users,
    config,
    options,
  };
  try {
    const cfg = scenario.resolve(input);
    const link = mergeLinkFlags(config?.link as LinkSection | undefined, { rtt: o.rtt as string | undefined, jitter: o.jitter as string | undefined, loss: o.loss as string | undefined, link: o.link as string[] | undefined });
    return { scenario, cfg: withLink(scenario, cfg, link) };
  } catch (e) {
    if (e instanceof LinkConfigError) throw new UsageError(o.config && !e.key.startsWith('--') ? `--config ${o.config}: ${e.message}` : e.message);
    if (e instanceof ConfigError) throw new UsageError(e.message.startsWith('--') ? e.message : `${/^[a-z]/.test(e.flag) && own.has(e.flag) ? '--' : ''}${e.message}`);
    throw e;
  }
}

/** The link model's flags (bus/link.ts); they lay over a config file's `link` section. */
export function addLinkFlags(cmd: Command): Command {
  return cmd
    .option('--rtt <duration>', 'link model: round trip between agents, e.g. 20ms (every role pair: constant one-way delay rtt/2; a number is ms)')
    .option('--jitter <duration>', 'link model: each message\'s delay moves by a uniform draw in [−jitter, +jitter], e.g. 2ms')
    .option('--loss <p>', 'link model: probability a message is lost (recovered by retransmission), e.g. 0.01')
    .option('--link <A>B=spec>', 'link model: one directed role pair, e.g. ue>mec=lognormal(10ms,0.5),jitter=1ms,loss=0.01; delays: 10ms, uniform(a,b), normal(mean,sd), lognormal(mean,sigma), pareto(mean,alpha); * is any role; repeatable', (v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
}

function addCommonScenarioFlags(cmd: Command): Command {
  return cmd
    .option('-m, --mechanism <id>', 'mechanism (see mecsim list)')
    .option('-n, --users <n>', 'number of user agents', usersArg)
    .option('-s, --seed <s>', 'run seed: every parameter is drawn from it by agent index (default 1)', intArg('--seed', 0))
    .option('-t, --slots <t>', 'number of slots (default: the scenario’s)', slotsArg)
    .option('-c, --config <file.json>', 'explicit parameters (the form `mecsim params` prints)');
}

function fmt(x: unknown): string {
  if (typeof x === 'number') return Number.isInteger(x) ? String(x) : x.toPrecision(8).replace(/\.?0+$/, '').replace(/\.?0+e/, 'e');
  return String(x);
}

export function printHuman(summary: Record<string, unknown>, scenario: Scenario): void {
  const out = (s = '') => process.stdout.write(s + '\n');
  const rm = summary.runMetrics as Record<string, any>;
  const per = (summary.perSlot as any[]) ?? [];
  out(`mecsim ${scenario.id} · ${summary.mechanism} · seed ${summary.seed} · ${(summary.agents as any).followers} followers + leader ${(summary.agents as any).leader} · placement ${summary.placement} (${summary.workers} processes)`);
  const describeSlot = describeSlotOf(scenario, typeof summary.mechanism === 'string' ? summary.mechanism : undefined);
  for (const r of per.slice(0, 10)) {
    const line = describeSlot?.({ equilibrium: r.equilibrium, converged: r.converged, notes: r.notes, extra: r.extra }, r) ?? JSON.stringify(r.equilibrium).slice(0, 200);
    const missing = r.metrics?.missingReplies ? ` (${r.metrics.missingReplies} ${r.metrics.missingReplies === 1 ? 'reply' : 'replies'} missing)` : '';
    out(`  slot ${r.slot}: ${line}  ${slotVerdict(r.compare, missing)}${r.compare.note ? ` — ${r.compare.note}` : ''}`);
  }
  if (per.length > 10) out(`  … ${per.length - 10} more slots in slots.csv (${per.filter((r) => r.compare.ok).length}/${per.length} equal ${comparedWith(per)})`);
  const t = rm.timeToEquilibriumMs;
  out(`  rounds ${rm.rounds} · messages ${rm.messages} · ${(rm.bytes / 1024).toFixed(1)} KiB · time to equilibrium ${per.length > 1 ? `median ${fmt(t.p50)} ms, max ${fmt(t.max)} ms` : `${fmt(t.max)} ms`} · round p50 ${fmt(rm.roundLatencyMs.p50)} ms, p95 ${fmt(rm.roundLatencyMs.p95)} ms, max ${fmt(rm.roundLatencyMs.max)} ms`);
  const link = linkLine(summary);
  if (link) out(link);
  const srv = rm.counters.server;
  if (rm.restarts?.length || rm.resent) out(`  faults survived: ${(rm.restarts ?? []).map((r: any) => `${r.worker}${r.leader ? ' (leader)' : ''} ${r.reason} in slot ${r.slot}, rejoined in ${r.rejoinMs ?? '?'} ms`).join('; ') || 'no process restarted'} · ${rm.resent} requests re-sent`);
  out(`  all traffic: ${rm.counters.ours.published} messages published by mecsim${srv ? `, ${srv.inMsgs} received by the server (${srv.outMsgs} delivered)` : ' (server counts need a private server)'} · drops ${Object.values(rm.drops as Record<string, number>).reduce((a, b) => a + b, 0)}${rm.linkRetransmissions !== undefined ? ` (${(rm.drops['link-lost'] ?? 0) + (rm.drops['link-echo'] ?? 0)} of them the link model's)` : ''} · agents joined in p50 ${fmt(rm.agentStartToJoinedMs.p50)} ms, max ${fmt(rm.agentStartToJoinedMs.max)} ms`);
  const claims = claimsRows(summary as Record<string, any>);
  if (claims.length) out(`  the paper's claims:`);
  for (const c of claims) {
    out(`    ${c.verdict === 'fails' ? 'FAILS' : c.verdict || '?'}  ${c.claim}`);
    if (c.numbers) out(`          ${c.numbers.length > 400 ? `${c.numbers.slice(0, 400)} … (summary.json results.claims)` : c.numbers}`);
    if (c.note) out(`          note: ${c.note}`);
  }
  const verdict = runVerdict(per, Boolean(summary.ok));
  out(`  ${summary.ok ? `distributed run ${verdict}` : `WARNING: the distributed run ${verdict} (see summary.json)`}${faultsClause(summary.faults as Faults | undefined)}`);
}

/** ", with 3 replies missing at round deadlines, …": what the outcome went through, so "equals the reference" never stands alone when it was not clean */
function faultsClause(f: Faults | undefined): string {
  if (!f || f.clean) return '';
  const parts = [];
  if (f.missingReplies) parts.push(`${f.missingReplies} ${f.missingReplies === 1 ? 'reply' : 'replies'} missing at round deadlines (the sender's last strategy used; --strict fails the run instead)`);
  if (f.resent) parts.push(`${f.resent} ${f.resent === 1 ? 'request' : 'requests'} re-sent`);
  if (f.restarts) parts.push(`${f.restarts} agent ${f.restarts === 1 ? 'process' : 'processes'} restarted`);
  return `, with ${parts.join(', ')} (summary.json faults)`;
}

/** With --agents external: the commands to start on other terminals, containers or hosts (stderr, so --json stays clean). */
function printExternal(p: ExternalAgents): void {
  const total = p.roles.reduce((s, r) => s + r.count, 0);
  const roles = p.roles.map((r) => `${r.role} ×${r.count}${r.leader ? ' (leader)' : ''}`).join(', ');
  process.stderr.write(
    `mecsim: run ${p.runId} waits for ${total} external agents (${roles}) for up to ${Math.round(p.joinTimeoutMs / 1000)} s; start them with
` +
      p.commands.map((c) => `  ${c}
`).join('') +
      `  (npm start -- agent … in a checkout; a role's agents may be split over several processes, e.g. --count 3 twice)
`,
  );
}

/** `--placement`, or a usage error naming the flag */
function placementOption(v: unknown): Placement {
  try {
    return parsePlacement(String(v));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--run-id`: it names the run's folder and its NATS subjects, so it must be one subject token */
function runIdOption(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  try {
    return assertToken('--run-id', String(v));
  } catch {
    throw new UsageError(`--run-id ${JSON.stringify(String(v))} must be 1–64 characters of A–Z, a–z, 0–9, _ and - (it names the run's folder and its NATS subjects), e.g. --run-id exp-42`);
  }
}

/** `--nats`, else NATS_URL (empty counts as unset): a malformed URL is a usage error naming where it came from */
function natsUrlOption(v: unknown): string | undefined {
  const [flag, url] = v !== undefined ? ['--nats', String(v)] : ['NATS_URL', process.env.NATS_URL || undefined];
  if (url === undefined) return undefined;
  try {
    parseServers(url);
  } catch (e) {
    if (e instanceof BadServerUrl) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
  return url;
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * `--out`: a folder that exists or can be made. The nearest existing folder on the path is probed
 * with a temporary entry (removed at once), so a file, a read-only or a virtual file system (/proc)
 * is a usage error before anything starts, not an errno stack trace from the run.
 */
function outDirOption(v: unknown): string {
  const dir = String(v);
  let probe = resolvePath(dir);
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  let isDir: boolean;
  try {
    isDir = statSync(probe).isDirectory();
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot use ${probe} (${errCode(e)}); name a folder you can write to`);
  }
  if (!isDir) throw new UsageError(`--out ${dir}: ${probe} is a file, not a folder; name a folder you can write to (it is created if missing)`);
  try {
    rmdirSync(mkdtempSync(join(probe, '.mecsim-write-test-')));
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot write into ${probe} (${errCode(e)}); name a folder you can write to`);
  }
  return dir;
}

/** --user/--pass/--token/--creds/--tls-*: only with an external server (a private one gets generated per-role users) */
function natsAuthOption(o: Record<string, unknown>): NatsAuth | undefined {
  // with an external server, MECSIM_NATS_USER / _PASS stand in for --user / --pass, as for `mecsim agent`
  // (how a credentials file of `mecsim cluster init` reaches a container: node --env-file=creds/orchestrator.env)
  const env = o.nats || process.env.NATS_URL ? process.env : {};
  const a: NatsAuth = { user: (o.user ?? env.MECSIM_NATS_USER) as string | undefined, pass: (o.pass ?? env.MECSIM_NATS_PASS) as string | undefined, token: o.token as string | undefined, creds: o.creds as string | undefined, tlsCa: o.tlsCa as string | undefined, tlsCert: o.tlsCert as string | undefined, tlsKey: o.tlsKey as string | undefined };
  const given = Object.entries(a).filter(([, v]) => v !== undefined).map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (!given.length) return undefined;
  if (!o.nats && !process.env.NATS_URL) throw new UsageError(`${given.join(', ')} apply to an external server: add --nats URL (a private server gets generated per-role users)`);
  if ((a.user === undefined) !== (a.pass === undefined)) throw new UsageError('--user and --pass go together');
  if (a.tlsCert !== undefined && a.tlsKey === undefined) throw new UsageError('--tls-cert needs --tls-key');
  for (const [flag, f] of [['--creds', a.creds], ['--tls-ca', a.tlsCa], ['--tls-cert', a.tlsCert], ['--tls-key', a.tlsKey]] as const) if (f !== undefined && !existsSync(f)) throw new UsageError(`${flag}: no such file ${f}`);
  return a;
}

/**
 * Aborts `signal` on Ctrl-C (and SIGTERM) until `dispose()`: a run then stops its agents and marks
 * its summary interrupted. A second signal exits at once (see interrupt.ts: nothing is left behind).
 */
function onInterrupt(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Interrupt {
  return new Interrupt({ signals }).install();
}

function progressRenderer(enabled: boolean) {
  if (!enabled) return { update: (_p: Progress) => undefined, stop: () => undefined };
  let bar: cliProgress.SingleBar | undefined;
  let phase = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update: (p: Progress) => {
      if (p.phase === 'join' || p.phase === 'slot') {
        const total = p.phase === 'join' ? p.total : p.slots;
        const value = p.phase === 'join' ? p.joined : p.slot;
        if (phase !== p.phase) {
          stop();
          phase = p.phase;
          bar = new cliProgress.SingleBar({ format: `${p.phase === 'join' ? 'agents joined' : 'slots        '} [{bar}] {value}/{total} {eta_formatted}`, hideCursor: true, stream: process.stderr, clearOnComplete: false }, cliProgress.Presets.shades_classic);
          bar.start(total, value);
        } else bar?.update(value);
      } else {
        stop();
        phase = p.phase;
      }
    },
    stop,
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mecsim')
    .description('Distributed agent-based simulator of mobile-edge-computing resource markets over NATS.\nEvery user, MEC server, cloud and broker is an agent process; see README.md.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // every command but `agent` is an orchestrator's (or a reader of its files): agent hosts keep their own flags
    .hook('preAction', (_program, action) => {
      if (action.name() !== 'agent') collectSooner();
    });
  program.configureOutput({ outputError: (s, write) => write(s) });

  const run = addCommonScenarioFlags(program.command('run').argument('<scenario>', 'scenario id (see mecsim list)').description('run a scenario as real agent processes over NATS and compare it with the centralized reference'))
    .option('-p, --placement <p>', 'process (one process per agent), packed:K (K agents per worker) or auto (one process per agent up to 32 followers, else one worker per core)', 'auto')
    .addOption(
      new Option('--agents <mode>', 'spawn: start every agent process here; external: start none (not even the leader) and wait for `mecsim agent --run <id> --role <r> --join [--count K]` started elsewhere (containers, other hosts; the commands are printed)')
        .choices(['spawn', 'external'])
        .default('spawn'),
    )
    .option('-o, --out <dir>', 'where run folders are written', 'runs')
    .option('--json', 'print summary.json to stdout (nothing else on stdout)')
    .option('-v, --verbose', 'also log to the console')
    .option('--nats <url>', 'use this NATS server (default: $NATS_URL, else a private nats-server)')
    .option('--user <u>', 'with --nats: user name (and --pass) for a server that asks for one')
    .option('--pass <p>', 'with --nats: password')
    .option('--token <t>', 'with --nats: authentication token')
    .option('--creds <file>', 'with --nats: a NATS .creds file (JWT + nkey)')
    .option('--tls-ca <file>', 'with --nats: CA certificate to verify the server (tls://…)')
    .option('--tls-cert <file>', 'with --nats: client certificate (with --tls-key)')
    .option('--tls-key <file>', 'with --nats: client key')
    .option('--round-timeout <ms>', 'deadline of one message round', timeoutArg('--round-timeout'), 30_000)
    .option('--join-timeout <ms>', 'how long to wait for every agent to join (default: at least max(30 s, 20 ms × agents), with --agents external max(120 s, …); longer with more agent processes and on a loaded machine)', timeoutArg('--join-timeout'))
    .option('--run-id <id>', 'run id (default: generated; with --agents external the agents join it with --run <id>)')
    .option('--strict', 'fail the run if any reply is missing at a round deadline (by default the sender\'s last strategy is used, and the summary and the console say so)')
    .option('--restarts <n>', 'restart an agent process that dies during the run up to n times (a follower rejoins and gets its slot replayed; the leader resumes from its state in JetStream KV); 0: a death fails the run', intArg('--restarts', 0, 1000, 'a process that dies that often will not recover; 0 fails the run at the first death'), 3)
    .option('--sweep <key=v1,v2,…>', 'one run per value of a parameter: the same as `mecsim sweep <scenario> --vary key=v1,v2,…` (e.g. users.r=1e7,2e7 for every user)');
  addLinkFlags(run);
  addScenarioOptions(run);
  run.addHelpText(
    'after',
    '\nExit codes: 0 the run completed and equals its reference on every slot; 1 it failed, or completed with a slot that differs (summary.json: complete, ok false); 2 a usage error; 3 no NATS server to connect to; 130 interrupted.',
  );
  run.exitOverride().action(async (scenarioId: string, o: Record<string, unknown>) => {
    const { scenario, cfg } = resolveInput(scenarioId, o as CommonOpts);
    const placement = placementOption(o.placement);
    const json = Boolean(o.json);
    const external = o.agents === 'external';
    if (external && run.getOptionValueSource('placement') === 'cli') throw new UsageError('--placement does not apply to --agents external: the agent processes are started elsewhere (one `mecsim agent --join --count K` hosts K agents)');
    if (external && o.sweep !== undefined) throw new UsageError('--sweep cannot be combined with --agents external (every run of a sweep needs its own agents)');
    const runId = runIdOption(o.runId);
    const natsUrl = natsUrlOption(o.nats);
    if (o.sweep !== undefined) {
      // `run --sweep key=…` is `mecsim sweep <scenario> --vary key=…` with this run's flags
      const { sweep: vary, placement: _p, out, json: _j, nats: _n, roundTimeout, agents: _a, verbose: _v, restarts: _r, strict: _s, runId: _i, joinTimeout: _jt, ...rest } = o;
      const { points, key } = await sweepPoints(scenario.id, { vary: String(vary), flag: '--sweep' }, rest as CommonOpts);
      return executeSweep(scenario, key, points, { placement, outDir: outDirOption(out), natsUrl, natsAuth: natsAuthOption(o), roundTimeoutMs: roundTimeout as number, json });
    }
    const natsAuth = natsAuthOption(o);
    // the process plan is checked before the output folder, so a plan that cannot fit creates nothing
    if (!external) {
      const parts = partsFor(scenario, cfg);
      checkProcessBudget(planWorkers(parts.agents(cfg), parts.leaderId(cfg), placement, scenario.roles).length, placement);
    }
    const outDir = outDirOption(o.out);
    const progress = progressRenderer(!json && Boolean(process.stderr.isTTY));
    const interrupt = onInterrupt();
    try {
      const summary = await runScenario({
        scenario,
        cfg,
        placement,
        outDir,
        runId,
        natsUrl,
        roundTimeoutMs: o.roundTimeout as number,
        joinTimeoutMs: o.joinTimeout as number | undefined,
        maxRestarts: o.restarts as number,
        strict: Boolean(o.strict),
        natsAuth,
        verbose: Boolean(o.verbose),
        signal: interrupt.signal,
        agents: external ? 'external' : 'spawn',
        onProgress: (p) => {
          if (p.phase === 'external') printExternal(p);
          progress.update(p);
        },
      });
      progress.stop();
      if (json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else {
        printHuman(summary, scenario);
        process.stdout.write(`  results: ${String(o.out)}/${summary.runId}/ (report.html with figures/*.svg and *.csv, summary.json, trajectory.csv, slots.csv, metrics.json, config.json, run.log, agents.log)\n`);
      }
      // a distributed result that differs from its reference is a failed run for whoever checks the exit code
      if (summary.ok === false) process.exitCode = 1;
    } finally {
      progress.stop();
      interrupt.dispose();
    }
  });

  const params = addCommonScenarioFlags(program.command('params').argument('<scenario>', 'scenario id').description('print every parameter of a run (drawn from the seed, or from --config) as JSON; feed it back with --config'));
  params.option('--schema', 'print the JSON Schema of the config file instead (for --mechanism only, if given); the same as schemas/config/<scenario>.schema.json');
  addLinkFlags(params);
  addScenarioOptions(params);
  params.exitOverride().action(async (scenarioId: string, o: Record<string, unknown>) => {
    if (o.schema) return printConfigSchema(scenarioId, o.mechanism as string | undefined);
    const { cfg } = resolveInput(scenarioId, o as CommonOpts);
    process.stdout.write(JSON.stringify(stampConfig(cfg), null, 2) + '\n');
  });

  program
    .command('schemas')
    .description('write the JSON Schemas of config files (one per scenario) and of summary.json: what schemas/ holds (npm run schemas)')
    .option('-o, --out <dir>', 'the folder to write into', 'schemas')
    .action(async (o: { out: string }) => {
      const { writeSchemas } = await import('./schemas.ts');
      for (const path of writeSchemas(outDirOption(o.out))) process.stdout.write(`${path}\n`);
    });

  const sweep = program
    .command('sweep')
    .argument('<scenario>', 'scenario id (see mecsim list)')
    .description('one distributed run per value × mechanism × users × seed; writes a tidy CSV (one row per run and slot), a summary CSV and a comparison page and figure with medians and 95 % intervals across seeds')
    .option('--vary <key=v1,v2,…>', 'a config key (dotted, as `mecsim params` prints it; a per-user key such as users.r applies to every user) and its values')
    .option('-n, --users <list>', 'comma-separated user counts, e.g. 10,100,1000 (users varied like a key)')
    .option('--seeds <list>', 'seeds, e.g. 1-20 or 1,2,5 (default: --seed, else 1)')
    .option('--mechanisms <list>', 'comma-separated mechanisms to compare (default: --mechanism, else the default one)')
    .option('-r, --repeat <R>', 'runs per point and seed (the same config: for timing spread)', intArg('--repeat', 1, 1000), 1)
    .option('-m, --mechanism <id>', 'mechanism (see mecsim list)')
    .option('-s, --seed <s>', 'run seed (default 1)', intArg('--seed', 0))
    .option('-t, --slots <t>', 'number of slots (default: the scenario’s)', slotsArg)
    .option('-c, --config <file.json>', 'explicit parameters; --vary changes one key of it')
    .option('-p, --placement <p>', 'process, packed:K or auto (one process per agent up to 32 followers, else one worker per core)', 'auto')
    .option('-o, --out <dir>', 'where the sweep folder is written', 'runs')
    .option('--json', 'print the rows and the summary as JSON on stdout')
    .option('--nats <url>', 'use this NATS server (default: $NATS_URL, else a private nats-server per run)')
    .option('--round-timeout <ms>', 'deadline of one message round', timeoutArg('--round-timeout'), 30_000)
    .option('--no-floor', 'with 2 or more --users counts: do not measure the raw NATS floor after each run (scale.svg then draws no floor)');
  addScenarioOptions(sweep);
  sweep.exitOverride().action(async (scenarioId: string, o: Record<string, unknown>) => {
    const { repeat, json, users: _u, out, nats, roundTimeout, placement: _p, vary, seeds, mechanisms, floor, ...rest } = o;
    const placement = placementOption(o.placement);
    const natsUrl = natsUrlOption(o.nats);
    const { scenario, points, key } = await sweepPoints(scenarioId, { vary: vary as string | undefined, users: o.users as string | undefined, seeds: seeds as string | undefined, mechanisms: mechanisms as string | undefined }, rest as CommonOpts);
    const outDir = outDirOption(out);
    await executeSweep(scenario, key, points, { placement, outDir, natsUrl, roundTimeoutMs: roundTimeout as number, repeat: repeat as number, json: Boolean(json), floor: floor === false ? false : undefined, command: commandLine() });
  });

  program
    .command('compare')
    .argument('<run-dir...>', 'finished run folders, e.g. runs/<scenario>-20261202-101500-s1-ab12 runs/<scenario>-…-s2-…')
    .description('put finished runs side by side: a table of their parameters that differ, outcomes, claims and costs, and a figure (compare-<time>.html, .svg, .csv)')
    .option('-o, --out <dir>', 'where the comparison is written', 'runs')
    .action(async (dirs: string[], o: { out: string }) => {
      const { writeComparison } = await import('./compare.ts');
      const outDir = outDirOption(o.out);
      try {
        const r = await writeComparison(dirs, outDir);
        process.stdout.write(`${r.html} (${dirs.length} runs; table ${r.csv}${r.svg ? `, figure ${r.svg}` : ''})\n`);
      } catch (e) {
        throw new UsageError(`compare: ${(e as Error).message}`);
      }
    });

  program
    .command('report')
    .argument('<run-dir...>', 'run folder(s), e.g. runs/<scenario>-20261127-101500-s1-ab12')
    .description('write report.html (figures rendered by Vega-Lite, metrics, claims) for run folders; every run already writes one at its end')
    .action(async (dirs: string[]) => {
      const { writeReport } = await import('./report.ts');
      const { provenanceLines } = await import('./provenance.ts');
      for (const d of dirs) {
        try {
          const r = await writeReport(d);
          process.stdout.write(`${r.path} (${r.figures.length} figures: ${r.figures.join(', ')})${r.status === 'complete' ? '' : ` — run ${r.statusLine}`}\n`);
          // what produced the run (summary.json's provenance; absent in runs made before it was recorded)
          for (const line of provenanceLines(JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')).provenance)) process.stdout.write(`  ${line}\n`);
        } catch (e) {
          throw new UsageError(`report: ${(e as Error).message}`);
        }
      }
    });

  program
    .command('list')
    .description('list the scenarios, their mechanisms and options')
    .option('--json', 'as JSON')
    .action((o: { json?: boolean }) => {
      const list = catalog.all().map((s) => ({ id: s.id, title: s.title, spec: s.spec, paper: s.paper, mechanisms: s.mechanisms, defaultMechanism: s.defaultMechanism, defaultUsers: s.defaultUsers, options: s.options }));
      if (o.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      for (const s of list) {
        process.stdout.write(`${s.id} — ${s.title}${s.spec?.startsWith('docs/') ? ` (model: ${s.spec})` : ''}\n`);
        if (s.paper) process.stdout.write(`  paper: ${cite(s.paper)}\n`);
        for (const m of s.mechanisms) process.stdout.write(`  --mechanism ${m.id}${m.id === s.defaultMechanism ? ' (default)' : ''}: ${m.summary}\n`);
        for (const op of s.options) process.stdout.write(`  --${op.name}${op.arg ? ` ${op.arg}` : ''}: ${op.description}${op.default !== undefined ? ` (default ${op.default})` : ''}\n`);
      }
    });

  program
    .command('new')
    .argument('<name>', 'the scenario id: a–z, 0–9, ".", "_", "-" (it names the folder and its run folders)')
    .option('--dir <D>', 'the folder to create it in', '.')
    .description('scaffold a working scenario folder <D>/<name> (package.json, index.ts, its own test; see docs/guide.md); never overwrites a folder')
    .action(async (name: string, o: { dir: string }) => {
      const { scaffold, nextSteps, ScaffoldError } = await import('./scaffold.ts');
      try {
        process.stdout.write(nextSteps(scaffold(name, o.dir, catalog.ids())));
      } catch (e) {
        throw e instanceof ScaffoldError ? new UsageError(e.message) : e;
      }
    });

  program
    .command('agent')
    .description('start agent(s) of a run and join the waiting orchestrator (see `mecsim agent --help`)')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const code = await agentMain(args);
      process.exitCode = code;
    });

  // `mecsim cluster init <scenario>`: a secured NATS cluster's configuration for one run (orchestrator/cluster.ts)
  const cluster = program.command('cluster').description('configuration of a secured NATS cluster (see `mecsim cluster init --help`)');
  const init = addCommonScenarioFlags(cluster.command('init').argument('<scenario>', 'scenario id: its roles and leader decide the per-role users').description('write a 3-node NATS cluster configuration: authenticated routes, JetStream, one user per role of the run with the per-role subject permissions of the private server, a credentials file per user'));
  addScenarioOptions(init);
  init
    .option('--run-id <id>', 'a run the cluster serves (permissions are per run: subjects mecsim.<token of the id>.…); repeat it for several runs of the same scenario (default: compose)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--out <dir>', 'where to write the node configs, accounts.conf and creds/', 'cluster')
    .option('--hosts <list>', 'the nodes: host names (routes go to <host>:6222) or host:clientPort:clusterPort:httpPort', 'nats-1,nats-2,nats-3')
    .option('--store-dir <dir>', 'JetStream store directory of each node', '/data/jetstream')
    .option('--keep-passwords', 'reuse the passwords of an earlier init in --out (the servers\' files stay the same when the run does)')
    .option('--tls-ca <file>', 'TLS for clients and routes: CA certificate (path as the servers see it)')
    .option('--tls-cert <file>', 'TLS: the servers\' certificate')
    .option('--tls-key <file>', 'TLS: the servers\' key')
    .exitOverride()
    .action((scenarioId: string, o: Record<string, unknown>) => {
      const { runId, out, hosts, storeDir, keepPasswords, tlsCa, tlsCert, tlsKey, ...scenarioOpts } = o;
      const tls = [tlsCa, tlsCert, tlsKey];
      if (tls.some((x) => x !== undefined) && !tls.every((x) => x !== undefined)) throw new UsageError('--tls-ca, --tls-cert and --tls-key go together');
      const ids = ((runId as string[] | undefined) ?? ['compose']).map((id) => {
        try {
          return assertToken('--run-id', id);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      });
      const { scenario, cfg } = resolveInput(scenarioId, scenarioOpts as CommonOpts);
      let nodes;
      try {
        nodes = parseHosts(String(hosts), String(storeDir));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const parts = partsFor(scenario, cfg);
      const runs = ids.map((id) => ({ runId: id, leaderId: parts.leaderId(cfg), agents: parts.agents(cfg) }));
      let c;
      try {
        c = clusterConfig({ runs, nodes, tls: tlsCa ? { ca: String(tlsCa), cert: String(tlsCert), key: String(tlsKey) } : undefined }, keepPasswords ? existingPasswords(String(out)) : {});
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      try {
        writeClusterConfig(String(out), c);
      } catch (e) {
        throw new UsageError(`--out ${out}: ${(e as Error).message}`);
      }
      process.stdout.write(`cluster for run${ids.length > 1 ? 's' : ''} ${ids.join(', ')} (${scenario.id}) in ${out}/: ${nodes.map((n) => `${n.name}.conf`).join(', ')}, accounts.conf, creds/\n`);
      for (const u of c.users) process.stdout.write(`  creds/${u.user}.env  ${u.about}\n`);
      for (const n of c.notes) process.stdout.write(`  note: ${n}\n`);
    });

  program
    .command('bench')
    .description('benchmarks: framework vs raw NATS scatter-gather vs in-process reference (npm run bench -- <scenario>)')
    .argument('[scenario...]', 'scenarios to benchmark (default: all)')
    .option('--json', 'print the results as JSON')
    .option('--sizes <list>', 'comma-separated user counts (default per scenario; the --scale row with one process per agent stays at 100)')
    .option('--scale', 'the scale benchmark: every scenario at N = 100, 1000, 10000 where it allows it, one mechanism each')
    .option('--slots <n>', 'slots per framework run (default 1, or the scenario’s bench plan); with 2 or more the first is the warm-up: round ms, cpu/rd and their ratios (and the target lines) are over the later slots, the first is reported apart (cold ms, cold ratio; all cpu/rd over every round)', slotsArg)
    .option('--repeat <r>', 'measure each row r times, each framework run followed by its floors (interleaved); figures are medians over the repeats, and ratio min/max shows their spread (default 1)', intArg('--repeat', 1, 1000))
    .option('--nats <url>', 'use this NATS server')
    .option('--link-cost', 'what the link model costs by itself: runs without it and with it at zero latency, interleaved (default: the first scenario of mecsim list, N 100, 3 slots, 5 repeats); ms per round and their ratio')
    .action(async (ids: string[], o: Record<string, unknown>) => {
      natsUrlOption(o.nats);
      const { benchMain } = await import('./bench.ts');
      const interrupt = onInterrupt();
      try {
        if (o.linkCost) {
          const { linkCostMain } = await import('./linkBench.ts');
          process.exitCode = await linkCostMain(ids, o, interrupt.signal);
          return;
        }
        process.exitCode = await benchMain(ids, o, interrupt.signal);
      } finally {
        interrupt.dispose();
      }
    });
  return program;
}

/**
 * The points of a sweep, every one resolved and checked before any run starts (a bad key or value is
 * a usage error naming it, and nothing is created): mechanisms × varied values × users × seeds.
 */
async function sweepPoints(scenarioId: string, s: { vary?: string; users?: string; seeds?: string; mechanisms?: string; flag?: string }, rest: CommonOpts): Promise<{ scenario: Scenario; key?: string; points: import('./sweep.ts').SweepPoint[] }> {
  const { parseVary, parseSeeds, setDotted } = await import('./sweep.ts');
  const scenario = catalog.get(scenarioId);
  if (!scenario) throw new UsageError(`unknown scenario "${scenarioId}"; known: ${catalog.ids().join(', ')} (see mecsim list)`);
  const flag = s.flag ?? '--vary';
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/^--vary/, flag));
    }
  };
  const vary = s.vary !== undefined ? wrap(() => parseVary(s.vary!, flag)) : undefined;
  let sizes: (number | undefined)[] = [rest.users as number | undefined];
  if (s.users !== undefined) {
    try {
      sizes = countList('--users', String(s.users));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (vary?.key === 'users') {
    if (s.users !== undefined) throw new UsageError('--vary users=… and --users … say the same thing: give one');
    if (!vary.values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_AGENTS)) throw new UsageError(`--vary users= needs user counts from 1 to ${MAX_AGENTS}`);
    sizes = vary.values as number[];
  }
  const seeds = s.seeds !== undefined ? wrap(() => parseSeeds(s.seeds!)) : [rest.seed ?? 1];
  const mechs = s.mechanisms !== undefined ? String(s.mechanisms).split(',').map((m) => m.trim()) : [rest.mechanism];
  for (const m of mechs) if (m !== undefined && !scenario.mechanisms.some((x) => x.id === m)) throw new UsageError(`--mechanisms: "${m}" is not a mechanism of ${scenario.id}; choose from ${scenario.mechanisms.map((x) => x.id).join(', ')}`);
  // users count as the varied key when more than one count is given (one count is just the size of every run)
  const key = vary && vary.key !== 'users' ? vary.key : sizes.length > 1 || vary ? 'users' : undefined;
  const values = vary && vary.key !== 'users' ? vary.values : [undefined];
  const points: import('./sweep.ts').SweepPoint[] = [];
  for (const mechanism of mechs)
    for (const value of values)
      for (const users of sizes)
        for (const seed of seeds) {
          const { cfg: base } = resolveInput(scenario.id, { ...rest, mechanism, seed, users } as CommonOpts);
          const mech = String(base.mechanism ?? mechanism ?? scenario.defaultMechanism);
          let cfg = base;
          if (value !== undefined) {
            try {
              cfg = setDotted(base, vary!.key, value);
            } catch (e) {
              // a scenario's own sweep names (e.g. a per-user `r` for every user) before the generic error
              const generic = (e as Error).message.replace(/^--vary/, flag);
              if (!scenario.sweep || typeof value !== 'number') throw new UsageError(generic);
              try {
                cfg = scenario.sweep(base as never, vary!.key, value);
              } catch {
                throw new UsageError(generic);
              }
            }
            // the changed config is checked and resolved again like a --config file: a value of the wrong type or out of range is refused
            try {
              checkConfig(scenario.configSchema(mech), cfg);
              const resolved = scenario.resolve({ mechanism: mech, seed, slots: Number(cfg.slots ?? base.slots ?? 1), config: cfg, options: {} });
              // a scenario resolves its own parameters; the link model's section is every scenario's, kept beside them
              cfg = withLink(scenario, resolved, cfg.link as LinkSection | undefined);
            } catch (e) {
              throw new UsageError(`${flag} ${vary!.key}=${String(value)}: ${(e as Error).message}`);
            }
          }
          points.push({ mechanism: mech, seed, users, value: value ?? (key === 'users' ? users : undefined), cfg });
        }
  return { scenario, key, points };
}

/** This process's command line as a person would type it (`mecsim sweep …`), for the files a sweep writes. */
function commandLine(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ['mecsim', ...process.argv.slice(2).map(quote)].join(' ');
}

async function executeSweep(scenario: Scenario, key: string | undefined, points: import('./sweep.ts').SweepPoint[], o: { placement: Placement; outDir: string; natsUrl?: string; natsAuth?: NatsAuth; roundTimeoutMs?: number; repeat?: number; json: boolean; floor?: boolean; command?: string }): Promise<void> {
  const { runSweep } = await import('./sweep.ts');
  const interrupt = onInterrupt();
  try {
    const res = await runSweep({
      scenario,
      key,
      points,
      repeat: o.repeat,
      placement: o.placement,
      outDir: o.outDir,
      natsUrl: o.natsUrl,
      natsAuth: o.natsAuth,
      roundTimeoutMs: o.roundTimeoutMs,
      signal: interrupt.signal,
      floor: o.floor,
      command: o.command,
      // long runs say what they are doing (stderr, so --json's stdout stays JSON)
      onProgress: (line) => process.stderr.write(`    ${line}\n`),
      onRun: (i, total, p, row, verdict) => {
        if (o.json) return;
        const what = `${p.mechanism}${key && key !== 'users' ? ` ${key}=${String(p.value)}` : ''}${p.users !== undefined ? ` N=${p.users}` : ''} seed ${p.seed}`;
        if (!row) process.stderr.write(`sweep ${scenario.id}: run ${i + 1}/${total} — ${what} …\n`);
        else process.stderr.write(`  ${what}: ${row.ok ? verdict : verdict?.replace(/^differs/, 'DIFFERS')} · rounds ${fmt(row.rounds)} · messages ${fmt(row.messages)} · wall ${(Number(row.wallMs) / 1000).toFixed(1)} s${typeof row.roundMs === 'number' ? ` · round ${Number(row.roundMs).toPrecision(3)} ms` : ''}${typeof row.floorRoundMs === 'number' ? ` (raw floor ${Number(row.floorRoundMs).toPrecision(3)} ms)` : ''}\n`);
      },
    });
    if (o.json) process.stdout.write(JSON.stringify({ dir: res.dir, csv: res.csv, key, rows: res.rows, runs: res.runs, summary: res.summary, files: res.files }, null, 2) + '\n');
    else process.stdout.write(`sweep: ${res.dir}/\n  ${res.files.map((f) => f.slice(res.dir.length + 1)).join(', ')} (one run folder per run)\n`);
    if (res.runs.some((r) => r.ok !== true)) process.exitCode = 1;
  } finally {
    interrupt.dispose();
  }
}

/** `mecsim params <scenario> --schema [-m mechanism]` */
async function printConfigSchema(scenarioId: string, mechanism: string | undefined): Promise<void> {
  const scenario = catalog.get(scenarioId);
  if (!scenario) throw new UsageError(`unknown scenario "${scenarioId}"; known: ${catalog.ids().join(', ')} (see mecsim list)`);
  if (mechanism !== undefined && !scenario.mechanisms.some((m) => m.id === mechanism)) throw new UsageError(`--mechanism: "${mechanism}" is not a mechanism of ${scenario.id}; choose one of ${scenario.mechanisms.map((m) => m.id).join(', ')}`);
  const { configJsonSchema } = await import('./schemas.ts');
  process.stdout.write(JSON.stringify(configJsonSchema(scenario, mechanism), null, 2) + '\n');
}

/** Entry: returns the process exit code. */
/** Commands whose first argument names a scenario, which may be one to load from outside. */
const SCENARIO_COMMANDS = new Set(['run', 'params', 'sweep', 'bench']);

/**
 * A scenario from outside (a path or an npm package) is loaded before the command line is parsed:
 * its own options (`--weights`, …) are then options of `run` and `params` like a built-in one's.
 */
async function preloadScenario(argv: string[]): Promise<void> {
  const [command, ref] = argv;
  if (!SCENARIO_COMMANDS.has(command) || ref === undefined || ref.startsWith('-') || catalog.get(ref)) return;
  try {
    await catalog.load(ref);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * A reader that stops reading (`mecsim list | head`) closes the pipe: what is written after is
 * dropped rather than thrown as an unhandled EPIPE, and a run goes on to its end and its files.
 */
function ignoreClosedStdout(): void {
  if (!process.stdout.listeners('error').includes(onStdoutError)) process.stdout.on('error', onStdoutError);
}

function onStdoutError(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
}

export async function main(argv: string[]): Promise<number> {
  ignoreClosedStdout();
  try {
    await preloadScenario(argv);
  } catch (e) {
    process.stderr.write(`mecsim: ${(e as Error).message}\n`);
    return 2;
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`mecsim: ${e.message}\n`);
      return 2;
    }
    if (e instanceof NatsUnavailable) {
      process.stderr.write(`mecsim: ${e.message}\n`);
      return 3;
    }
    if (e instanceof RunError) {
      process.stderr.write(`mecsim: run ${e.exitCode === 130 ? 'interrupted' : 'failed'}: ${e.message}\n`);
      const dir = (e as RunError & { runDir?: string }).runDir;
      const written = (e as RunError & { summaryWritten?: boolean }).summaryWritten;
      if (dir && written !== false) process.stderr.write(`mecsim: partial results (summary marked ${e.exitCode === 130 ? 'interrupted' : 'failed'}) in ${dir}/\n`);
      else if (dir) process.stderr.write(`mecsim: the summary in ${dir}/ could not be updated (see the message above); \`mecsim report ${dir}\` shows such a run as abandoned once this process is gone\n`);
      return e.exitCode;
    }
    process.stderr.write(`mecsim: unexpected error: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}
