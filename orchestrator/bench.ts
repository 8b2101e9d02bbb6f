/**
 * `mecsim bench [scenario…]` (`npm run bench -- <scenario>`): for each scenario and size N, in
 * one process and against one NATS server:
 *   - the framework: a real distributed run (agent processes, the scenario's mechanism), its
 *     rounds, time-to-equilibrium and mean time per round (measured by the leader);
 *   - the raw NATS floor: one publish fanned out to N plain subscribers spread over the same number
 *     of processes, N tiny replies gathered, repeated for the same number of rounds; its driver, which
 *     plays the leader, is a fresh process of its own, as the leader is;
 *   - the in-process run of the same protocol, and the centralized reference solver's time.
 * The ratio framework/floor per round is the figure the targets are stated in; ratios taken within
 * one run are robust to a shared, noisy machine where absolute times are not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { catalog } from '../catalog/catalog.ts';
import { countList } from '../scenarios/common/schema.ts';
import { InProcessRun } from '../scenarios/inprocess.ts';
import type { BenchVariant, JsonObject, Scenario, SlotOutcome } from '../scenarios/types.ts';
import { mechanismOf, partsOf } from '../scenarios/contract.ts';
import { subjects } from '../bus/subjects.ts';
import { tieringArgs } from '../agents/tiering.ts';
import { acquireNats } from './natsServer.ts';
import { autoPlacement, planWorkers, renice, RunError, runScenario, workerNice, type Placement } from './run.ts';
import { scaledMs } from '../bus/timeouts.ts';
import type { DriverMessage, FloorTask } from './floorDriver.ts';
import { claimsRows } from './report.ts';
import { processPeakBytes } from './scale.ts';

const FLOOR_WORKER = fileURLToPath(new URL('./floorWorker.ts', import.meta.url));
const FLOOR_DRIVER = fileURLToPath(new URL('./floorDriver.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
/** extra node flags for the floor's worker processes, e.g. MECSIM_FLOOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (as MECSIM_AGENT_NODE_ARGS for agents) */
const FLOOR_NODE_ARGS = (process.env.MECSIM_FLOOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

export interface BenchRow {
  scenario: string;
  mechanism: string;
  users: number;
  placement: string;
  processes: number;
  rounds: number;
  messages: number;
  timeToEquilibriumMs: number;
  frameworkRoundMs: number;
  frameworkRoundP50Ms: number;
  floorRoundMs: number;
  floorRoundP50Ms: number;
  /** framework runs measured, each with its floors right after it (figures are medians over them) */
  repeats: number;
  /** the median of the per-repeat ratios round/floor; min and max over the repeats */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  ratioP50: number;
  /** slots run first as the warm-up (0 or 1): round ms, floor ms and the ratios are over the later slots */
  warmupSlots: number;
  /** the warm-up slot's mean time per round, the floor's over as many warm-up rounds, and their ratio */
  coldRoundMs: number | null;
  coldFloorMs: number | null;
  coldRatio: number | null;
  /** the floor moving the same bytes on the same subject shapes as the framework (mean message size, one broadcast subscription and one reply subject per process) */
  floorMatchedMs: number;
  ratioMatched: number;
  /** the same floor through the NATS client as it comes (its ratio and CPU per round): the second column */
  floorStockRoundMs: number;
  ratioStock: number;
  floorStockCpuPerRoundMs: number;
  /**
   * the same floor with one broadcast subscription per process (its callback answering for each of
   * the process's agents), as mecsim's hosts take broadcasts: its per-round time, ratio, CPU per round
   * and CPU ratio
   */
  floorSharedRoundMs: number;
  ratioShared: number;
  floorSharedCpuPerRoundMs: number;
  cpuRatioShared: number;
  /** min and max over the repeats of the two ratios against the shared floor (their medians are ratioShared and cpuRatioShared) */
  ratioSharedMin: number;
  ratioSharedMax: number;
  cpuRatioSharedMin: number;
  cpuRatioSharedMax: number;
  /**
   * CPU time per round of every agent process and of the floors' processes, ms, over the rounds the
   * per-round times are taken on: after the warm-up slot (agents: since an agent of the process
   * started slot 1; floors: after their warm-up rounds), or every round of a one-slot run (agents:
   * since ready). Every CPU figure and ratio below is so, except the `All` ones.
   */
  cpuPerRoundMs: number;
  floorCpuPerRoundMs: number;
  floorMatchedCpuPerRoundMs: number;
  /** CPU per round of the agent processes since ready over every round (the warm-up slot's included), and its ratios to the floor's and the shared floor's CPU over every round */
  cpuAllPerRoundMs: number;
  cpuRatioAll: number;
  cpuRatioSharedAll: number;
  /** the median of the per-repeat ratios CPU per round / the floor's CPU per round; min and max over the repeats */
  cpuRatio: number;
  cpuRatioMin: number;
  cpuRatioMax: number;
  /** CPU time of the leader's process per slot (median), ms */
  leaderCpuMs: number;
  inProcessMs: number;
  referenceMs: number;
  equalsReference: boolean;
  /** the slots (of any repeat) whose outcome is not the reference's, each with its compare note: a mechanism may not reach the optimum, and says why */
  referenceMisses: { slot: number; note: string }[];
  /** every slot's equilibrium, in every repeat, the same as the in-process run's of the same protocol and configuration (the distributed run computed what the protocol computes) */
  equalsInProcess: boolean;
  /** peak RSS of every process of the framework run (agents, orchestrator, nats-server), MiB; with repeats, the largest */
  peakMemoryMiB: number;
  /** slowest agent's spawn-to-joined time, ms; with repeats, the slowest of every run */
  joinMaxMs: number;
  /** agents joined per second: N / the slowest agent's spawn-to-joined time (with repeats, the slowest run) */
  joinPerSec: number;
  /** requests re-sent (retransmissions), and of those the spurious ones: a second copy of the reply came, so nothing had been lost (the leader's `retransmit-echo` drops); with repeats, the largest */
  resent: number;
  spuriousResent: number;
  /** peak RSS per agent of the leader's process and of the orchestrator's (the bench process: its peak so far), bytes; with repeats, the largest */
  leaderBytesPerAgent: number | null;
  orchestratorBytesPerAgent: number | null;
  /** nats-server's memory at the run's end, MiB (with repeats, the largest) */
  natsServerMiB: number | null;
  extra?: Record<string, number | string>;
}

/** The bench's layout: `--placement auto`'s, the default a user gets (run/plan.ts autoPlacement). */
export function benchPlacement(followers: number, cores?: number): Placement {
  return autoPlacement(followers, cores);
}

type Variant = BenchVariant;

/**
 * Slots per benchmark run (per-slot figures are then medians over slots). With two or more, the
 * first slot is the warm-up: per-round times and CPU are taken from the later slots ("warm"), and
 * the floor runs as many warm-up rounds first; the first slot's times are reported apart ("cold"),
 * and CPU over every round beside the warm figure ("all").
 * Why both: processes start slow. The floor reaches its steady per-round time within ~40 rounds;
 * mecsim's agents take about four slots of a price-search scenario (~170 rounds at N = 1000). The
 * cause is V8 compiling mecsim's hot path: `perf` put over a quarter of a packed worker's samples
 * in the optimizing compiler during the first slots, and under 2 % from the fifth on (a worker's CPU
 * per slot fell from 66–94 ms in the first two slots to 23–52 ms). V8 flags for earlier tiering
 * (agents/tiering.ts) shorten the first slot but not the pattern. A one-slot run (the default, as in
 * earlier reports) therefore compares a mostly cold framework with a mostly cold floor, whose code
 * is small; `--slots 3` or more also shows the warm comparison, which is the steady state.
 */
/** The raw floor: same process layout, `rounds` rounds of broadcast + N replies. Per-round times in ms. */
export interface FloorShape {
  /** broadcast payload bytes (default 8) */
  bcastBytes?: number;
  /** reply payload bytes (default: the agent's index as text, 1–4 bytes) */
  replyBytes?: number;
  /** each process replies on its own subject `<prefix>.rep.mec-0.ue.w<first agent>`, like mecsim's hosts (default: one subject for all) */
  hostSubjects?: boolean;
  /** make the subject prefix this long (mecsim's is `mecsim.<run token>`, 15 characters) */
  prefixLength?: number;
  /** one-to-one rounds: each round sends to one agent (round-robin) and gathers its one reply */
  single?: boolean;
  /** rounds run first and not timed (the warm-up; their times are returned apart) */
  warmup?: number;
  /** the client path (default 'mecsim') */
  client?: FloorClient;
  /** one broadcast subscription per process, answering for each of its agents (as mecsim's hosts do), not one per agent */
  sharedBroadcast?: boolean;
  /** with sharedBroadcast and replyBytes: a process's replies to a broadcast go back to back in as few messages as mecsim's hosts send (bus/replyBatch.ts) */
  batchReplies?: boolean;
  /** how long one round may take before the floor gives up with an error (default FLOOR_ROUND_MS; stretched on a loaded machine) */
  roundMs?: number;
  /** told of each round done (warm-up rounds included), from 1 */
  onRound?: (round: number) => void;
}

export interface FloorResult {
  /** per-round times after the warm-up, ms */
  times: number[];
  /** per-round times of the warm-up rounds, ms */
  warmupTimes: number[];
  /** CPU time of the floor's processes (workers since ready, and the driver during the rounds), ms */
  cpuMs: number;
  /** the same after the warm-up rounds (all of it if there were none), ms */
  warmCpuMs: number;
}

let floorCalls = 0;

/**
 * The NATS client path a floor's processes (its workers and its driver) read and send with:
 * 'mecsim' — mecsim's own protocol reader, handing payloads straight to subscribers, and its
 * one-buffer publish (bus/fastparse.ts, bus/fastpublish.ts), the fastest path there is and the one
 * mecsim's agents use: the default floor, the one the targets are stated against; 'stock' — the NATS
 * client as it comes (the second column). Only the floor's processes are concerned: the bench
 * process's orchestrator, as in `mecsim run`, reads with the stock client.
 */
export type FloorClient = 'mecsim' | 'stock';

export async function rawFloor(url: string, groups: number[], rounds: number, shape: FloorShape = {}, signal?: AbortSignal): Promise<FloorResult> {
  if (signal?.aborted) throw new RunError('interrupted', 130);
  const client = shape.client ?? 'mecsim';
  const nice = workerNice();
  // short (about 10 characters), so the plain floor is not slowed by its own subjects; unique per call
  let prefix = `fl${process.pid.toString(36)}${(floorCalls++).toString(36)}${(Date.now() % 46656).toString(36)}`;
  if (shape.prefixLength && shape.prefixLength > prefix.length) prefix = prefix + '-' + 'x'.repeat(shape.prefixLength - prefix.length - 1);
  const n = groups.reduce((a, b) => a + b, 0);
  const batched = shape.batchReplies === true && shape.sharedBroadcast === true && (shape.replyBytes ?? 0) > 0;
  // a round that never completes (a worker died, the server dropped a slow consumer's messages) ends the floor with an error, not a hang
  const roundMs = scaledMs(shape.roundMs ?? FLOOR_ROUND_MS);
  const task: FloorTask = { url, prefix, agents: n, workers: groups.length, rounds, warmup: shape.warmup ?? 0, single: shape.single === true, client, bcastBytes: shape.bcastBytes ?? 8, batched, replyBytes: shape.replyBytes ?? 0, hostSubjects: shape.hostSubjects === true, roundMs, reportRounds: shape.onRound !== undefined };
  const floor = new FloorProcesses(signal, shape.onRound);
  let done: Extract<DriverMessage, { kind: 'done' }>;
  try {
    // the driver plays the leader: a fresh process with the leader's node flags, at the orchestrator's niceness
    floor.driver([...tieringArgs(n, true, n, 'floor'), ...FLOOR_NODE_ARGS, '--import', TSX_LOADER, FLOOR_DRIVER, JSON.stringify(task)]);
    // a start-up is slower on a loaded machine (100 processes at a load of 50 took more than 60 s): the limit is stretched by the load
    const startMs = scaledMs(60_000);
    const notStarted = () => new Error(`floor workers did not start in ${Math.round(startMs / 1000)} s`);
    await floor.next('subscribed', startMs, notStarted);
    let from = 0;
    for (const g of groups) {
      const args = [...tieringArgs(g, false, 0, 'floor'), ...FLOOR_NODE_ARGS, '--import', TSX_LOADER, FLOOR_WORKER, url, prefix, String(from), String(from + g - 1), String(shape.replyBytes ?? 0), shape.hostSubjects ? '1' : '0', client, shape.sharedBroadcast ? '1' : '0', batched ? '1' : '0'];
      floor.worker(args, `${from}–${from + g - 1}`, nice); // as the framework's follower processes (see workerNice in run.ts)
      from += g;
    }
    await floor.next('started', startMs, notStarted);
    // the driver says something at least every second while its rounds go, and fails a round past its deadline itself
    const quietMs = roundMs + scaledMs(10_000);
    done = await floor.next('done', quietMs, () => new RunError(`raw NATS floor: the driver said nothing for ${Math.round(quietMs / 1000)} s (frozen?)`, 1));
  } finally {
    await floor.stop();
  }
  // each worker's CPU is part of the figure: one that exited without saying it makes the floor unmeasured, not cheaper
  if (floor.workerReports < groups.length) throw new RunError(`raw NATS floor: ${groups.length - floor.workerReports} of ${groups.length} workers exited without reporting their CPU time`, 1);
  return { times: done.times, warmupTimes: done.warmupTimes, cpuMs: done.cpuMs + floor.workerCpuMs, warmCpuMs: done.warmCpuMs + floor.workerWarmCpuMs };
}

/** how long one round of the raw floor may take before the bench gives up (stretched on a loaded machine) */
const FLOOR_ROUND_MS = 60_000;

/**
 * A floor's processes, each started fresh: the driver (orchestrator/floorDriver.ts) and the workers.
 * A process that exits before the floor has ended, the driver's error or an interruption ends the
 * floor at once; none outlives it.
 */
class FloorProcesses {
  private readonly children: ChildProcess[] = [];
  private readonly workers: ChildProcess[] = [];
  /** the workers' CPU time since ready, as each reports it when told to stop, ms */
  workerCpuMs = 0;
  /** the same since the driver's warm-up rounds ended (since ready if there were none), ms */
  workerWarmCpuMs = 0;
  /** how many workers reported their CPU time */
  workerReports = 0;
  /** set once the driver is done: processes exiting from then on are expected */
  private ended = false;
  private fail: (e: Error) => void = () => undefined;
  private readonly failed = new Promise<never>((_, reject) => (this.fail = reject));
  /** the driver's messages not yet waited for, by kind */
  private readonly heard = new Map<DriverMessage['kind'], DriverMessage>();
  private waiting?: { kind: DriverMessage['kind']; take: (m: DriverMessage) => void; heard: () => void };
  private readonly onAbort = () => this.fail(new RunError('interrupted', 130));

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly onRound: ((round: number) => void) | undefined,
  ) {
    this.failed.catch(() => undefined);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  driver(args: string[]): void {
    this.spawn(args, 'the driver').on('message', (m: DriverMessage) => this.fromDriver(m));
  }

  worker(args: string[], agents: string, nice: number): void {
    const child = this.spawn(args, `the worker of agents ${agents}`);
    this.workers.push(child);
    renice(child.pid, nice);
    child.on('message', (m: { cpuMs?: unknown; warmCpuMs?: unknown }) => {
      if (typeof m?.cpuMs === 'number') this.workerReports++;
      this.workerCpuMs += typeof m?.cpuMs === 'number' ? m.cpuMs : 0;
      this.workerWarmCpuMs += typeof m?.warmCpuMs === 'number' ? m.warmCpuMs : 0;
    });
  }

  /** The rounds are over: each worker is told to report its CPU time and exit, and from here its exit is expected. */
  private stopWorkers(): void {
    this.ended = true;
    for (const w of this.workers) if (w.connected) w.send('stop');
  }

  private spawn(args: string[], who: string): ChildProcess {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('error', (e) => this.fail(new RunError(`raw NATS floor: cannot start ${who}: ${e.message}`, 1)));
    child.once('exit', (code, sig) => this.ended || this.fail(new RunError(`raw NATS floor: ${who} exited (${sig ?? `code ${code}`}) before the floor ended (see its output above)`, 1)));
    this.children.push(child);
    return child;
  }

  private fromDriver(m: DriverMessage): void {
    if (m.kind === 'error') return this.fail(new RunError(m.message, 1));
    if (m.kind === 'done') this.stopWorkers();
    if (m.kind === 'round') this.onRound?.(m.round);
    const w = this.waiting;
    if (w?.kind === m.kind) w.take(m);
    else if (m.kind !== 'round' && m.kind !== 'alive') this.heard.set(m.kind, m);
    w?.heard();
  }

  /** The driver's message of `kind`; rejects with `timeout()` once the driver has said nothing for `quietMs`, or as soon as the floor fails. */
  async next<K extends DriverMessage['kind']>(kind: K, quietMs: number, timeout: () => Error): Promise<Extract<DriverMessage, { kind: K }>> {
    const early = this.heard.get(kind);
    if (early) return early as Extract<DriverMessage, { kind: K }>;
    let timer: NodeJS.Timeout | undefined;
    try {
      const message = new Promise<DriverMessage>((take, reject) => {
        const heard = () => {
          clearTimeout(timer);
          timer = setTimeout(() => reject(timeout()), quietMs);
        };
        heard();
        this.waiting = { kind, take, heard };
      });
      return (await Promise.race([message, this.failed])) as Extract<DriverMessage, { kind: K }>;
    } finally {
      clearTimeout(timer);
      this.waiting = undefined;
    }
  }

  /** Every process gone: those still running when the floor did not end are stopped; each is waited for. */
  async stop(): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (!this.ended) {
      this.ended = true;
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    }
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            // killed after 3 s (a frozen process ignores `stop` and SIGTERM), and waited for: gone when the floor returns
            const kill = setTimeout(() => c.kill('SIGKILL'), 3000);
            const giveUp = setTimeout(r, 10_000);
            c.once('exit', () => (clearTimeout(kill), clearTimeout(giveUp), r()));
          }),
      ),
    );
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** One framework run and, right after it, the two floors on the same process layout and round count. */
interface Measured {
  summary: Record<string, any>;
  full: any[];
  coldTimes: number[];
  roundTimes: number[];
  /** the floors: through mecsim's client path (the targets'), the stock client's, with one broadcast subscription per process, and with mecsim's sizes and batches */
  floor: FloorResult;
  floorStock: FloorResult;
  floorShared: FloorResult;
  floorMatched: FloorResult;
  metrics: { rounds: number; messages: number; bytes: number; timeToEquilibriumMs: number };
}

/**
 * Benchmark one scenario at one size. With `repeats` > 1 the framework run and its two floors are
 * measured that many times, interleaved (run, floor, floor=, run, floor, floor=, …), so a busy spell
 * of a shared machine hits one pair rather than the whole comparison. Each figure is then the median
 * over the repeats, each ratio the median of the per-repeat ratios (a run and its floor measured back
 * to back), and `ratioMin`/`ratioMax` give their spread. Peak memory and the slowest join are the
 * worst over the repeats, as their targets are limits.
 */
export async function benchOne(scenario: Scenario, users: number, natsUrl: string, outDir: string, log: (s: string) => void, variant: Variant = {}, slotsOverride?: number, repeats = 1, signal?: AbortSignal, natsPid?: number): Promise<BenchRow> {
  const plan = scenario.bench ?? {};
  const slots = slotsOverride ?? plan.slots ?? 1;
  const warmSlots = slots > 1 ? 1 : 0;
  const size = plan.sizeInput?.(users) ?? { users };
  const cfg: JsonObject = scenario.resolve({ seed: 1, slots, users: size.users, mechanism: variant.mechanism, options: { ...(size.options ?? {}), ...(variant.options ?? {}) } });
  const mechanism = mechanismOf(scenario, cfg);
  const parts = partsOf(scenario, mechanism);
  const agents = parts.agents(cfg);
  const placement = variant.placement ?? benchPlacement(agents.length - 1);
  const single = plan.oneToOne?.includes(mechanism) ?? false;
  const groups = planWorkers(agents, parts.leaderId(cfg), placement, scenario.roles)
    .slice(1)
    .map((g) => g.length);
  const reps: Measured[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    const of = repeats > 1 ? ` [${rep + 1}/${repeats}]` : '';
    log(`  ${scenario.id} ${cfg.mechanism} N=${users}${of}: framework run (${slots} slot${slots > 1 ? 's' : ''}) …`);
    if (signal?.aborted) throw new RunError('interrupted', 130);
    const summary = (await runScenario({ scenario, cfg, placement, outDir, natsUrl, roundTimeoutMs: 60_000, signal })) as Record<string, any>;
    const perSlot: any[] = summary.perSlot;
    const full: any[] = JSON.parse(readFileSync(join(outDir, summary.runId, 'metrics.json'), 'utf8')).perSlot;
    const coldTimes: number[] = full.slice(0, warmSlots).flatMap((x) => x.roundLatencyMs);
    const roundTimes: number[] = full.slice(warmSlots).flatMap((x) => x.roundLatencyMs);
    const metrics = {
      rounds: median(perSlot.map((r) => r.metrics.rounds)),
      messages: median(perSlot.map((r) => r.metrics.messages)),
      bytes: perSlot.reduce((a, r) => a + r.metrics.bytes, 0) / perSlot.length,
      timeToEquilibriumMs: median(perSlot.map((r) => r.metrics.timeToEquilibriumMs)),
    };
    log(`  ${scenario.id} N=${users}${of}: raw NATS floor (${groups.length} processes, ${coldTimes.length ? `${coldTimes.length} warm-up + ` : ''}${roundTimes.length} rounds) …`);
    const floor = await rawFloor(natsUrl, groups, roundTimes.length, { single, warmup: coldTimes.length }, signal);
    log(`  ${scenario.id} N=${users}${of}: raw NATS floor through the stock client …`);
    const floorStock = await rawFloor(natsUrl, groups, roundTimes.length, { single, warmup: coldTimes.length, client: 'stock' }, signal);
    log(`  ${scenario.id} N=${users}${of}: raw NATS floor with one broadcast subscription per process …`);
    const floorShared = await rawFloor(natsUrl, groups, roundTimes.length, { single, warmup: coldTimes.length, sharedBroadcast: true }, signal);
    const meanBytes = Math.round(metrics.bytes / Math.max(1, metrics.messages));
    log(`  ${scenario.id} N=${users}${of}: raw NATS floor with mecsim's message sizes (${meanBytes} B), subjects and batches (one broadcast subscription and one reply subject per process, a process's replies to a broadcast in as few messages as mecsim's hosts send) …`);
    const floorMatched = await rawFloor(natsUrl, groups, roundTimes.length, { bcastBytes: meanBytes, replyBytes: meanBytes, hostSubjects: true, sharedBroadcast: true, batchReplies: true, prefixLength: subjects(summary.runId).base.length, single, warmup: coldTimes.length }, signal);
    // the run was given the bench's server, so its summary has no server memory: the bench's own server's peak so far stands in (an upper bound)
    if (summary.runMetrics.processes.natsServerRssBytes == null) {
      const peak = processPeakBytes(natsPid);
      if (peak !== undefined) {
        summary.runMetrics.processes.natsServerRssBytes = peak;
        summary.runMetrics.processes.peakRssBytesTotal += peak;
      }
    }
    reps.push({ summary, full, coldTimes, roundTimes, floor, floorStock, floorShared, floorMatched, metrics });
  }
  log(`  ${scenario.id} N=${users}: in-process run and reference …`);
  const t0 = performance.now();
  const inproc = new InProcessRun(scenario, cfg);
  const outcomes: SlotOutcome[] = [];
  for (let t = 0; t < slots; t++) outcomes.push((await inproc.runSlot(t)).outcome);
  const t1 = performance.now();
  const ref = parts.createReference(cfg);
  outcomes.forEach((o, t) => ref.slot(t, o));
  const t2 = performance.now();
  const misses = referenceMisses(reps);
  // the median over the repeats of a per-repeat figure
  const med = (f: (m: Measured) => number) => r3(median(reps.map(f)));
  const allRounds = (m: Measured) => Math.max(1, m.coldTimes.length + m.roundTimes.length);
  /** CPU time of the run's agent processes since each was ready, ms */
  const agentCpuMs = (m: Measured): number => m.summary.runMetrics.processes.cpuSinceReadyMs ?? NaN;
  /**
   * The CPU figures the targets are judged on: over the same rounds as the per-round times — after
   * the warm-up slot (agents/hostCpu.ts), and the floor's after as many warm-up rounds — or over all
   * of a one-slot run.
   */
  const warmCpuMs = (m: Measured): number => (warmSlots ? (m.summary.runMetrics.processes.cpuSinceSlot1Ms ?? NaN) : agentCpuMs(m));
  const warmRounds = (m: Measured) => Math.max(1, warmSlots ? m.roundTimes.length : allRounds(m));
  /** per-repeat ratios: their median (the figure a target is judged on) and their range */
  const spread = (ratios: number[]) => ({ median: r3(median(ratios)), min: r3(Math.min(...ratios)), max: r3(Math.max(...ratios)) });
  const ratio = spread(reps.map((m) => mean(m.roundTimes) / mean(m.floor.times)));
  const cpuRatio = spread(reps.map((m) => warmCpuMs(m) / m.floor.warmCpuMs));
  const ratioShared = spread(reps.map((m) => mean(m.roundTimes) / mean(m.floorShared.times)));
  const cpuRatioShared = spread(reps.map((m) => warmCpuMs(m) / m.floorShared.warmCpuMs));
  const last = reps[reps.length - 1];
  const extra = plan.extras ? await plan.extras({ config: cfg, summary: last.summary, roundMs: mean(last.roundTimes), slotMetrics: last.full }) : undefined;
  return {
    extra,
    scenario: scenario.id,
    mechanism: variant.label ?? String(cfg.mechanism),
    users,
    placement: last.summary.placement,
    processes: last.summary.workers,
    repeats,
    rounds: last.metrics.rounds,
    messages: last.metrics.messages,
    timeToEquilibriumMs: med((m) => m.metrics.timeToEquilibriumMs),
    frameworkRoundMs: med((m) => mean(m.roundTimes)),
    frameworkRoundP50Ms: med((m) => median(m.roundTimes)),
    floorRoundMs: med((m) => mean(m.floor.times)),
    floorRoundP50Ms: med((m) => median(m.floor.times)),
    ratio: ratio.median,
    ratioMin: ratio.min,
    ratioMax: ratio.max,
    ratioP50: med((m) => median(m.roundTimes) / median(m.floor.times)),
    warmupSlots: warmSlots,
    coldRoundMs: warmSlots ? med((m) => mean(m.coldTimes)) : null,
    coldFloorMs: warmSlots ? med((m) => mean(m.floor.warmupTimes)) : null,
    coldRatio: warmSlots ? med((m) => mean(m.coldTimes) / mean(m.floor.warmupTimes)) : null,
    floorMatchedMs: med((m) => mean(m.floorMatched.times)),
    ratioMatched: med((m) => mean(m.roundTimes) / mean(m.floorMatched.times)),
    cpuPerRoundMs: med((m) => warmCpuMs(m) / warmRounds(m)),
    floorCpuPerRoundMs: med((m) => m.floor.warmCpuMs / warmRounds(m)),
    floorMatchedCpuPerRoundMs: med((m) => m.floorMatched.warmCpuMs / warmRounds(m)),
    cpuAllPerRoundMs: med((m) => agentCpuMs(m) / allRounds(m)),
    cpuRatioAll: med((m) => agentCpuMs(m) / m.floor.cpuMs),
    cpuRatioSharedAll: med((m) => agentCpuMs(m) / m.floorShared.cpuMs),
    floorStockRoundMs: med((m) => mean(m.floorStock.times)),
    ratioStock: med((m) => mean(m.roundTimes) / mean(m.floorStock.times)),
    floorStockCpuPerRoundMs: med((m) => m.floorStock.warmCpuMs / warmRounds(m)),
    floorSharedRoundMs: med((m) => mean(m.floorShared.times)),
    ratioShared: ratioShared.median,
    ratioSharedMin: ratioShared.min,
    ratioSharedMax: ratioShared.max,
    floorSharedCpuPerRoundMs: med((m) => m.floorShared.warmCpuMs / warmRounds(m)),
    cpuRatioShared: cpuRatioShared.median,
    cpuRatioSharedMin: cpuRatioShared.min,
    cpuRatioSharedMax: cpuRatioShared.max,
    cpuRatio: cpuRatio.median,
    cpuRatioMin: cpuRatio.min,
    cpuRatioMax: cpuRatio.max,
    leaderCpuMs: med((m) => median(m.summary.perSlot.map((r: any) => r.metrics.leaderCpuMs))),
    inProcessMs: r3((t1 - t0) / slots),
    referenceMs: r3((t2 - t1) / slots),
    equalsReference: misses.length === 0,
    referenceMisses: misses,
    equalsInProcess: reps.every((m) => sameEquilibria(m.summary.perSlot, outcomes)),
    peakMemoryMiB: Math.round(Math.max(...reps.map((m) => m.summary.runMetrics.processes.peakRssBytesTotal ?? m.summary.runMetrics.processes.peakRssBytesSum)) / 2 ** 20),
    joinMaxMs: Math.round(Math.max(...reps.map((m) => m.summary.runMetrics.agentStartToJoinedMs.max))),
    joinPerSec: Math.round(Math.min(...reps.map((m) => agentsOf(m.summary) / (m.summary.runMetrics.agentStartToJoinedMs.max / 1000)))),
    resent: Math.max(...reps.map((m) => m.summary.runMetrics.resent ?? 0)),
    spuriousResent: Math.max(...reps.map((m) => m.summary.runMetrics.drops?.['retransmit-echo'] ?? 0)),
    leaderBytesPerAgent: maxOrNull(reps.map((m) => perAgent(leaderHost(m.summary)?.maxRssBytes, m.summary))),
    orchestratorBytesPerAgent: maxOrNull(reps.map((m) => perAgent(m.summary.runMetrics.processes.orchestratorPeakRssBytes, m.summary))),
    natsServerMiB: maxOrNull(reps.map((m) => (typeof m.summary.runMetrics.processes.natsServerRssBytes === 'number' ? Math.round(m.summary.runMetrics.processes.natsServerRssBytes / 2 ** 20) : null))),
  };
}

/** every agent of the run, the leader included */
const agentsOf = (summary: Record<string, any>): number => (summary.runMetrics.processes.hosts as { agents: number }[]).reduce((a, h) => a + h.agents, 0);
/** the leader's process (spawned runs name it `leader`) */
const leaderHost = (summary: Record<string, any>): { maxRssBytes: number } | undefined => (summary.runMetrics.processes.hosts as { host: string; maxRssBytes: number }[]).find((h) => h.host === 'leader');
const perAgent = (bytes: number | undefined, summary: Record<string, any>): number | null => (typeof bytes === 'number' ? Math.round(bytes / agentsOf(summary)) : null);
const maxOrNull = (xs: (number | null)[]): number | null => (xs.every((x) => x === null) ? null : Math.max(...(xs.filter((x) => x !== null) as number[])));

export interface TargetCheck {
  target: string;
  row: string;
  /** the figure judged: for a ratio with --repeat r, the median of the r ratios */
  value: number;
  limit: number;
  met: boolean;
  /** a ratio's min and max over the repeats (with --repeat r > 1) */
  spread?: { min: number; max: number };
}

/**
 * A target's line on stdout. A ratio measured more than once shows its range over the repeats, and
 * says so when the repeats disagree with the verdict on their median: on a shared machine one
 * repeat can fall on either side of a limit, and a reader citing the line should know.
 */
export function formatTarget(t: TargetCheck): string {
  const over = (x: number) => x > t.limit;
  const split = t.spread !== undefined && over(t.spread.min) !== over(t.spread.max);
  const range = t.spread ? `; repeats ${t.spread.min}–${t.spread.max}` : '';
  const verdict = t.met ? 'met' : 'NOT met';
  return `target: ${t.target}: ${t.row}: ${t.value} (limit ${t.limit}${range}) — ${verdict}${split ? (t.met ? ', not in every repeat' : ', met in some repeats') : ''}`;
}

/** The --scale row's size (issue 21): 100,000 agents on one machine. */
export const SCALE_N = 100_000;
/**
 * Bytes of peak RSS per agent allowed to the leader's and to the orchestrator's process at N =
 * 100,000: what the roster needs (an agent's spec, its index and sender-table entries, its host in
 * the placement and its place in each round's reply arrays, a few hundred bytes) with room to
 * spare, and the process's fixed cost spread over the agents (about 1 KiB each at 100,000); the
 * 734 MiB the leader held in issue 21's run is 7.7 KiB an agent.
 */
export const BYTES_PER_AGENT_LIMIT = 4096;

/**
 * The targets (issues 7 and 21) checked on the rows that measure them: per-round time and CPU per
 * round ≤ 1.5× the raw floor through mecsim's client path at N = 1000 and 10,000; peak memory of
 * all processes ≤ 3 GiB at 10,000; 100 agents in `process` placement joined within 20 s; and at N
 * = 100,000 (the --scale row): all joined at ≥ 10,000 agents/s, no spurious retransmission,
 * per-round time ≤ 1.5× the floor, memory of all processes ≤ 3 GiB, the leader's and the
 * orchestrator's peak RSS ≤ BYTES_PER_AGENT_LIMIT an agent. Rows that measure none give nothing.
 */
export function targetChecks(rows: BenchRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const r of rows) {
    const row = `${r.scenario} ${r.mechanism} N=${r.users}`;
    const add = (target: string, value: number | null, limit: number, atLeast = false, min?: number, max?: number) => {
      if (value === null || !Number.isFinite(value)) return;
      const spread = r.repeats > 1 && min !== undefined && max !== undefined ? { min, max } : undefined;
      out.push({ target, row, value, limit, met: atLeast ? value >= limit : value <= limit, ...(spread ? { spread } : {}) });
    };
    if (r.placement !== 'process' && (r.users === 1000 || r.users === 10_000 || r.users === SCALE_N)) add("per-round time ≤ 1.5 × the raw NATS floor (mecsim's client path)", r.ratio, 1.5, false, r.ratioMin, r.ratioMax);
    if (r.placement !== 'process' && (r.users === 1000 || r.users === 10_000)) add("CPU per round ≤ 1.5 × the floor's (mecsim's client path)", r.cpuRatio, 1.5, false, r.cpuRatioMin, r.cpuRatioMax);
    // mecsim's hosts take a role's broadcasts on one subscription: the same targets against a floor that does so too
    if (r.placement !== 'process' && (r.users === 1000 || r.users === 10_000)) {
      add('per-round time ≤ 1.5 × the floor with one broadcast subscription per process', r.ratioShared, 1.5, false, r.ratioSharedMin, r.ratioSharedMax);
      add("CPU per round ≤ 1.5 × that floor's", r.cpuRatioShared, 1.5, false, r.cpuRatioSharedMin, r.cpuRatioSharedMax);
    }
    if (r.users === 10_000 || r.users === SCALE_N) add('peak memory of all processes ≤ 3 GiB (MiB)', r.peakMemoryMiB, 3072);
    if (r.placement === 'process' && r.users === 100) add('100 agents in process placement joined within 20 s (ms)', r.joinMaxMs, 20_000);
    if (r.users === SCALE_N) {
      add('agents joined per second ≥ 10,000 (N / slowest join)', r.joinPerSec, 10_000, true);
      add('spurious retransmissions (a re-sent request whose first reply came too) = 0', r.spuriousResent, 0);
      add(`leader's peak RSS per agent ≤ ${BYTES_PER_AGENT_LIMIT} bytes`, r.leaderBytesPerAgent, BYTES_PER_AGENT_LIMIT);
      add(`orchestrator's peak RSS per agent ≤ ${BYTES_PER_AGENT_LIMIT} bytes`, r.orchestratorBytesPerAgent, BYTES_PER_AGENT_LIMIT);
    }
  }
  return out;
}

export function formatTable(rows: BenchRow[]): string {
  const extraKeys = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const head = ['scenario', 'mechanism', 'N', 'procs', 'rounds', 'msgs', 't_eq ms', 'round ms', 'floor ms', 'ratio', 'ratio min–max', 'ratio p50', 'stock floor ms', 'ratio stock', 'shared floor ms', 'ratio shared', 'ratio shared min–max', 'floor= ms', 'ratio=', 'cold ms', 'cold ratio', 'cpu/rd', 'floor cpu/rd', 'cpu ratio', 'cpu ratio min–max', 'stock cpu/rd', 'shared cpu/rd', 'cpu ratio shared', 'cpu ratio shared min–max', 'floor= cpu/rd', 'all cpu/rd', 'all cpu ratio', 'all cpu ratio shared', 'leader cpu ms', 'in-proc ms', 'ref ms', '=in-proc', '=ref', 'mem MiB', 'join ms', 'join/s', 'resent', 'spurious', 'leader B/agent', 'orch B/agent', ...extraKeys];
  // a range over the repeats (none for one)
  const range = (r: BenchRow, min: number, max: number) => (r.repeats > 1 ? `${min}–${max}` : '');
  const body = rows.map((r) => [r.scenario, r.mechanism, r.users, r.processes, r.rounds, r.messages, r.timeToEquilibriumMs, r.frameworkRoundMs, r.floorRoundMs, r.ratio, range(r, r.ratioMin, r.ratioMax), r.ratioP50, r.floorStockRoundMs, r.ratioStock, r.floorSharedRoundMs, r.ratioShared, range(r, r.ratioSharedMin, r.ratioSharedMax), r.floorMatchedMs, r.ratioMatched, r.coldRoundMs ?? '', r.coldRatio ?? '', r.cpuPerRoundMs, r.floorCpuPerRoundMs, r.cpuRatio, range(r, r.cpuRatioMin, r.cpuRatioMax), r.floorStockCpuPerRoundMs, r.floorSharedCpuPerRoundMs, r.cpuRatioShared, range(r, r.cpuRatioSharedMin, r.cpuRatioSharedMax), r.floorMatchedCpuPerRoundMs, r.cpuAllPerRoundMs, r.cpuRatioAll, r.cpuRatioSharedAll, r.leaderCpuMs, r.inProcessMs, r.referenceMs, r.equalsInProcess ? 'yes' : 'NO', r.equalsReference ? 'yes' : 'NO', r.peakMemoryMiB, r.joinMaxMs, r.joinPerSec, r.resent, r.spuriousResent, r.leaderBytesPerAgent ?? '', r.orchestratorBytesPerAgent ?? '', ...extraKeys.map((k) => r.extra?.[k] ?? '')].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

/** `signal` (Ctrl-C, SIGTERM) stops the run or floor under way, its processes and the private server; the bench then fails with exit code 130. */
export async function benchMain(ids: string[], o: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  const list = ids.length ? ids : catalog.all().filter((s) => !s.bench?.onlyWhenNamed).map((s) => s.id);
  for (const id of list) if (!catalog.get(id)) {
    process.stderr.write(`mecsim bench: unknown scenario "${id}"; known: ${catalog.ids().join(', ')}\n`);
    return 2;
  }
  let sizes: number[] | undefined;
  if (typeof o.sizes === 'string') {
    // refused here, before a server is started and earlier rows are measured for nothing
    try {
      sizes = countList('--sizes', o.sizes);
    } catch (e) {
      process.stderr.write(`mecsim bench: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const slots = o.slots as number | undefined; // checked by the CLI (an integer ≥ 1)
  const repeats = (o.repeat as number | undefined) ?? 1; // likewise
  const json = Boolean(o.json);
  const log = (s: string) => process.stderr.write(s + '\n');
  const nats = await acquireNats((o.nats as string | undefined) ?? process.env.NATS_URL, { maxPayloadBytes: 8 * 1024 * 1024 });
  const outDir = mkdtempSync(join(tmpdir(), 'mecsim-bench-'));
  const rows: BenchRow[] = [];
  try {
    log(`mecsim bench on ${nats.url}${nats.owned ? ' (private server)' : ''}; run folders in ${outDir}; the floor reads and sends through mecsim's client path, the stock-client floor is the second column`);
    for (const id of list) {
      const scenario = catalog.get(id)!;
      const plan = scenario.bench ?? {};
      for (const variant of (o.scale ? plan.scale : undefined) ?? plan.variants ?? [{}])
        for (const n of (variant.placement?.kind === 'process' ? variant.sizes : undefined) ?? sizes ?? variant.sizes ?? plan.sizes ?? [100, 1000]) rows.push(await benchOne(scenario, n, nats.url, outDir, log, variant, slots, repeats, signal, nats.owned ? nats.pid : undefined));
    }
  } finally {
    await nats.stop();
  }
  // claims that need measurements from several runs
  const claims: unknown[] = [];
  for (const ref of list) {
    const s = catalog.get(ref)!;
    const own = rows.filter((r) => r.scenario === s.id);
    const more = s.bench?.claims?.(own);
    if (own.length && more) claims.push(...more);
  }
  const targets = targetChecks(rows);
  if (json) process.stdout.write(JSON.stringify({ nats: nats.owned ? 'private' : 'external', floorClient: 'mecsim', secondFloorClient: 'stock', rows, claims, targets }, null, 2) + '\n');
  else {
    process.stdout.write(formatTable(rows) + '\n');
    for (const t of targets) process.stdout.write(formatTarget(t) + '\n');
    for (const c of claimsRows({ results: { claims } })) process.stdout.write(`claim: ${c.claim}: ${c.verdict === 'not-evaluable' ? 'not computed' : c.verdict} (${c.numbers})${c.note ? ` — ${c.note}` : ''}\n`);
    process.stdout.write('per slot (median over the slots benchmarked): rounds, msgs, t_eq, in-proc, ref; round ms: framework mean time per round (leader: publish → last reply) after the warm-up slot (the first of 2 or more); floor ms: raw NATS broadcast + N tiny replies through mecsim’s client path (its protocol reader handing payloads straight to subscribers, its one-buffer publish), same processes at the same niceness (the driver, playing the leader, a fresh process too), same round count, after as many warm-up rounds; ratio = round/floor (target ≤ 1.5 at N = 1000, 10,000 and 100,000); stock floor ms / ratio stock: the same floor through the NATS client as it comes; shared floor ms / ratio shared (and shared cpu/rd, cpu ratio shared): the floor with one broadcast subscription per process answering for each of its agents, as mecsim’s hosts take broadcasts (the server writes a broadcast once per process, not once per agent); with --repeat r: every figure is the median over r interleaved measurements (framework run, then its floors), ratio the median of the r ratios, ratio min–max their spread (ratio shared min–max and cpu ratio shared min–max: the same for the shared floor; a target line gives the range of a ratio over the repeats and says when some repeats fall on the other side of its limit); cold ms / cold ratio: the warm-up slot’s mean round and its ratio to the floor’s warm-up rounds; floor= / ratio=: the same floor moving mecsim’s mean message size on its subjects, in its batches (one broadcast subscription and one reply subject per process, a process’s replies to a broadcast back to back in messages of at most 16 KB); cpu/rd: CPU ms per round of the agent processes / of the floor’s processes (less sensitive to a busy machine than wall times) over the same rounds as round ms (with a warm-up slot: agents since their first request of slot 1, the floor after its warm-up rounds; a one-slot run: agents since ready, the floor over every round; each process, on either side, collects its heap once before its rounds), cpu ratio their quotient (target ≤ 1.5 at N = 1000 and 10,000; with --repeat r the median of the r quotients, cpu ratio min–max their spread); all cpu/rd, all cpu ratio, all cpu ratio shared: the same over every round, the warm-up slot’s included (agents since ready), the first slot being where V8 compiles the hot path; =in-proc: every slot’s equilibrium, in every repeat, is the in-process run’s of the same protocol (if not, the bench exits 1); =ref: every slot equals its reference (a mechanism may stop short of it, as gsrp-search on a profit with many local maxima: a note on stderr names the slots and why); join/s: N / the slowest join; resent: requests re-sent, spurious: those whose first reply came too (nothing was lost); leader/orch B/agent: peak RSS of the leader’s / the orchestrator’s process per agent' + '\n');
  }
  for (const r of rows.filter((r) => !r.equalsReference)) process.stderr.write(referenceNote(r) + '\n');
  const wrong = rows.filter((r) => !r.equalsInProcess);
  for (const r of wrong) process.stderr.write(`mecsim bench: ${r.scenario} ${r.mechanism} N=${r.users}: the distributed run's equilibrium is not the in-process run's of the same protocol (=in-proc NO): its figures measure a run that computed something else\n`);
  return wrong.length ? 1 : 0;
}

/** The stderr line for a row that did not equal its reference: its first three missed slots with their notes, and how many more. */
export function referenceNote(r: Pick<BenchRow, 'scenario' | 'mechanism' | 'users' | 'referenceMisses'>): string {
  const shown = r.referenceMisses.slice(0, 3).map((x) => `slot ${x.slot}: ${x.note}`);
  const more = r.referenceMisses.length > shown.length ? `; and ${r.referenceMisses.length - shown.length} more` : '';
  return `note: ${r.scenario} ${r.mechanism} N=${r.users} did not equal the reference (=ref NO) — ${shown.join('; ')}${more} (each run's summary.json has the slot's compare)`;
}

/** the slots whose compare is not ok, over every repeat (a slot missed in several repeats once), with the compare's note */
export function referenceMisses(reps: { summary: Record<string, any> }[]): { slot: number; note: string }[] {
  const bySlot = new Map<number, string>();
  for (const m of reps) for (const r of m.summary.perSlot) if (!r.compare.ok && !bySlot.has(r.slot)) bySlot.set(r.slot, String(r.compare.note ?? r.compare.against ?? 'no note'));
  return [...bySlot].sort((a, b) => a[0] - b[0]).map(([slot, note]) => ({ slot, note }));
}

/** each slot's equilibrium in the summary (read back from JSON) is the in-process outcome's, as JSON text (the summary's as written) */
function sameEquilibria(perSlot: { equilibrium: unknown }[], outcomes: SlotOutcome[]): boolean {
  return perSlot.length === outcomes.length && perSlot.every((r, t) => JSON.stringify(r.equilibrium) === JSON.stringify(outcomes[t].equilibrium));
}
