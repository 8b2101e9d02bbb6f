/**
 * One distributed run: acquire a NATS server, spawn the agent processes, wait for every agent to
 * join, drive the slot clock (one `slot` request to the leader per slot; the leader runs the
 * mechanism's message rounds and answers with the outcome, trajectory and metrics), compare each
 * slot with the centralized reference, shut the agents down, and write `runs/<run-id>/`.
 *
 * The parts (orchestrator/run/): bus.ts (server and connection), joinBarrier.ts (join, welcome,
 * ready, alive), supervisor.ts (processes, restarts, heartbeats, replay, shutdown), slotClock.ts
 * (slot requests and answers), leaderState.ts (JetStream KV), resultsWriter.ts (the run folder);
 * plan.ts has the options and the worker plan, context.ts the state the parts share. The control
 * messages they exchange with the agent hosts are declared in bus/control.ts.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ControlChannel, ORCHESTRATOR } from '../bus/control.ts';
import { Counters } from '../bus/counters.ts';
import { subjects } from '../bus/subjects.ts';
import { catalog, moduleOf } from '../catalog/catalog.ts';
import { describeSlotOf, mechanismOf, partsOf, sortRoster } from '../scenarios/contract.ts';
import { NatsUnavailable } from './natsServer.ts';
import { RunBus } from './run/bus.ts';
import { LinkPlan } from './run/linkPlan.ts';
import { RunState, type Parts, type RunInfo } from './run/context.ts';
import { JoinBarrier } from './run/joinBarrier.ts';
import { LeaderStateStore } from './run/leaderState.ts';
import { checkProcessBudget, externalAgentCommands, newRunId, placementLabel, planWorkers, RunError, workerNice, type ExternalAgents, type RunOptions } from './run/plan.ts';
import { ResultsWriter } from './run/resultsWriter.ts';
import { SlotClock } from './run/slotClock.ts';
import { Supervisor } from './run/supervisor.ts';
import { RunIdClaim, RunIdInUse } from './runClaim.ts';
import { openRunLogs, type RunLogs } from './runLogs.ts';
import { markAbandonedIn, RunFolderBusy, RunLock } from './runLock.ts';
import { DiskError } from './results.ts';
import { joinTimeoutMs as defaultJoinTimeoutMs } from '../bus/timeouts.ts';
import { SCHEMA_VERSION, stampConfig } from '../scenarios/common/schema.ts';
import { PeakRss } from './peakRss.ts';
import { provenance } from './provenance.ts';

export * from './run/plan.ts';
export type { HostReport } from '../bus/control.ts';

export async function runScenario(opts: RunOptions): Promise<Record<string, unknown>> {
  const { scenario, cfg } = opts;
  // the orchestrator's peak memory from here on is this run's (a bench or a sweep runs many in one process)
  const peakRss = new PeakRss();
  peakRss.start();
  const seed = Number(cfg.seed ?? 0);
  const slots = Number(cfg.slots ?? 1);
  const mechanism = mechanismOf(scenario, cfg);
  const parts = partsOf(scenario, mechanism);
  const agents = parts.agents(cfg);
  const leaderId = parts.leaderId(cfg);
  // checked before anything starts: a bad link section is refused like a bad flag
  const link = LinkPlan.of(scenario, cfg, agents, leaderId);
  const external = opts.agents === 'external';
  // the processes to spawn, planned before anything starts: a plan that cannot fit in memory is refused here
  const groups = external ? [] : planWorkers(agents, leaderId, opts.placement, scenario.roles);
  if (!external) checkProcessBudget(groups.length, opts.placement);
  const planned = Supervisor.plan(groups, leaderId);
  const nice = workerNice();
  const runId = opts.runId ?? newRunId(scenario.id, seed);
  const dir = join(opts.outDir, runId);
  const startedAt = new Date().toISOString();
  // nothing is written into the folder before it is ours: a live run's folder is refused, a dead one's taken over
  const { lock, abandoned } = claimRunFolder(opts.outDir, dir, startedAt);
  const state = new RunState();
  const logs = openRunLogs(dir, { runId, verbose: opts.verbose, onError: (e) => state.fail(new RunError(e.message)) });
  const { log } = logs;
  const subj = subjects(runId);
  const roster = sortRoster(agents.filter((a) => a.id !== leaderId), scenario.roles);
  const info: RunInfo = { opts, scenario, parts, cfg, runId, dir, subj, log, counters: new Counters(log), agents, byId: new Map(agents.map((a) => [a.id, a])), leaderId, roster, external, link };
  // config.json as written, and its hash in the provenance
  const configFile = stampConfig(cfg);
  const prov = provenance(configFile);
  const results = new ResultsWriter(
    dir,
    {
      schemaVersion: SCHEMA_VERSION,
      status: 'running',
      runId,
      // every subject of this run starts with this (the run id's 8-character token, see bus/subjects.ts)
      subjects: subj.all,
      scenario: scenario.id,
      // an outside scenario's module, so `mecsim report` can draw its figures later
      scenarioSource: moduleOf(scenario.id) ? catalog.sourceOf(scenario.id) : undefined,
      mechanism,
      seed,
      slotsPlanned: slots,
      agents: { total: agents.length, followers: roster.length, leader: leaderId },
      placement: external ? 'external' : placementLabel(opts.placement),
      // niceness of the spawned follower processes (MECSIM_WORKER_NICE; the leader's is the orchestrator's)
      workerNice: external ? null : nice,
      strict: opts.strict === true,
      startedAt,
      host: hostname(),
      provenance: prov,
      // the link model's parameters (bus/link.ts); null: none, messages cross loopback as they are
      link: link ? link.describe() : null,
    },
    log,
    peakRss,
  );
  try {
    const opened = logs.failed();
    if (opened) throw opened;
    results.start(configFile);
  } catch (e) {
    logs.close();
    lock.release();
    throw new RunError(`cannot write the run folder ${dir}: ${(e as Error).message}`);
  }
  const { summary } = results;
  for (const name of abandoned) log.warn({ abandoned: name }, `run ${name} in ${opts.outDir} was abandoned: its orchestrator is gone; its summary now says so`);
  const bus = new RunBus(info, state);
  const store = new LeaderStateStore(runId, leaderId, log, info.counters);
  let supervisor: Supervisor | undefined;
  let claim: RunIdClaim | undefined;
  const onAbort = () => state.fail(new RunError('interrupted', 130));
  opts.signal?.addEventListener('abort', onAbort);
  // a signal that was aborted before the run started fires no event
  if (opts.signal?.aborted) onAbort();

  try {
    opts.onProgress?.({ phase: 'nats' });
    await bus.acquire(planned);
    summary.nats = bus.describe();
    await bus.connect();
    const nc = bus.nc;
    // the version of the server this run used, private or external, as it announced itself
    prov.natsServer = { version: nc.info?.version ?? null, owned: bus.owned };
    // before any agent starts: a second orchestrator with this run id on this server is refused
    claim = await RunIdClaim.claim(nc, runId, subj.owner).catch((e) => {
      throw e instanceof RunIdInUse ? new RunError(e.message, 2) : e;
    });
    const p: Parts = { info, state, nc, channel: new ControlChannel(nc, runId, info.counters, ORCHESTRATOR) };
    summary.stateStore = await store.open(nc, Boolean(opts.natsUrl));
    // the server's counters from here on (after the bucket's creation, which is not the run's traffic).
    // A round trip first: the server can answer the bucket's create request before it has added that
    // request to its message counters, and /varz read in between would count it as the run's (seen once
    // in CI: the server's count one message and ~280 bytes above ours).
    await nc.flush();
    const varzBefore = await bus.varz();

    // ---- join, then spawn (or, with external agents, say how to start them) ----
    const clock = new SlotClock(p);
    // the barrier asks the supervisor when an agent was spawned, and tells it when one rejoined
    const barrier = new JoinBarrier(p, { spawnedAt: (id) => supervisor!.spawnedAt(id), rejoined: (id) => supervisor!.rejoined(id) });
    supervisor = new Supervisor(p, { barrier, clock, store, natsUrl: bus.url, auth: bus.auth, nice, agentLog: logs.agentLog });
    barrier.subscribe();
    supervisor.subscribe();
    clock.subscribe();
    const joinTimeoutMs = opts.joinTimeoutMs ?? defaultJoinTimeoutMs({ agents: agents.length, processes: groups.length, external });
    summary.workers = planned.length;
    if (external) announceExternal(info, bus.url, joinTimeoutMs, summary);
    await supervisor.start(planned);
    if (!external) log.info({ workers: planned.length, agents: agents.length }, 'spawned agent processes');
    await barrier.wait(joinTimeoutMs);
    // spawned: ms from spawn to ready; external: ms from the agent's join request to ready
    const startToJoined = [...barrier.joined.values()];
    if (external) summary.workers = barrier.hosts.live.size;
    log.info({ agents: agents.length, hosts: supervisor.hostCount() }, 'all agents joined');

    // ---- slot clock ----
    const finalResults = await driveSlots(p, clock, store, results, logs);

    // ---- shutdown: every host answers with its counters, then exits ----
    opts.onProgress?.({ phase: 'shutdown' });
    state.finished = true;
    state.currentSlot = slots;
    const hosts = supervisor.hostCount();
    const byes = await supervisor.shutdownHosts(hosts);
    if (byes.byes < hosts) log.warn({ expected: hosts, byes: byes.byes }, 'some agent processes did not answer the shutdown');
    await supervisor.waitExit(5000);
    await nc.flush();
    const varzAfter = await bus.varz();
    throwIfDiskFailed(logs);
    results.complete({ results: finalResults, counters: info.counters, byes, hosts, restarts: state.restarts, startToJoined, varzBefore, varzAfter });
    await results.write(opts.report !== false);
    return summary;
  } catch (e) {
    let err = e instanceof RunError ? e : new RunError((e as Error).message, e instanceof NatsUnavailable ? 3 : 1);
    // Ctrl-C in a terminal reaches the agents and nats-server too: whatever failed first, it was an interruption
    if (opts.signal?.aborted && err.exitCode !== 130) err = new RunError(`interrupted (${err.message})`, 130);
    state.failure = err.message;
    state.finished = true;
    // external agents have no parent process to lose: tell the ones that joined to exit
    await supervisor?.abortExternal(err.message);
    results.fail(err.exitCode === 130 ? 'interrupted' : 'failed', err.message);
    log.error({ err: err.message }, 'run failed');
    // what the summary on disk says now: the CLI tells the user only what is true
    const summaryWritten = await results.writeFailure(opts.report !== false && !logs.failed());
    throw Object.assign(err, { runDir: dir, summaryWritten });
  } finally {
    state.finished = true;
    opts.signal?.removeEventListener('abort', onAbort);
    await supervisor?.stop();
    if (bus.isOpen()) await store.destroy();
    claim?.release();
    await bus.close();
    logs.close();
    // last: a run that dies before this leaves its lock, and is then known to be abandoned
    lock.release();
  }
}

/** Every slot in turn: asked of the leader, compared with the reference, recorded, its leader state kept; the reference's final results. */
async function driveSlots(p: Parts, clock: SlotClock, store: LeaderStateStore, results: ResultsWriter, logs: RunLogs): Promise<unknown> {
  const { scenario, cfg, opts, log } = p.info;
  const slots = Number(cfg.slots ?? 1);
  const reference = p.info.parts.createReference(cfg);
  const describeSlot = describeSlotOf(scenario, mechanismOf(scenario, cfg));
  for (let slot = 0; slot < slots; slot++) {
    p.state.currentSlot = slot;
    opts.onProgress?.({ phase: 'slot', slot, slots });
    const done = await p.state.race(clock.ask(slot));
    const ref = reference.slot(slot, done.outcome);
    results.addSlot(slot, done, ref);
    throwIfDiskFailed(logs);
    const missing = done.metrics.missingReplies;
    if (missing && opts.strict) throw new RunError(`--strict: slot ${slot} had ${missing} ${missing === 1 ? 'reply' : 'replies'} missing at round deadlines (the sender's last strategy was used instead); see ${join(p.info.dir, 'run.log')}`);
    await store.save(slot, done.snapshot);
    const line = describeSlot?.(done.outcome, ref);
    opts.onProgress?.({ phase: 'slot', slot: slot + 1, slots, line });
    log.info({ slot, rounds: done.metrics.rounds, timeToEquilibriumMs: done.metrics.timeToEquilibriumMs, ok: ref.compare.ok }, line ?? `slot ${slot} done`);
  }
  return reference.finish?.();
}

/**
 * The run folder, created and locked (run.lock) before anything is written into it. Earlier runs in
 * the same --out folder whose orchestrator died are marked abandoned on the way.
 */
function claimRunFolder(outDir: string, dir: string, startedAt: string): { lock: RunLock; abandoned: string[] } {
  try {
    mkdirSync(dir, { recursive: true });
    const abandoned = markAbandonedIn(outDir);
    return { lock: RunLock.claim(dir, startedAt), abandoned };
  } catch (e) {
    if (e instanceof RunFolderBusy) throw new RunError(`${e.message}; choose another --run-id or --out`, 2);
    throw new RunError(`cannot create the run folder: ${DiskError.from(dir, e).message}`);
  }
}

/** A disk error of the run's log files (full, read-only, the folder removed) ends the run, saying so. */
function throwIfDiskFailed(logs: RunLogs): void {
  const e = logs.failed();
  if (e) throw new RunError(e.message);
}

/** With external agents, the run says which to start and how (summary.json, the log, the progress callback). */
function announceExternal(info: RunInfo, natsUrl: string, joinTimeoutMs: number, summary: Record<string, unknown>): void {
  const ext: ExternalAgents = { runId: info.runId, natsUrl, joinTimeoutMs, ...externalAgentCommands(info.runId, natsUrl, info.agents, info.leaderId, info.scenario.roles, moduleOf(info.scenario.id)) };
  summary.external = { roles: ext.roles, commands: ext.commands };
  info.log.info(ext, 'waiting for external agents');
  info.opts.onProgress?.({ phase: 'external', ...ext });
}
