/**
 * The supervisor: starts the planned agent processes (followers at a lower priority), restarts one
 * that dies (up to `maxRestarts` times; a dead leader resumes from the state kept after the last
 * completed slot), takes a silent external host for dead and frees its agents for a replica, and
 * when restarted or replacement agents are back has the leader re-asked for the slot and the
 * followers' slot replayed. It also hears agents that cannot go on (`agent-failed`), and at the end
 * shuts the hosts down, collecting each one's `bye`, and stops whatever is left. With external agents
 * it says `heartbeat` on ctl.all every HEARTBEAT_MS while the run lasts: those hosts have no parent
 * process to lose, and exit when it has been silent too long (agents/watchdog.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Msg } from '@nats-io/transport-node';
import type { Bye, HostReport } from '../../bus/control.ts';
import type { CountersSnapshot } from '../../bus/counters.ts';
import { hostOfSubject } from '../../bus/subjects.ts';
import { tieringArgs } from '../../agents/tiering.ts';
import type { AgentSpec } from '../../scenarios/types.ts';
import { moduleOf } from '../../catalog/catalog.ts';
import { agentEntry } from '../agentEntry.ts';
import type { RunAuth } from '../permissions.ts';
import type { Parts } from './context.ts';
import { HEARTBEAT_MISSES, HEARTBEAT_MS, type BarrierHooks, type JoinBarrier } from './joinBarrier.ts';
import type { LeaderStateStore } from './leaderState.ts';
import { externalAgentCommands, indexSpec, natsAuthEnv, renice, RunError } from './plan.ts';
import type { SlotClock } from './slotClock.ts';

/** extra node flags for agent processes, e.g. MECSIM_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" */
const AGENT_NODE_ARGS = (process.env.MECSIM_AGENT_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
/** the largest `bye` or `agent-failed` accepted */
const MAX_REPORT_BYTES = 1 << 24;

export interface Worker {
  id: string;
  agents: AgentSpec[];
  child: ChildProcess;
  spawnedAt: number;
  exited: boolean;
}

export interface Byes {
  snapshots: CountersSnapshot[];
  byes: number;
  byeBytes: number;
  hosts: HostReport[];
}

export interface SupervisorDeps {
  barrier: JoinBarrier;
  clock: SlotClock;
  store: LeaderStateStore;
  natsUrl: string;
  auth: RunAuth | undefined;
  nice: number;
  /** agents.log: where the spawned processes' stderr goes */
  agentLog: { write(chunk: Uint8Array): unknown };
}

export class Supervisor implements BarrierHooks {
  readonly workers: Worker[] = [];
  private readonly workerOf = new Map<string, Worker>();
  private readonly restartCount = new Map<string, number>();
  /** followers that rejoined and whose replay the leader has not confirmed yet */
  private readonly unreplayed = new Set<string>();
  private entryArgs: string[] = [];
  private heartbeatTimer?: NodeJS.Timeout;
  /** the orchestrator's own heartbeat to external hosts */
  private beatTimer?: NodeJS.Timeout;
  /** loading the leader's state for a dead external leader */
  private checking = false;
  /** set while shutting down: the hosts' byes */
  private byes?: { got: Byes; expected: number; done: () => void; heard: Set<string> };

  constructor(
    private readonly p: Parts,
    private readonly d: SupervisorDeps,
  ) {}

  /** the agent processes this run spawns: the leader alone (host id `leader`), then followers (`w1`, `w2`, …) */
  static plan(groups: AgentSpec[][], leaderId: string): { id: string; agents: AgentSpec[] }[] {
    return groups.map((g, i) => ({ id: g[0].id === leaderId ? 'leader' : `w${i}`, agents: g }));
  }

  /** Listens for replay confirmations, failure reports and byes. */
  subscribe(): void {
    const { nc, info } = this.p;
    nc.subscribe(info.subj.orchReplayed, { callback: (err, m) => (err ? undefined : this.onReplayed(m)) });
    nc.subscribe(info.subj.orchFailedAll, { callback: (err, m) => (err ? undefined : this.onAgentFailed(m)) });
    nc.subscribe(info.subj.orchByeAll, { callback: (err, m) => (err ? undefined : this.onBye(m)) });
  }

  /** Starts every planned process (none with external agents). */
  async start(planned: { id: string; agents: AgentSpec[] }[]): Promise<void> {
    const file = moduleOf(this.p.info.scenario.id);
    this.entryArgs = planned.length ? await agentEntry(file) : [];
    // started through tsx (no bundle), the agent loads the scenario's module itself
    if (file && this.entryArgs[0] === '--import') this.entryArgs = [...this.entryArgs, '--scenario', file];
    for (const { id, agents } of planned) this.d.barrier.speakers.grant(id, agents.map((a) => a.id));
    for (const { id, agents } of planned) this.startWorker(id, agents);
    if (this.p.info.external) {
      this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), Math.min(1000, HEARTBEAT_MS));
      this.beatTimer = setInterval(() => this.beat(), HEARTBEAT_MS);
      this.beat();
    }
  }

  /**
   * Tells external hosts the orchestrator is alive, while the run lasts (from the join on: spares and
   * joining hosts hear it too). Not after the run is over: the shutdown or abort follows, and the
   * server's message counters are read then.
   */
  private beat(): void {
    const { nc, info, state, channel } = this.p;
    if (state.finished || nc.isClosed()) return;
    try {
      channel.send(info.subj.ctlAll, 'heartbeat', { everyMs: HEARTBEAT_MS });
    } catch {
      /* the connection is closing: the run is ending */
    }
  }

  spawnedAt(id: string): number | undefined {
    return this.workerOf.get(id)?.spawnedAt;
  }

  rejoined(id: string): void {
    const { barrier } = this.d;
    if (this.p.info.external) return this.onRejoined([this.p.info.byId.get(id)!]);
    const w = this.workerOf.get(id);
    if (w && !w.agents.some((a) => barrier.rejoining.has(a.id))) this.onRejoined(w.agents, w);
  }

  private startWorker(wid: string, group: AgentSpec[]): Worker {
    const { info, state } = this.p;
    const { opts, runId, leaderId, log } = info;
    const isLeader = group.some((a) => a.id === leaderId);
    const args = [...tieringArgs(group.length, isLeader, info.roster.length), ...AGENT_NODE_ARGS, ...this.entryArgs, '--run', runId, '--role', group[0].role, '--index', indexSpec(group), '--nats', this.d.natsUrl, '--host-id', wid];
    const cred = this.d.auth?.hosts[wid];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...natsAuthEnv(cred ?? (opts.natsUrl ? opts.natsAuth : undefined)) } });
    if (!isLeader) {
      const err = renice(child.pid, this.d.nice);
      if (err) log.warn({ worker: wid, nice: this.d.nice, err }, `could not lower the priority of ${wid}: it runs at the default`);
    }
    const w: Worker = { id: wid, agents: group, child, spawnedAt: performance.now(), exited: false };
    const at = this.workers.findIndex((x) => x.id === wid);
    if (at >= 0) this.workers[at] = w;
    else this.workers.push(w);
    for (const a of group) this.workerOf.set(a.id, w);
    child.stderr?.on('data', (d: Buffer) => this.d.agentLog.write(d));
    child.on('error', (e) => state.fail(new RunError(`cannot start agent process ${wid}: ${e.message}`)));
    child.on('exit', (code, signal) => this.onExit(w, code, signal));
    opts.onSpawn?.({ id: wid, pid: child.pid ?? -1, agents: group.map((a) => a.id), restart: this.restartCount.get(wid) ?? 0 });
    return w;
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const { info, state } = this.p;
    const { leaderId, log, dir } = info;
    const maxRestarts = info.opts.maxRestarts ?? 3;
    w.exited = true;
    if (state.finished) return;
    const group = w.agents;
    const wid = w.id;
    const names = group.length <= 3 ? group.map((a) => a.id).join(', ') : `${group[0].id} … ${group[group.length - 1].id} (${group.length} agents)`;
    const how = signal ? `on ${signal}` : `with code ${code}`;
    const n = this.restartCount.get(wid) ?? 0;
    if (n >= maxRestarts) return state.fail(new RunError(`agent process ${wid} [${names}] (pid ${w.child.pid}) exited ${how} during the run${maxRestarts ? ` after ${n} restarts` : ''}; see ${join(dir, 'agents.log')}`));
    this.restartCount.set(wid, n + 1);
    const isLeader = group.some((a) => a.id === leaderId);
    log.warn({ worker: wid, pid: w.child.pid, how, slot: state.currentSlot, restart: n + 1 }, `agent process ${wid} [${names}] exited ${how}; restarting it (${n + 1} of ${maxRestarts})`);
    state.restarts.push({ worker: wid, agents: group.length, leader: isLeader, slot: state.currentSlot, reason: `exited ${how}` });
    this.d.barrier.free(group.map((a) => a.id));
    void (async () => {
      if (isLeader) state.leaderResume = await this.d.store.load(state.currentSlot, this.d.natsUrl);
      this.startWorker(wid, group);
    })().catch((e) => state.fail(e));
  }

  /**
   * External hosts have no process to watch: one that misses HEARTBEAT_MISSES beats is taken for
   * dead, and its agents become free for a replica that joins (`mecsim agent … --join`).
   */
  private checkHeartbeats(): void {
    const { info, state } = this.p;
    const { barrier } = this.d;
    const hosts = barrier.hosts;
    if (state.finished || this.checking) return;
    const now = Date.now();
    for (const [key, seen] of hosts.lastSeen) {
      if (hosts.dead.has(key) || now - seen < HEARTBEAT_MS * HEARTBEAT_MISSES) continue;
      hosts.dead.add(key);
      hosts.live.delete(key);
      const ids = (hosts.agents.get(key) ?? []).filter((id) => barrier.welcomed.has(id));
      if (!ids.length) continue;
      const isLeader = ids.includes(info.leaderId);
      const reason = `no heartbeat for ${Math.round((now - seen) / 1000)} s`;
      state.restarts.push({ worker: key, agents: ids.length, leader: isLeader, slot: state.currentSlot, reason, ids, at: now });
      barrier.free(ids);
      const { commands } = externalAgentCommands(info.runId, this.d.natsUrl, ids.map((id) => info.byId.get(id)!), info.leaderId, info.scenario.roles, moduleOf(info.scenario.id));
      info.log.warn({ host: key, agents: ids.length, leader: isLeader }, `external agent host ${key} is silent (${reason}): waiting for a replacement; start: ${commands.join(' ; ')}`);
      if (isLeader) {
        this.checking = true;
        this.d.store
          .load(state.currentSlot, this.d.natsUrl)
          .then((st) => (state.leaderResume = st))
          .catch((e) => state.fail(e))
          .finally(() => (this.checking = false));
      }
    }
  }

  /** restarted (or replacement) agents are back: the leader re-asks for the slot; followers get their slot replayed */
  private onRejoined(group: AgentSpec[], w?: Worker): void {
    const { info, state } = this.p;
    const r = [...state.restarts].reverse().find((x) => (w ? x.worker === w.id : x.ids?.includes(group[0].id)));
    if (r) r.rejoinMs = Math.round(w ? performance.now() - w.spawnedAt : Date.now() - r.at!);
    info.log.warn({ worker: w?.id, agents: group.length, rejoinMs: r?.rejoinMs }, w ? `agent process ${w.id} rejoined` : `${group[0].id} rejoined (replacement)`);
    if (group.some((a) => a.id === info.leaderId)) {
      this.d.clock.reask();
      // followers that rejoined and whose replay the dead leader never confirmed: the new leader replays them
      if (this.unreplayed.size) this.askReplay([...this.unreplayed]);
      return;
    }
    for (const a of group) this.unreplayed.add(a.id);
    this.askReplay(group.map((a) => a.id));
  }

  /**
   * Rejoined followers wait, answering nothing, until the leader has replayed their slot. The leader
   * confirms each replay (`replayed`); one it never confirmed (it died first) is asked of the leader
   * that replaces it, or that follower would stall every round until its deadline.
   */
  private askReplay(ids: string[]): void {
    const { nc, info, state, channel } = this.p;
    if (nc.isClosed()) return;
    // the slot in progress: a leader restarted in it has not been asked for it yet and needs it to replay
    const slot = Math.max(state.currentSlot, 0);
    channel.send(info.subj.ctl(info.leaderId), 'resend', { ids, slot }, { slot });
  }

  /** an answer on one of the orchestrator's inboxes, counted; false for the server's "no responders" status */
  private counted(m: Msg): boolean {
    if (m.data.byteLength === 0 && m.headers?.code === 503) return false;
    this.p.info.counters.received('inbox', m.data.byteLength);
    return true;
  }

  private onReplayed(m: Msg): void {
    if (!this.counted(m)) return;
    const r = this.p.channel.readMsg(m, ['replayed'], 1 << 20, (kind, from) => this.d.barrier.speakers.check(kind, undefined, from));
    if (r) for (const id of r.body.ids ?? []) this.unreplayed.delete(id);
  }

  /** An agent that cannot go on (a restarted follower whose state was lost with the leader) says so. */
  private onAgentFailed(m: Msg): void {
    const { info, state, channel } = this.p;
    if (state.finished || !this.counted(m)) return;
    const host = hostOfSubject(m.subject, `${info.subj.orchFailedAll.slice(0, -1)}`);
    const r = channel.readMsg(m, ['agent-failed'], 1 << 20, (kind, from) => this.d.barrier.speakers.check(kind, host, from));
    if (r) state.fail(new RunError(`agent ${r.from} cannot go on: ${r.body.message.slice(0, 500)}`));
  }

  private onBye(m: Msg): void {
    const { info, channel } = this.p;
    const b = this.byes;
    if (!this.counted(m)) return;
    const host = hostOfSubject(m.subject, `${info.subj.orchByeAll.slice(0, -1)}`);
    const r = channel.readMsg(m, ['bye'], MAX_REPORT_BYTES, (kind, from) => this.d.barrier.speakers.check(kind, host, from));
    // (a subject naming no host has failed the sender check)
    if (!r || host === undefined) return;
    if (!b) return void channel.drop('stale', m.subject, r.from, 'bye while no shutdown was asked');
    // one report per host: a second (sent again, or forged) would count the host's messages twice
    if (b.heard.has(host)) return void channel.drop('duplicate', m.subject, r.from, `a second bye from host ${host}`);
    b.heard.add(host);
    const { counters, ...report } = r.body as Bye;
    b.got.byes++;
    b.got.byeBytes += m.data.byteLength;
    b.got.snapshots.push(counters);
    b.got.hosts.push(report);
    if (b.got.byes >= b.expected) b.done();
  }

  /** The number of hosts that answer the shutdown: spawned processes, or external hosts alive. */
  hostCount(): number {
    return this.p.info.external ? this.d.barrier.hosts.live.size : this.workers.length;
  }

  /** Tells every host to shut down and collects their byes (counters and costs) for up to 10 s. */
  async shutdownHosts(expected: number): Promise<Byes> {
    const { info, channel } = this.p;
    const got: Byes = { snapshots: [], byes: 0, byeBytes: 0, hosts: [] };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.byes = {
        got,
        expected,
        heard: new Set(),
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      if (expected <= 0) this.byes.done();
      channel.send(info.subj.ctlAll, 'shutdown', {});
    });
    this.byes = undefined;
    got.hosts.sort((a, b) => a.host.localeCompare(b.host, 'en', { numeric: true }));
    return got;
  }

  /** Tells external hosts the run is over (they have no parent process to lose). */
  async abortExternal(reason: string): Promise<void> {
    const { nc, info, channel } = this.p;
    if (!info.external || nc.isClosed()) return;
    try {
      channel.send(info.subj.ctlAll, 'abort', { reason: reason.slice(0, 200) });
      await nc.flush();
    } catch {
      /* the connection is gone: nothing to tell */
    }
  }

  waitExit(ms: number): Promise<void> {
    return waitExit(this.workers, ms);
  }

  /** Stops the heartbeat check and every process still running (SIGTERM, then SIGKILL). */
  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    for (const w of this.workers) if (!w.exited) w.child.kill('SIGTERM');
    await waitExit(this.workers, 3000);
    for (const w of this.workers) if (!w.exited) w.child.kill('SIGKILL');
    await waitExit(this.workers, 2000);
  }
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
