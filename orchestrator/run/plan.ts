/**
 * What a run is, before anything starts: its options and progress events, where its agents go
 * (placement, worker plan, process budget, niceness), and the commands that start external agents.
 */
import { getPriority, setPriority, totalmem } from 'node:os';
import { usableCores } from '../../bus/cores.ts';
import type { BusOptions } from '../../bus/connection.ts';
import type { SlotMetrics } from '../../bus/control.ts';
import { sortRoster } from '../../scenarios/contract.ts';
import type { AgentSpec, JsonObject, ReferenceSlot, Scenario } from '../../scenarios/types.ts';
import type { latencyStats } from '../results.ts';

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
  /** fail the run at the end of the first slot in which a reply was missing at a round's deadline (`--strict`) */
  strict?: boolean;
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


export function newRunId(scenario: string, seed: number): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  const rand = Math.random().toString(36).slice(2, 6);
  return `${scenario}-${stamp}-s${seed}-${rand}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** `auto` runs up to this many followers one process each */
export const AUTO_PROCESS_MAX = 32;

/**
 * What `--placement auto` means for `followers` followers on a machine of `cores` cores (those this
 * process may use: bus/cores.ts): one process
 * each up to AUTO_PROCESS_MAX, else workers of ⌈followers / cores⌉ agents: one worker per core when
 * the followers have one role (a worker holds one role's agents, so with several roles a few more).
 *
 * Why one per core: each worker process compiles mecsim's hot path for itself, and more workers than
 * cores only take turns on them. On a 2-core machine, interleaved one-slot runs of the price-search
 * scenario (`mecsim run <it> --users N --placement packed:K`, 3–4 pairs), 2 workers against 4:
 * N = 1000, agents' CPU since ready 159–184 ms against 256–306, mean round 2.2–2.7 ms against
 * 3.6–4.5, time to equilibrium 108–132 ms against 168–206; N = 10,000, 508–657 ms against 699–805,
 * mean round 7.9–10.2 ms against 10.6–12.0. One worker at N = 1000 used less CPU again (132 ms) but
 * its rounds were no faster: the followers' work is no longer shared between the cores.
 */
export function autoPlacement(followers: number, cores = usableCores()): Placement & { kind: 'process' | 'packed' } {
  if (followers <= AUTO_PROCESS_MAX) return { kind: 'process' };
  return { kind: 'packed', k: Math.ceil(followers / Math.max(1, cores)) };
}

/** Groups followers into worker processes according to the placement; the leader is always alone. */
export function planWorkers(agents: AgentSpec[], leaderId: string, placement: Placement, roles: readonly string[], cores?: number): AgentSpec[][] {
  const leader = agents.filter((a) => a.id === leaderId);
  const followers = sortRoster(agents.filter((a) => a.id !== leaderId), roles);
  const p = placement.kind === 'auto' ? autoPlacement(followers.length, cores) : placement;
  const k = p.kind === 'packed' ? p.k : 1;
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
export function externalAgentCommands(runId: string, natsUrl: string, agents: AgentSpec[], leaderId: string, roleOrder: readonly string[], scenarioFile?: string): Pick<ExternalAgents, 'roles' | 'commands'> {
  const leader = agents.find((a) => a.id === leaderId);
  const roles: ExternalAgents['roles'] = [];
  for (const a of [...(leader ? [leader] : []), ...sortRoster(agents.filter((x) => x.id !== leaderId), roleOrder)]) {
    const r = roles.find((x) => x.role === a.role);
    if (r) r.count++;
    else roles.push({ role: a.role, count: 1, leader: a.id === leaderId });
  }
  const commands = roles.map((r) => `mecsim agent --run ${runId} --role ${r.role} --join${r.count > 1 ? ` --count ${r.count}` : ''} --nats ${natsUrl}${scenarioFile ? ` --scenario ${JSON.stringify(scenarioFile)}` : ''}`);
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
 * `bench <a price-search scenario> --sizes 1000,10000 --repeat 3` the round at N = 10,000 fell from 88–94 to 59 ms
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
export function indexSpec(agents: AgentSpec[]): string {
  const idx = agents.map((a) => a.index);
  const contiguous = idx.every((v, i) => i === 0 || v === idx[i - 1] + 1);
  return contiguous && idx.length > 1 ? `${idx[0]}-${idx[idx.length - 1]}` : idx.join(',');
}
