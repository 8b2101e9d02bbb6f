/**
 * One distributed run: acquire a NATS server, spawn the agent processes, wait for every agent to
 * join, drive the slot clock (one `slot` request to the leader per slot; the leader runs the
 * mechanism's message rounds and answers with the outcome, trajectory and metrics), compare each
 * slot with the centralized reference, shut the agents down, and write `runs/<run-id>/`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { getPriority, hostname, setPriority, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import pino, { type Logger } from 'pino';
import { decode, encodeEnvelope, type Body } from '../bus/codec.ts';
import { connectBus, type BusOptions } from '../bus/connection.ts';
import { Counters, sumSnapshots, type CountersSnapshot } from '../bus/counters.ts';
import { subjects } from '../bus/subjects.ts';
import { tieringArgs } from '../agents/tiering.ts';
import type { SlotDone, SlotMetrics, Welcome } from '../agents/host.ts';
import { sortRoster } from '../scenarios/inprocess.ts';
import type { AgentSpec, JsonObject, ReferenceSlot, Scenario } from '../scenarios/types.ts';
import { acquireNats, NatsUnavailable, type NatsHandle, type Varz } from './natsServer.ts';
import { agentEntry } from './agentEntry.ts';
import { runAuth } from './permissions.ts';
import { latencyStats, scalars, toCsv, writeAtomic, writeJsonAtomic } from './results.ts';

export type NatsAuth = Pick<BusOptions, 'user' | 'pass' | 'token' | 'creds' | 'tlsCa' | 'tlsCert' | 'tlsKey'>;

/** The environment variables `mecsim agent` reads its credentials from (see agents/main.ts). */
export function natsAuthEnv(a: NatsAuth | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (k: string, v: string | undefined) => v !== undefined && (env[k] = v);
  set('MECSIM_NATS_USER', a?.user);
  set('MECSIM_NATS_PASS', a?.pass);
  set('MECSIM_NATS_TOKEN', a?.token);
  set('MECSIM_NATS_CREDS', a?.creds);
  set('MECSIM_NATS_TLS_CA', a?.tlsCa);
  set('MECSIM_NATS_TLS_CERT', a?.tlsCert);
  set('MECSIM_NATS_TLS_KEY', a?.tlsKey);
  return env;
}

export type Placement = { kind: 'process' } | { kind: 'packed'; k: number } | { kind: 'auto' };

export function parsePlacement(s: string): Placement {
  if (s === 'process') return { kind: 'process' };
  if (s === 'auto') return { kind: 'auto' };
  const m = /^packed:(\d+)$/.exec(s);
  if (m && Number(m[1]) >= 1) return { kind: 'packed', k: Number(m[1]) };
  throw new Error(`--placement must be process, packed:K (K ≥ 1) or auto, not "${s}"`);
}

export function placementLabel(p: Placement): string {
  return p.kind === 'packed' ? `packed:${p.k}` : p.kind;
}

export interface RunOptions {
  scenario: Scenario;
  cfg: JsonObject;
  placement: Placement;
  outDir: string;
  runId?: string;
  /** NATS URL(s); undefined: start a private server */
  natsUrl?: string;
  /**
   * How to authenticate to an external server (`--nats`): user/password, token, a .creds file, TLS
   * files. The orchestrator connects with them and hands them to the agent processes it spawns
   * (through their environment, never their command line).
   */
  natsAuth?: NatsAuth;
  roundTimeoutMs?: number;
  joinTimeoutMs?: number;
  slotTimeoutMs?: number;
  verbose?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** called with the generated per-worker credentials when the run starts its own server (tests) */
  onNatsReady?: (info: { url: string; hosts: Record<string, { user: string; pass: string }> }) => void;
  /** write report.html at the end (default true) */
  report?: boolean;
  /**
   * `spawn` (default): the orchestrator starts every agent process itself, as `placement` says.
   * `external`: it starts none — not even the leader — and waits for agents started elsewhere with
   * `mecsim agent --run <id> --role <r> --join [--count K]` (containers, other machines); each gets
   * the next free index of its role. With no child process to watch, a dead external follower shows
   * up as missing replies at the round deadlines; the summary's placement is `external`.
   */
  agents?: 'spawn' | 'external';
  /**
   * Supervision of spawned agent processes: a process that dies during the run is started again
   * with the same agents, up to this many times per process (default 3; 0: a death fails the run).
   * A restarted follower rejoins and the leader re-sends it the round in flight; a restarted leader
   * resumes from the state kept in JetStream KV after the last completed slot and re-runs the slot
   * that was in progress.
   */
  maxRestarts?: number;
  /** called whenever an agent process is started (tests kill them) */
  onSpawn?: (w: { id: string; pid: number; agents: string[]; restart: number }) => void;
}

/** the orchestrator asks the leader again for a slot's answer this often (a lost answer is answered again) */
const SLOT_REASK_MS = 5000;
/** external agent hosts say `alive` this often; one silent for HEARTBEAT_MISSES beats is taken for dead */
const HEARTBEAT_MS = Number(process.env.MECSIM_HEARTBEAT_MS ?? 2000);
const HEARTBEAT_MISSES = 5;

/** What external agents a run waits for: one line per role, and the commands that start them. */
export interface ExternalAgents {
  runId: string;
  natsUrl: string;
  joinTimeoutMs: number;
  roles: { role: string; count: number; leader: boolean }[];
  commands: string[];
}

export type Progress = { phase: 'nats' } | ({ phase: 'external' } & ExternalAgents) | { phase: 'join'; joined: number; total: number } | { phase: 'slot'; slot: number; slots: number; line?: string } | { phase: 'shutdown' };

export interface SlotRecord extends ReferenceSlot {
  slot: number;
  equilibrium: JsonObject;
  converged: boolean;
  notes?: string[];
  extra?: JsonObject;
  metrics: SlotMetrics & { roundLatency: ReturnType<typeof latencyStats> };
}

export class RunError extends Error {
  constructor(
    message: string,
    public readonly exitCode = 1,
  ) {
    super(message);
  }
}

interface Worker {
  id: string;
  agents: AgentSpec[];
  child: ChildProcess;
  spawnedAt: number;
  exited: boolean;
}

/** extra node flags for agent processes, e.g. MECSIM_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" */
const AGENT_NODE_ARGS = (process.env.MECSIM_AGENT_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

export function newRunId(scenario: string, seed: number): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  const rand = Math.random().toString(36).slice(2, 6);
  return `${scenario}-${stamp}-s${seed}-${rand}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Groups followers into worker processes according to the placement; the leader is always alone. */
export function planWorkers(agents: AgentSpec[], leaderId: string, placement: Placement): AgentSpec[][] {
  const leader = agents.filter((a) => a.id === leaderId);
  const followers = sortRoster(agents.filter((a) => a.id !== leaderId));
  let k: number;
  if (placement.kind === 'process') k = 1;
  else if (placement.kind === 'packed') k = placement.k;
  else k = followers.length <= 32 ? 1 : Math.ceil(followers.length / 4); // auto: ≤ 32 → one per process, else 4 workers
  const groups: AgentSpec[][] = [leader];
  let cur: AgentSpec[] = [];
  for (const a of followers) {
    if (cur.length && (cur.length >= k || cur[0].role !== a.role)) {
      groups.push(cur);
      cur = [];
    }
    cur.push(a);
  }
  if (cur.length) groups.push(cur);
  return groups;
}

/** The roles a run needs (the leader's first) and the `mecsim agent … --join` command for each. */
export function externalAgentCommands(runId: string, natsUrl: string, agents: AgentSpec[], leaderId: string): Pick<ExternalAgents, 'roles' | 'commands'> {
  const leader = agents.find((a) => a.id === leaderId);
  const roles: ExternalAgents['roles'] = [];
  for (const a of [...(leader ? [leader] : []), ...sortRoster(agents.filter((x) => x.id !== leaderId))]) {
    const r = roles.find((x) => x.role === a.role);
    if (r) r.count++;
    else roles.push({ role: a.role, count: 1, leader: a.id === leaderId });
  }
  const commands = roles.map((r) => `mecsim agent --run ${runId} --role ${r.role} --join${r.count > 1 ? ` --count ${r.count}` : ''} --nats ${natsUrl}`);
  return { roles, commands };
}

/** what one agent process costs at least (a Node process with the NATS client and mecsim loaded, RSS) */
export const PROCESS_MIB = 40;

/**
 * Refuses a run whose agent processes could not all fit in this machine's memory (say `--placement
 * process` with 10,000 users), before anything starts: the error says what to use instead.
 */
export function checkProcessBudget(processes: number, placement: Placement, totalMiB = totalmem() / 2 ** 20): void {
  const need = processes * PROCESS_MIB;
  if (need <= 0.8 * totalMiB) return;
  throw new RunError(`--placement ${placementLabel(placement)} would start ${processes} agent processes, at least ${(need / 1024).toFixed(1)} GiB (~${PROCESS_MIB} MiB each), more than this machine's ${(totalMiB / 1024).toFixed(1)} GiB allow; pack agents into fewer processes with --placement packed:K or auto`, 2);
}

/**
 * The scheduling niceness of the follower processes this orchestrator spawns (MECSIM_WORKER_NICE,
 * default 5; 0 leaves them as the leader). Why: a round is a scatter-gather, and its serial part is
 * the leader reading every reply. When the followers' processes outnumber the cores (10,000 users in
 * 4 workers on this 2-vCPU machine), the leader waits for a core while it has replies to read, and
 * the round ends when it has caught up. At a lower priority the workers yield the core to it. In
 * `bench stackelberg --sizes 1000,10000 --repeat 3` the round at N = 10,000 fell from 88–94 to 59 ms
 * (framework CPU per round 125–131 → 83 ms). The bench's raw floor gives its workers the same
 * niceness (its driver, like the leader, runs at the orchestrator's), so the comparison stays like
 * for like. A positive niceness needs no privilege; a process the orchestrator cannot renice runs on
 * at its default (logged).
 */
export function workerNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MECSIM_WORKER_NICE;
  if (raw === undefined || raw === '') return 5;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new RunError(`MECSIM_WORKER_NICE must be an integer from 0 to 19 (the follower processes' niceness; default 5), not "${raw}"`, 2);
  return n;
}

/** Lower a spawned process's scheduling priority to `nice` (never raise it); the error's message if it could not be done. */
export function renice(pid: number | undefined, nice: number): string | undefined {
  if (!nice || pid === undefined) return undefined;
  try {
    const now = getPriority(pid);
    if (now < nice) setPriority(pid, nice);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Contiguous index ranges of one role, as `--index` accepts them (`0-249` or `1,3,5`). */
function indexSpec(agents: AgentSpec[]): string {
  const idx = agents.map((a) => a.index);
  const contiguous = idx.every((v, i) => i === 0 || v === idx[i - 1] + 1);
  return contiguous && idx.length > 1 ? `${idx[0]}-${idx[idx.length - 1]}` : idx.join(',');
}

export async function runScenario(opts: RunOptions): Promise<Record<string, unknown>> {
  const { scenario, cfg } = opts;
  const seed = Number(cfg.seed ?? 0);
  const slots = Number(cfg.slots ?? 1);
  const agents = scenario.agents(cfg as never);
  const leaderId = scenario.leaderId(cfg as never);
  const external = opts.agents === 'external';
  // the processes to spawn, planned before anything starts: a plan that cannot fit in memory is refused here
  const groups = external ? [] : planWorkers(agents, leaderId, opts.placement);
  if (!external) checkProcessBudget(groups.length, opts.placement);
  const nice = workerNice();
  const runId = opts.runId ?? newRunId(scenario.id, seed);
  const dir = join(opts.outDir, runId);
  mkdirSync(dir, { recursive: true });
  const logStreams: pino.StreamEntry[] = [{ level: 'info', stream: pino.destination({ dest: join(dir, 'run.log'), sync: true }) }];
  if (opts.verbose) logStreams.push({ level: 'info', stream: process.stderr });
  const log: Logger = pino({ base: { run: runId } }, pino.multistream(logStreams));
  const agentLog: WriteStream = createWriteStream(join(dir, 'agents.log'));
  const subj = subjects(runId);
  const roster = sortRoster(agents.filter((a) => a.id !== leaderId));
  const byKey = new Map(agents.map((a) => [`${a.role}:${a.index}`, a]));
  const byId = new Map(agents.map((a) => [a.id, a]));
  const startedAt = new Date().toISOString();
  const roundTimeoutMs = opts.roundTimeoutMs ?? 30_000;
  const mechanism = String(cfg.mechanism ?? scenario.defaultMechanism);
  const maxRestarts = opts.maxRestarts ?? 3;
  const restarts: { worker: string; agents: number; leader: boolean; slot: number; reason: string; rejoinMs?: number; ids?: string[]; at?: number }[] = [];

  const summary: Record<string, unknown> = {
    status: 'running',
    runId,
    // every subject of this run starts with this (the run id's 8-character token, see bus/subjects.ts)
    subjects: subj.all,
    scenario: scenario.id,
    mechanism,
    seed,
    slotsPlanned: slots,
    agents: { total: agents.length, followers: roster.length, leader: leaderId },
    placement: external ? 'external' : placementLabel(opts.placement),
    // niceness of the spawned follower processes (MECSIM_WORKER_NICE; the leader's is the orchestrator's)
    workerNice: external ? null : nice,
    startedAt,
    host: hostname(),
  };
  writeJsonAtomic(join(dir, 'config.json'), cfg);
  writeJsonAtomic(join(dir, 'summary.json'), summary);

  let nats: NatsHandle | undefined;
  let nc: NatsConnection | undefined;
  let kv: KV | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  const workers: Worker[] = [];
  const counters = new Counters(log);
  const slotRecords: SlotRecord[] = [];
  const trajectory: Record<string, number | string | boolean | null>[] = [];
  let fatal: ((e: Error) => void) | undefined;
  const fatalP = new Promise<never>((_, rej) => (fatal = rej));
  fatalP.catch(() => undefined);
  let finished = false;

  const onAbort = () => fatal?.(new RunError('interrupted', 130));
  opts.signal?.addEventListener('abort', onAbort);
  const race = <T>(p: Promise<T>) => Promise.race([p, fatalP]);

  try {
    opts.onProgress?.({ phase: 'nats' });
    // With a private server and spawned agents, every process gets its own user confined to its subjects.
    const planned = groups.map((g, i) => ({ id: g[0].id === leaderId ? 'leader' : `w${i}`, agents: g }));
    const auth = opts.natsUrl || external ? undefined : runAuth(runId, leaderId, planned);
    nats = await acquireNats(opts.natsUrl, { extraConfig: auth?.config, logFile: opts.natsUrl ? undefined : join(dir, 'nats-server.log'), jetstream: true });
    summary.nats = { url: nats.url, owned: nats.owned, permissions: auth ? 'per-role users' : 'none (external server: its own configuration applies)' };
    log.info({ nats: nats.url, owned: nats.owned, permissions: Boolean(auth) }, 'nats server');
    if (auth) opts.onNatsReady?.({ url: nats.url, hosts: auth.hosts });
    nc = await connectBus({ servers: nats.url, name: `mecsim-orchestrator-${runId}`, inboxPrefix: subj.inbox('orch'), ...(auth ? { user: auth.orchestrator.user, pass: auth.orchestrator.pass } : opts.natsUrl ? opts.natsAuth : {}) }, log);
    void nc.closed().then((err) => {
      if (!finished) fatal?.(new RunError(`lost the NATS connection${err ? `: ${err.message}` : ''}`));
    });
    // The leader's state after each completed slot is kept in a JetStream KV bucket, so a leader that
    // dies can be restarted from it (replicated on a cluster). Without JetStream, a dead leader that
    // had state ends the run with an error saying so.
    const bucket = `mecsim-${runId}`;
    let kvError = '';
    for (const replicas of opts.natsUrl ? [3, 1] : [1]) {
      try {
        kv = await new Kvm(nc).create(bucket, { history: 1, replicas, timeout: 5000 } as never);
        summary.stateStore = { kind: 'jetstream-kv', bucket, replicas };
        break;
      } catch (e) {
        kvError = (e as Error).message;
      }
    }
    if (!kv) {
      summary.stateStore = { kind: 'none', reason: kvError };
      log.warn({ err: kvError }, 'no JetStream KV on this server: a leader that dies after a slot with state cannot be resumed');
    }
    // the server's counters from here on (after the bucket's creation, which is not the run's traffic).
    // A round trip first: the server can answer the bucket's create request before it has added that
    // request to its message counters, and /varz read in between would count it as the run's (seen once
    // in CI: the server's count one message and ~280 bytes above ours).
    await nc.flush();
    const varzBefore = await nats.varz();
    /** the last slot whose leader state is in the KV bucket (-1: none yet); whether a slot had state not kept */
    let keptSlot = -1;
    let stateLost = false;
    let currentSlot = -1;
    let leaderResume: Welcome['resume'];
    const loadLeaderState = async (): Promise<Welcome['resume']> => {
      if (keptSlot < 0 && !stateLost) return undefined; // no completed slot (or none with state): a fresh leader is the same leader
      if (!kv) throw new RunError(`the leader ${leaderId} died after slot ${currentSlot - 1} and its state was not kept (no JetStream KV on ${nats!.url}: ${kvError}); cannot resume. Use a server with JetStream enabled (nats-server -js) to survive a leader crash`);
      if (stateLost) throw new RunError(`the leader ${leaderId} died and its state after the last completed slot could not be saved to JetStream KV; cannot resume`);
      // the bucket's stream may be electing a new leader (a node died too): keep asking for up to 30 s
      let e;
      try {
        e = await retryFor(30_000, log, 'reading the leader state from JetStream KV', () => kv!.get('leader'));
      } catch (err) {
        throw new RunError(`the leader ${leaderId} died and its saved state cannot be read from JetStream KV bucket ${bucket} (tried for 30 s): ${(err as Error).message}`);
      }
      if (!e || e.operation !== 'PUT') throw new RunError(`the leader ${leaderId} died and the cluster lost its saved state (KV bucket ${bucket} has no 'leader' entry); cannot resume`);
      const v = e.json<{ slot: number; snapshot: JsonObject | null }>();
      if (v.slot !== keptSlot) throw new RunError(`the leader ${leaderId} died and JetStream KV holds its state after slot ${v.slot}, not after the last completed slot ${keptSlot}; cannot resume`);
      return v.snapshot ? { slot: v.slot, snapshot: v.snapshot } : undefined;
    };

    // ---- join barrier ----
    const joined = new Map<string, number>(); // id → ms from spawn to ready
    const welcomed = new Set<string>();
    let allJoined: () => void = () => undefined;
    const allJoinedP = new Promise<void>((r) => (allJoined = r));
    const workerOf = new Map<string, Worker>();
    // external agents: when each one's join request came (no spawn time to measure from), and the
    // distinct agent processes (hosts) that joined, each of which answers the shutdown with a `bye`
    const joinRequestAt = new Map<string, number>();
    const externalHosts = new Set<string>();
    // external hosts: which agents each hosts, when it last said `alive`, and the ones taken for dead
    const hostKeyOf = new Map<string, string>();
    const hostAgents = new Map<string, string[]>();
    const lastSeen = new Map<string, number>();
    const deadHosts = new Set<string>();
    nc.subscribe(subj.join, {
      callback: (err, msg) => {
        if (err) return;
        counters.received('join', msg.data.byteLength);
        const d = decode(msg.data, runId, 1 << 16);
        if (!d.ok) return counters.drop(d.reason, msg.subject, d.from, d.detail);
        const { kind, body } = d.env;
        if (kind === 'join') return onJoin(msg, body);
        if (kind === 'alive') {
          const key = hostKey(body);
          if (!hostAgents.has(key)) return counters.drop('unexpected-sender', msg.subject, d.env.from, 'alive from a host that hosts no agent of this run');
          if (deadHosts.has(key)) {
            // taken for dead too early (a stalled process, a paused container): if no spare has taken
            // its agents yet, it gets them back; otherwise its word no longer counts
            const ids = (hostAgents.get(key) ?? []).filter((id) => rejoining.has(id) && !welcomed.has(id));
            const r = restarts.find((x) => x.worker === key && x.rejoinMs === undefined);
            if (!r || ids.length !== r.ids!.length) return counters.drop('stale', msg.subject, d.env.from, `alive from ${key}, whose agents a spare has taken over`);
            deadHosts.delete(key);
            externalHosts.add(key);
            for (const id of ids) {
              rejoining.delete(id);
              welcomed.add(id);
              joined.set(id, 0);
            }
            restarts.splice(restarts.indexOf(r), 1);
            log.warn({ host: key }, `external agent host ${key} is alive after all: it keeps its agents`);
          }
          lastSeen.set(key, Date.now());
          return;
        }
        if (kind === 'ready') {
          const id = text(body.id);
          if (!welcomed.has(id) || joined.has(id)) return counters.drop('unexpected-sender', msg.subject, id, 'ready without join');
          const w = workerOf.get(id);
          const since = w ? w.spawnedAt : joinRequestAt.get(id);
          joined.set(id, since !== undefined ? performance.now() - since : 0);
          const hk = external ? hostKeyOf.get(id) : undefined;
          if (hk) lastSeen.set(hk, Date.now());
          if (rejoining.delete(id)) return external ? onRejoined([byId.get(id)!]) : w && !w.agents.some((a) => rejoining.has(a.id)) ? onRejoined(w.agents, w) : undefined;
          opts.onProgress?.({ phase: 'join', joined: joined.size, total: agents.length });
          if (joined.size === agents.length) allJoined();
          return;
        }
        counters.drop('unknown-kind', msg.subject, d.env.from, kind);
      },
    });
    const reply = (msg: Msg, kind: string, body: Body) => {
      if (!msg.reply) return;
      const data = encodeEnvelope(runId, 0, 0, 'orchestrator', kind, body);
      nc!.publish(msg.reply, data);
      counters.sent('inbox', kind, data.byteLength);
    };
    const byNonce = new Map<string, string>(); // join nonce → agent id: a retried join gets the same welcome
    const welcomeOf = (agent: AgentSpec): Welcome => ({
      id: agent.id,
      role: agent.role,
      index: agent.index,
      scenario: scenario.id,
      init: scenario.agentInit(cfg as never, agent),
      leader: leaderId,
      roster: agent.id === leaderId ? roster : undefined,
      roundTimeoutMs,
      maxBytes: 4 * 1024 * 1024,
      resume: agent.id === leaderId ? leaderResume : undefined,
      rejoin: agent.id !== leaderId && rejoining.has(agent.id) ? true : undefined,
      heartbeatMs: external ? HEARTBEAT_MS : undefined,
      restarted: agent.id === leaderId && rejoining.has(agent.id) ? true : undefined,
    });
    const onJoin = (msg: Msg, body: Body) => {
      const role = text(body.role);
      const nonce = typeof body.nonce === 'string' ? body.nonce : undefined;
      const again = nonce !== undefined ? byNonce.get(nonce) : undefined;
      if (again !== undefined) {
        // the agent's first request was answered too late (or lost): answer the retry the same way
        if (joined.has(again)) return reply(msg, 'reject', { reason: `${again} has already joined` });
        return reply(msg, 'welcome', welcomeOf(byId.get(again)!) as unknown as Body);
      }
      let index = typeof body.index === 'number' ? body.index : NaN;
      if (index === -1) {
        // Dynamic join: the next free agent of that role.
        const free = agents.find((a) => a.role === role && !welcomed.has(a.id));
        if (!free) {
          if (!agents.some((a) => a.role === role)) return reply(msg, 'reject', { reason: `run ${runId} has no ${role} agents` });
          // every agent of the role has joined: the caller waits as a spare, and takes over the agents
          // of a host that dies (external agents) — or gives up at its join timeout
          return reply(msg, 'retry', { reason: `no free ${role} slot in run ${runId} (waiting as a spare)` });
        }
        index = free.index;
      }
      const agent = byKey.get(`${role}:${index}`);
      if (!agent) return reply(msg, 'reject', { reason: `run ${runId} has no agent ${role} ${index}` });
      if (welcomed.has(agent.id)) return reply(msg, 'reject', { reason: `${agent.id} has already joined` });
      welcomed.add(agent.id);
      if (nonce !== undefined) byNonce.set(nonce, agent.id);
      if (external) {
        joinRequestAt.set(agent.id, performance.now());
        const key = hostKey(body);
        externalHosts.add(key);
        hostKeyOf.set(agent.id, key);
        hostAgents.set(key, [...(hostAgents.get(key) ?? []), agent.id]);
        lastSeen.set(key, Date.now());
        log.info({ agent: agent.id, host: body.host, pid: body.pid, worker: body.worker }, 'external agent joined');
      }
      reply(msg, 'welcome', welcomeOf(agent) as unknown as Body);
    };

    const joinTimeoutMs = opts.joinTimeoutMs ?? Math.max(external ? 120_000 : 30_000, agents.length * 20);
    // ---- spawn (or, with external agents, say how to start them) ----
    const entryArgs = planned.length ? await agentEntry() : [];
    summary.workers = planned.length;
    if (external) {
      const ext: ExternalAgents = { runId, natsUrl: nats.url, joinTimeoutMs, ...externalAgentCommands(runId, nats.url, agents, leaderId) };
      summary.external = { roles: ext.roles, commands: ext.commands };
      log.info(ext, 'waiting for external agents');
      opts.onProgress?.({ phase: 'external', ...ext });
    }
    const restartCount = new Map<string, number>();
    const rejoining = new Set<string>();
    /** a dead process's (or silent host's) agents: free to join again, as rejoining agents */
    const freeAgents = (ids: string[]) => {
      for (const id of ids) {
        welcomed.delete(id);
        joined.delete(id);
        rejoining.add(id);
      }
      for (const [n, a] of byNonce) if (rejoining.has(a)) byNonce.delete(n);
    };
    const startWorker = (wid: string, group: AgentSpec[]): Worker => {
      const args = [...tieringArgs(group.length, group.some((a) => a.id === leaderId)), ...AGENT_NODE_ARGS, ...entryArgs, '--run', runId, '--role', group[0].role, '--index', indexSpec(group), '--nats', nats!.url, '--host-id', wid];
      const cred = auth?.hosts[wid];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...natsAuthEnv(cred ?? (opts.natsUrl ? opts.natsAuth : undefined)) } });
      if (!group.some((a) => a.id === leaderId)) {
        const err = renice(child.pid, nice);
        if (err) log.warn({ worker: wid, nice, err }, `could not lower the priority of ${wid}: it runs at the default`);
      }
      const w: Worker = { id: wid, agents: group, child, spawnedAt: performance.now(), exited: false };
      const at = workers.findIndex((x) => x.id === wid);
      if (at >= 0) workers[at] = w;
      else workers.push(w);
      for (const a of group) workerOf.set(a.id, w);
      child.stderr?.on('data', (d: Buffer) => agentLog.write(d));
      child.on('error', (e) => fatal?.(new RunError(`cannot start agent process ${wid}: ${e.message}`)));
      child.on('exit', (code, signal) => {
        w.exited = true;
        if (finished) return;
        const names = group.length <= 3 ? group.map((a) => a.id).join(', ') : `${group[0].id} … ${group[group.length - 1].id} (${group.length} agents)`;
        const how = signal ? `on ${signal}` : `with code ${code}`;
        const n = restartCount.get(wid) ?? 0;
        if (n >= maxRestarts) return fatal?.(new RunError(`agent process ${wid} [${names}] (pid ${child.pid}) exited ${how} during the run${maxRestarts ? ` after ${n} restarts` : ''}; see ${join(dir, 'agents.log')}`));
        restartCount.set(wid, n + 1);
        const isLeader = group.some((a) => a.id === leaderId);
        log.warn({ worker: wid, pid: child.pid, how, slot: currentSlot, restart: n + 1 }, `agent process ${wid} [${names}] exited ${how}; restarting it (${n + 1} of ${maxRestarts})`);
        restarts.push({ worker: wid, agents: group.length, leader: isLeader, slot: currentSlot, reason: `exited ${how}` });
        freeAgents(group.map((a) => a.id));
        void (async () => {
          if (isLeader) leaderResume = await loadLeaderState();
          startWorker(wid, group);
        })().catch((e) => fatal?.(e instanceof RunError ? e : new RunError((e as Error).message)));
      });
      opts.onSpawn?.({ id: wid, pid: child.pid ?? -1, agents: group.map((a) => a.id), restart: restartCount.get(wid) ?? 0 });
      return w;
    };
    /** restarted (or replacement) agents are back: the leader re-asks for the slot; followers get their slot replayed */
    const onRejoined = (group: AgentSpec[], w?: Worker) => {
      const r = [...restarts].reverse().find((x) => (w ? x.worker === w.id : x.ids?.includes(group[0].id)));
      if (r) r.rejoinMs = Math.round(w ? performance.now() - w.spawnedAt : Date.now() - r.at!);
      log.warn({ worker: w?.id, agents: group.length, rejoinMs: r?.rejoinMs }, w ? `agent process ${w.id} rejoined` : `${group[0].id} rejoined (replacement)`);
      if (group.some((a) => a.id === leaderId)) {
        reask?.();
        // followers that rejoined and whose replay the dead leader never confirmed: the new leader replays them
        if (unreplayed.size) askReplay([...unreplayed]);
        return;
      }
      for (const a of group) unreplayed.add(a.id);
      askReplay(group.map((a) => a.id));
    };
    /**
     * Rejoined followers wait, answering nothing, until the leader has replayed their slot. The leader
     * confirms each replay (on `replayedInbox`); one it never confirmed (it died first) is asked of the
     * leader that replaces it, or that follower would stall every round until its deadline.
     */
    const unreplayed = new Set<string>();
    const replayedInbox = `${subj.inbox('orch')}.replayed`;
    const askReplay = (ids: string[]) => {
      if (!nc || nc.isClosed()) return;
      // the slot in progress: a leader restarted in it has not been asked for it yet and needs it to replay
      const slot = Math.max(currentSlot, 0);
      const data = encodeEnvelope(runId, slot, 0, 'orchestrator', 'resend', { ids, slot });
      nc.publish(subj.ctl(leaderId), data, { reply: replayedInbox });
      counters.sent('ctl', 'resend', data.byteLength);
    };
    /**
     * An answer on one of the orchestrator's inboxes, counted and decoded; undefined for the server's
     * "no responders" status (nobody was subscribed: the leader is down, and is asked again when it is
     * back) and for unreadable bytes (dropped and counted; `what` names the inbox in the drop).
     */
    const readAnswer = <B = Body>(m: Msg, maxBytes: number, what: string) => {
      if (noResponders(m)) return undefined;
      counters.received('inbox', m.data.byteLength);
      const d = decode<B>(m.data, runId, maxBytes);
      if (d.ok) return d;
      counters.drop(d.reason, m.subject, d.from, `${what} (${m.data.byteLength} bytes, headers ${m.headers ? 'yes' : 'no'}): ${d.detail}`);
      return undefined;
    };
    nc.subscribe(replayedInbox, {
      callback: (err, m) => {
        const d = err ? undefined : readAnswer(m, 1 << 20, 'replay confirmation');
        if (!d) return;
        if (d.env.from !== leaderId || d.env.kind !== 'replayed') return counters.drop('unexpected-sender', m.subject, d.env.from, `${d.env.kind} on the replay confirmations`);
        const ids = d.env.body.ids;
        if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string') unreplayed.delete(id);
      },
    });
    // An agent that cannot go on (a restarted follower whose state was lost with the leader) says so here.
    const failedInbox = `${subj.inbox('orch')}.failed`;
    nc.subscribe(failedInbox, {
      callback: (err, m) => {
        const d = err || finished ? undefined : readAnswer(m, 1 << 20, 'failure report');
        if (!d) return;
        const message = (d.env.body as { message?: unknown }).message;
        if (d.env.kind !== 'agent-failed' || typeof message !== 'string' || !byId.has(d.env.from)) return counters.drop('unexpected-sender', m.subject, d.env.from, `${d.env.kind} on the failure reports`);
        fatal?.(new RunError(`agent ${d.env.from} cannot go on: ${message.slice(0, 500)}`));
      },
    });
    let reask: (() => void) | undefined;
    for (const { id: wid, agents: group } of planned) startWorker(wid, group);
    // External hosts have no process to watch: one that misses HEARTBEAT_MISSES beats is taken for
    // dead, and its agents become free for a replica that joins (`mecsim agent … --join`).
    if (external) {
      let checking = false;
      heartbeatTimer = setInterval(() => {
        if (finished || checking) return;
        const now = Date.now();
        for (const [key, seen] of lastSeen) {
          if (deadHosts.has(key) || now - seen < HEARTBEAT_MS * HEARTBEAT_MISSES) continue;
          deadHosts.add(key);
          externalHosts.delete(key);
          const ids = (hostAgents.get(key) ?? []).filter((id) => welcomed.has(id));
          if (!ids.length) continue;
          const isLeader = ids.includes(leaderId);
          const reason = `no heartbeat for ${Math.round((now - seen) / 1000)} s`;
          restarts.push({ worker: key, agents: ids.length, leader: isLeader, slot: currentSlot, reason, ids, at: now });
          freeAgents(ids);
          const { commands } = externalAgentCommands(runId, nats!.url, ids.map((id) => byId.get(id)!), leaderId);
          log.warn({ host: key, agents: ids.length, leader: isLeader }, `external agent host ${key} is silent (${reason}): waiting for a replacement; start: ${commands.join(' ; ')}`);
          if (isLeader) {
            checking = true;
            loadLeaderState()
              .then((st) => (leaderResume = st))
              .catch((e) => fatal?.(e instanceof RunError ? e : new RunError((e as Error).message)))
              .finally(() => (checking = false));
          }
        }
      }, Math.min(1000, HEARTBEAT_MS));
    }
    if (!external) log.info({ workers: planned.length, agents: agents.length }, 'spawned agent processes');

    let joinTimer: NodeJS.Timeout | undefined;
    const joinTimeout = new Promise<never>((_, rej) => {
      joinTimer = setTimeout(() => {
        const missing = agents.filter((a) => !joined.has(a.id)).map((a) => a.id);
        rej(new RunError(`${missing.length} of ${agents.length} agents did not join within ${joinTimeoutMs} ms: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`));
      }, joinTimeoutMs);
    });
    try {
      await race(Promise.race([allJoinedP, joinTimeout]));
    } finally {
      clearTimeout(joinTimer);
    }
    // spawned: ms from spawn to ready; external: ms from the agent's join request to ready
    const startToJoined = [...joined.values()];
    if (external) summary.workers = externalHosts.size;
    log.info({ agents: agents.length, hosts: external ? externalHosts.size : workers.length }, 'all agents joined');

    // ---- slot clock ----
    const reference = scenario.createReference(cfg as never);
    // One subscription for the leader's slot answers. The request is re-sent every SLOT_REASK_MS
    // (the leader answers a repeat without running the slot twice) and at once when a restarted
    // leader has rejoined, so neither a lost message nor a leader crash stalls the clock.
    const slotInbox = `${subj.inbox('orch')}.slots`;
    let onAnswer: ((m: Msg) => void) | undefined;
    nc.subscribe(slotInbox, { callback: (err, m) => (err ? undefined : onAnswer?.(m)) });
    const slotTimeoutMs = opts.slotTimeoutMs ?? 600_000;
    type Answer = ReturnType<typeof decode<SlotDone & { message?: string }>>;
    const askSlot = (slot: number) =>
      new Promise<Answer>((resolve, reject) => {
        const data = encodeEnvelope(runId, slot, 0, 'orchestrator', 'slot', { slot });
        const send = () => {
          if (finished || nc!.isClosed()) return done(new RunError('the run ended'));
          nc!.publish(subj.ctl(leaderId), data, { reply: slotInbox });
          counters.sent('ctl', 'slot', data.byteLength);
        };
        const again = setInterval(send, SLOT_REASK_MS);
        const timer = setTimeout(() => done(new RunError(`slot ${slot}: no answer from the leader ${leaderId} within ${slotTimeoutMs} ms`)), slotTimeoutMs);
        const done = (e?: Error, m?: Answer): void => {
          clearInterval(again);
          clearTimeout(timer);
          onAnswer = undefined;
          reask = undefined;
          if (e) reject(e);
          else resolve(m!);
        };
        // decoded here, in the callback: a message's bytes may not outlive it
        onAnswer = (m) => {
          // an unreadable answer is dropped and counted; the next re-ask gets the leader's copy again
          const d = readAnswer<SlotDone & { message?: string }>(m, 256 * 1024 * 1024, 'answer to the slot request');
          if (!d) return;
          if (d.env.slot !== slot) return counters.drop('stale', m.subject, d.env.from, `answer for slot ${d.env.slot} while waiting for ${slot}`);
          done(undefined, d);
        };
        reask = send;
        send();
      });
    for (let slot = 0; slot < slots; slot++) {
      currentSlot = slot;
      opts.onProgress?.({ phase: 'slot', slot, slots });
      const d = await race(askSlot(slot));
      if (!d.ok) throw new RunError(`slot ${slot}: unreadable answer from the leader: ${d.detail}`);
      if (d.env.kind === 'slot-failed') throw new RunError(`slot ${slot}: the leader failed: ${d.env.body.message}`);
      const done = d.env.body;
      const ref = reference.slot(slot, done.outcome);
      const rec: SlotRecord = {
        slot,
        equilibrium: done.outcome.equilibrium,
        converged: done.outcome.converged,
        notes: done.outcome.notes,
        extra: done.outcome.extra,
        ...ref,
        metrics: { ...done.metrics, roundLatency: latencyStats(done.metrics.roundLatencyMs) },
      };
      slotRecords.push(rec);
      if (kv) {
        try {
          const payload = JSON.stringify({ slot, snapshot: done.snapshot ?? null });
          // a node of the cluster may be down and the bucket electing a new leader: retry for up to 20 s
          await retryFor(20_000, log, `saving the leader state after slot ${slot} to JetStream KV`, () => kv!.put('leader', payload));
          counters.sent('other', 'kv-put', Buffer.byteLength(payload));
          keptSlot = slot;
        } catch (e) {
          stateLost = true;
          log.warn({ err: (e as Error).message, slot }, 'could not save the leader state to JetStream KV');
        }
      } else if (done.snapshot) stateLost = true;
      for (const row of done.trajectory) trajectory.push(row); // no spread: a slot can have 100,000 rounds
      const line = scenario.describeSlot?.(done.outcome, ref);
      opts.onProgress?.({ phase: 'slot', slot: slot + 1, slots, line });
      log.info({ slot, rounds: done.metrics.rounds, timeToEquilibriumMs: done.metrics.timeToEquilibriumMs, ok: ref.compare.ok }, line ?? `slot ${slot} done`);
    }
    const results = reference.finish?.();

    // ---- shutdown: every host answers with its counters, then exits ----
    opts.onProgress?.({ phase: 'shutdown' });
    finished = true;
    currentSlot = slots;
    const hosts = external ? externalHosts.size : workers.length;
    const hostCounters = await shutdownHosts(nc, runId, hosts, counters);
    if (hostCounters.byes < hosts) log.warn({ expected: hosts, byes: hostCounters.byes }, 'some agent processes did not answer the shutdown');
    await waitExit(workers, 5000);
    await nc.flush();
    const varzAfter = await nats.varz();

    const ours = sumSnapshots([counters.snapshot(), ...hostCounters.snapshots]);
    const ourPublished = Object.values(ours.out).reduce((s, f) => s + f.msgs, 0) + hostCounters.byes;
    // the hosts' `bye` answers carry their counters, so they are added here
    const ourBytes = Object.values(ours.out).reduce((s, f) => s + f.bytes, 0) + hostCounters.byeBytes;
    const allLatencies = slotRecords.flatMap((r) => r.metrics.roundLatencyMs);
    const agentsRss = sum(hostCounters.hosts.map((h) => h.maxRssBytes));
    const ownRss = process.resourceUsage().maxRSS * 1024;
    summary.status = 'complete';
    summary.finishedAt = new Date().toISOString();
    summary.ok = slotRecords.every((r) => r.compare.ok);
    summary.perSlot = slotRecords.map(stripLatencies);
    if (slotRecords.length === 1) {
      const r = slotRecords[0];
      Object.assign(summary, { equilibrium: r.equilibrium, reference: r.reference, baselines: r.baselines, compare: r.compare, metrics: stripLatencies(r).metrics });
    }
    if (results) summary.results = results;
    summary.runMetrics = {
      slots: slotRecords.length,
      rounds: sum(slotRecords.map((r) => r.metrics.rounds)),
      messages: sum(slotRecords.map((r) => r.metrics.messages)),
      bytes: sum(slotRecords.map((r) => r.metrics.bytes)),
      timeToEquilibriumMs: latencyStats(slotRecords.map((r) => r.metrics.timeToEquilibriumMs)),
      roundLatencyMs: latencyStats(allLatencies),
      agentStartToJoinedMs: latencyStats(startToJoined),
      resent: sum(slotRecords.map((r) => r.metrics.resent ?? 0)),
      restarts,
      workers: hosts,
      counters: { ours: { published: ourPublished, bytes: ourBytes, byFamily: ours.out, byKind: ours.outByKind }, server: serverDelta(varzBefore, varzAfter) },
      drops: ours.drops,
      processes: {
        hosts: hostCounters.hosts,
        cpuSinceReadyMs: Math.round(sum(hostCounters.hosts.map((h) => h.cpuSinceReadyMs))),
        peakRssBytesSum: agentsRss,
        orchestratorPeakRssBytes: ownRss,
        natsServerRssBytes: varzAfter?.mem ?? null,
        // every process of the run: agent hosts' peaks + the orchestrator's peak + the server's memory at the end
        peakRssBytesTotal: agentsRss + ownRss + (varzAfter?.mem ?? 0),
      },
    };
    writeOutputs(dir, summary, slotRecords, trajectory);
    if (opts.report !== false) await writeReportQuietly(dir, log);
    return summary;
  } catch (e) {
    let err = e instanceof RunError ? e : new RunError((e as Error).message, e instanceof NatsUnavailable ? 3 : 1);
    // Ctrl-C in a terminal reaches the agents and nats-server too: whatever failed first, it was an interruption
    if (opts.signal?.aborted && err.exitCode !== 130) err = new RunError(`interrupted (${err.message})`, 130);
    finished = true;
    // external agents have no parent process to lose: tell the ones that joined to exit
    if (external && nc && !nc.isClosed()) {
      try {
        const data = encodeEnvelope(runId, 0, 0, 'orchestrator', 'abort', { reason: err.message.slice(0, 200) });
        nc.publish(subj.ctlAll, data);
        counters.sent('ctl', 'abort', data.byteLength);
        await nc.flush();
      } catch {
        /* the connection is gone: nothing to tell */
      }
    }
    summary.status = err.exitCode === 130 ? 'interrupted' : 'failed';
    summary.error = err.message;
    summary.finishedAt = new Date().toISOString();
    summary.perSlot = slotRecords.map(stripLatencies);
    log.error({ err: err.message }, 'run failed');
    try {
      writeOutputs(dir, summary, slotRecords, trajectory);
      if (opts.report !== false) await writeReportQuietly(dir, log);
    } catch {
      /* best effort: the summary already on disk says running */
    }
    throw Object.assign(err, { runDir: dir });
  } finally {
    finished = true;
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    for (const w of workers) if (!w.exited) w.child.kill('SIGTERM');
    await waitExit(workers, 3000);
    for (const w of workers) if (!w.exited) w.child.kill('SIGKILL');
    await waitExit(workers, 2000);
    try {
      if (kv && nc && !nc.isClosed()) await kv.destroy();
    } catch {
      /* no bucket */
    }
    try {
      await nc?.close();
    } catch {
      /* closed */
    }
    await nats?.stop();
    await new Promise<void>((r) => agentLog.end(() => r()));
    log.flush();
  }
}

/** report.html at the end of every run; a figure that cannot be drawn never fails the run */
async function writeReportQuietly(dir: string, log: Logger): Promise<void> {
  try {
    const { writeReport } = await import('./report.ts');
    await writeReport(dir);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'report.html could not be written; run `mecsim report` on the folder to retry');
  }
}

/** `fn()`, tried again every 500 ms (each failure logged) until it succeeds or `ms` have passed (then its last error) */
async function retryFor<T>(ms: number, log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1, t0 = Date.now(); ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() - t0 > ms) throw e;
      log.warn({ err: (e as Error).message, attempt }, `${what} failed; trying again`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** an external agent host: its machine, pid and host id, as its join and `alive` bodies give them */
function hostKey(body: Body): string {
  return `${text(body.host)}/${text(body.pid)}/${text(body.worker)}`;
}

/** an untrusted decoded value as text: never calls a hostile toString (a map {toString: 1} would throw) */
function text(x: unknown): string {
  return typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : '';
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function stripLatencies(r: SlotRecord): SlotRecord {
  const { roundLatencyMs: _drop, roundKinds: _kinds, ...metrics } = r.metrics;
  return { ...r, metrics: metrics as SlotRecord['metrics'] };
}

function serverDelta(a: Varz | undefined, b: Varz | undefined) {
  if (!a || !b) return null;
  return { inMsgs: b.in_msgs - a.in_msgs, outMsgs: b.out_msgs - a.out_msgs, inBytes: b.in_bytes - a.in_bytes, outBytes: b.out_bytes - a.out_bytes, slowConsumers: b.slow_consumers };
}

async function shutdownHosts(nc: NatsConnection, runId: string, expected: number, counters: Counters): Promise<{ snapshots: CountersSnapshot[]; byes: number; byeBytes: number; hosts: HostReport[] }> {
  const subj = subjects(runId);
  const data = encodeEnvelope(runId, 0, 0, 'orchestrator', 'shutdown', {});
  const snapshots: CountersSnapshot[] = [];
  let byes = 0;
  let byeBytes = 0;
  const hosts: HostReport[] = [];
  counters.sent('ctl', 'shutdown', data.byteLength);
  const it = await nc.requestMany(subj.ctlAll, data, { strategy: 'count', maxMessages: expected, maxWait: 10_000 });
  for await (const m of it) {
    counters.received('inbox', m.data.byteLength);
    const d = decode<HostReport & { counters: CountersSnapshot }>(m.data, runId, 1 << 24);
    if (!d.ok) continue;
    byes++;
    byeBytes += m.data.byteLength;
    const { counters: c, ...report } = d.env.body;
    snapshots.push(c);
    hosts.push(report);
  }
  hosts.sort((a, b) => a.host.localeCompare(b.host, 'en', { numeric: true }));
  return { snapshots, byes, byeBytes, hosts };
}

export interface HostReport {
  host: string;
  pid: number;
  agents: number;
  cpuMs: number;
  cpuSinceReadyMs: number;
  maxRssBytes: number;
}

function waitExit(workers: Worker[], ms: number): Promise<void> {
  const live = workers.filter((w) => !w.exited);
  if (!live.length) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    let n = live.length;
    for (const w of live)
      w.child.once('exit', () => {
        if (--n === 0) {
          clearTimeout(t);
          resolve();
        }
      });
  });
}

function writeOutputs(dir: string, summary: Record<string, unknown>, slots: SlotRecord[], trajectory: Record<string, number | string | boolean | null>[]): void {
  writeAtomic(join(dir, 'trajectory.csv'), toCsv(trajectory, ['slot', 'round']));
  const perSlot = slots.map((r) => ({
    slot: r.slot,
    ok: r.compare.ok,
    gap: r.compare.gap,
    converged: r.converged,
    ...scalars('eq.', r.equilibrium),
    ...scalars('ref.', r.reference),
    ...scalars('', r.extra as Record<string, unknown>),
    rounds: r.metrics.rounds,
    messages: r.metrics.messages,
    bytes: r.metrics.bytes,
    timeToEquilibriumMs: r.metrics.timeToEquilibriumMs,
    roundP50Ms: r.metrics.roundLatency.p50,
    roundP95Ms: r.metrics.roundLatency.p95,
    roundMaxMs: r.metrics.roundLatency.max,
  }));
  writeAtomic(join(dir, 'slots.csv'), toCsv(perSlot));
  writeJsonAtomic(join(dir, 'metrics.json'), { runMetrics: summary.runMetrics ?? null, perSlot: slots.map((r) => ({ slot: r.slot, ...r.metrics })) });
  writeJsonAtomic(join(dir, 'summary.json'), summary);
}

/** The server's status answer to a request nobody was subscribed to (503, no body): not a message of the run. */
function noResponders(m: Msg): boolean {
  return m.data.byteLength === 0 && m.headers?.code === 503;
}
