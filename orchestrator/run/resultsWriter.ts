/**
 * The run's folder: config.json and summary.json at the start (status `running`), one record per
 * slot as the slots complete, and at the end summary.json (complete, failed or interrupted),
 * metrics.json, slots.csv, trajectory.csv and report.html.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SlotDone } from '../../bus/control.ts';
import { sumSnapshots, type Counters } from '../../bus/counters.ts';
import type { JsonObject, ReferenceSlot } from '../../scenarios/types.ts';
import type { Varz } from '../natsServer.ts';
import { latencyStats, scalars, toCsv, writeAtomic, writeJsonAtomic, writeSummary } from '../results.ts';
import type { Restart } from './context.ts';
import type { SlotRecord } from './plan.ts';
import type { Byes } from './supervisor.ts';
import type { PeakRss } from '../peakRss.ts';
import { jsonCopy } from '../jsonText.ts';

type Row = Record<string, number | string | boolean | null>;

export class ResultsWriter {
  readonly slots: SlotRecord[] = [];
  readonly trajectory: Row[] = [];
  /** config.json as written */
  private config: JsonObject = {};

  constructor(
    private readonly dir: string,
    readonly summary: Record<string, unknown>,
    private readonly log: Logger,
    private readonly peakRss: PeakRss,
  ) {}

  /** config.json, and summary.json saying `running` */
  start(cfg: JsonObject): void {
    this.config = cfg;
    writeJsonAtomic(join(this.dir, 'config.json'), cfg);
    writeJsonAtomic(join(this.dir, 'summary.json'), this.summary);
  }

  /** A completed slot, compared with the reference. */
  addSlot(slot: number, done: SlotDone, ref: ReferenceSlot): SlotRecord {
    const rec: SlotRecord = {
      slot,
      equilibrium: done.outcome.equilibrium,
      converged: done.outcome.converged,
      notes: done.outcome.notes,
      extra: done.outcome.extra,
      ...ref,
      metrics: { ...done.metrics, roundLatency: latencyStats(done.metrics.roundLatencyMs) },
    };
    this.slots.push(rec);
    for (const row of done.trajectory) this.trajectory.push(row); // no spread: a slot can have 100,000 rounds
    return rec;
  }

  /** The summary of a run that completed: outcomes, metrics, counters (ours, the hosts', the server's), processes. */
  complete(m: { results: unknown; counters: Counters; byes: Byes; hosts: number; restarts: Restart[]; startToJoined: number[]; varzBefore: Varz | undefined; varzAfter: Varz | undefined }): void {
    const { summary, slots } = this;
    const ours = sumSnapshots([m.counters.snapshot(), ...m.byes.snapshots]);
    // the hosts' `bye` answers carry their counters, so they are added here
    // NATS messages: a host's reply batch is one, however many envelopes (counted in `out`) it holds
    const ourPublished = Object.values(ours.out).reduce((s, f) => s + f.msgs, 0) - (ours.coalesced ?? 0) + m.byes.byes;
    const ourBytes = Object.values(ours.out).reduce((s, f) => s + f.bytes, 0) + m.byes.byeBytes;
    const allLatencies = slots.flatMap((r) => r.metrics.roundLatencyMs);
    const agentsRss = sum(m.byes.hosts.map((h) => h.maxRssBytes));
    const ownRss = this.peakRss.bytes();
    summary.status = 'complete';
    summary.finishedAt = new Date().toISOString();
    summary.ok = slots.every((r) => r.compare.ok);
    summary.perSlot = slots.map(stripLatencies);
    if (slots.length === 1) {
      const r = slots[0];
      Object.assign(summary, { equilibrium: r.equilibrium, reference: r.reference, baselines: r.baselines, compare: r.compare, metrics: stripLatencies(r).metrics });
    }
    if (m.results) summary.results = m.results;
    summary.runMetrics = {
      slots: slots.length,
      rounds: sum(slots.map((r) => r.metrics.rounds)),
      messages: sum(slots.map((r) => r.metrics.messages)),
      bytes: sum(slots.map((r) => r.metrics.bytes)),
      timeToEquilibriumMs: latencyStats(slots.map((r) => r.metrics.timeToEquilibriumMs)),
      roundLatencyMs: latencyStats(allLatencies),
      agentStartToJoinedMs: latencyStats(m.startToJoined),
      resent: sum(slots.map((r) => r.metrics.resent ?? 0)),
      // with a link model: its retransmissions (RTO from the modelled round trip), apart from `resent`
      ...(this.summary.link ? { linkRetransmissions: sum(slots.map((r) => r.metrics.linkRetransmissions ?? 0)) } : {}),
      missingReplies: sum(slots.map((r) => r.metrics.missingReplies ?? 0)),
      restarts: m.restarts,
      workers: m.hosts,
      counters: { ours: { published: ourPublished, bytes: ourBytes, byFamily: ours.out, byKind: ours.outByKind }, server: serverDelta(m.varzBefore, m.varzAfter) },
      drops: ours.drops,
      processes: {
        hosts: m.byes.hosts,
        cpuSinceReadyMs: Math.round(sum(m.byes.hosts.map((h) => h.cpuSinceReadyMs))),
        // every host's CPU since its agents started slot 1 (null: a host did not, or did not say)
        cpuSinceSlot1Ms: m.byes.hosts.every((h) => typeof h.cpuSinceSlot1Ms === 'number') ? Math.round(sum(m.byes.hosts.map((h) => h.cpuSinceSlot1Ms!))) : null,
        peakRssBytesSum: agentsRss,
        // taken again once every result file is written (see `write`)
        orchestratorPeakRssBytes: ownRss,
        orchestratorPeakRssOf: this.peakRss.since,
        natsServerRssBytes: m.varzAfter?.mem ?? null,
        // every process of the run: agent hosts' peaks + the orchestrator's peak + the server's memory at the end
        peakRssBytesTotal: agentsRss + ownRss + (m.varzAfter?.mem ?? 0),
      },
    };
    summary.faults = faultsOf(summary.runMetrics as Record<string, unknown>);
  }

  /** The summary of a run that ended early. */
  fail(status: 'failed' | 'interrupted', message: string): void {
    this.summary.status = status;
    this.summary.error = message;
    this.summary.finishedAt = new Date().toISOString();
    this.summary.perSlot = this.slots.map(stripLatencies);
  }

  /**
   * Every output file (summary.json last), and report.html unless turned off. The orchestrator's
   * peak memory is taken again after all of them, since writing the results and drawing the report
   * can take it over what the run needed (at 100,000 agents the summary is about 60 MB of JSON). If
   * it rose, summary.json is written again with it. (It is written before the report too, so that a
   * run killed while its report is drawn still says it completed.) That write goes in 64 KB pieces
   * (orchestrator/jsonText.ts) and adds nothing of note; report.html does not show the figure, so it
   * stays what `mecsim report` draws from the final summary.
   */
  async write(report: boolean): Promise<void> {
    writeOutputs(this.dir, this.summary, this.slots, this.trajectory);
    if (report) await this.writeReport();
    const processes = (this.summary.runMetrics as { processes?: { orchestratorPeakRssBytes: number; peakRssBytesTotal: number } } | undefined)?.processes;
    const peak = this.peakRss.bytes();
    if (!processes || peak <= processes.orchestratorPeakRssBytes) return;
    processes.peakRssBytesTotal += peak - processes.orchestratorPeakRssBytes;
    processes.orchestratorPeakRssBytes = peak;
    writeJsonAtomic(join(this.dir, 'summary.json'), this.summary);
  }

  /**
   * report.html at the end of every run, drawn from a copy of the summary as JSON.parse would read it
   * back from its file, and from the configuration as it is (its table reads it as read back, see
   * report.ts's flattenForTable); a figure that cannot be drawn never fails the run.
   */
  private async writeReport(): Promise<void> {
    try {
      const { writeReport } = await import('../report.ts');
      await writeReport(this.dir, { summary: jsonCopy(this.summary), config: this.config });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'report.html could not be written; run `mecsim report` on the folder to retry');
    }
  }

  /**
   * A failed or interrupted run's files: summary.json first (on a full disk, in place over the one
   * already there), then every other file that can still be written. Never throws; says whether the
   * summary on disk now tells how the run ended.
   */
  async writeFailure(report: boolean): Promise<boolean> {
    let written = false;
    try {
      writeSummary(join(this.dir, 'summary.json'), this.summary);
      written = true;
      writeOutputs(this.dir, this.summary, this.slots, this.trajectory);
      if (report) await this.writeReport();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, written ? 'some result files could not be written' : 'summary.json could not be written');
    }
    return written;
  }
}


/**
 * What went wrong on the way to the outcome, even when the outcome equals the reference: replies
 * missing at a round's deadline (their senders' last strategy was used), requests re-sent, agent
 * processes restarted, messages dropped. `clean` only when there were none of the first three.
 */
export interface Faults {
  missingReplies: number;
  resent: number;
  restarts: number;
  /** messages dropped, the link model's losses aside */
  drops: number;
  clean: boolean;
  /**
   * With a link model: its retransmissions, the messages it lost, and the second copies of replies
   * its retransmissions brought (a reply that was only late: a spurious retransmission). None makes
   * a run unclean: they are the model's, and none is in `drops`.
   */
  linkRetransmissions?: number;
  linkLost?: number;
  linkEchoes?: number;
}

export function faultsOf(rm: Record<string, unknown>): Faults {
  const missingReplies = Number(rm.missingReplies ?? 0);
  const resent = Number(rm.resent ?? 0);
  const restarts = Array.isArray(rm.restarts) ? rm.restarts.length : 0;
  const byReason = (rm.drops ?? {}) as Record<string, number>;
  const linkLost = byReason['link-lost'] ?? 0;
  const linkEchoes = byReason['link-echo'] ?? 0;
  const drops = sum(Object.values(byReason)) - linkLost - linkEchoes;
  const f: Faults = { missingReplies, resent, restarts, drops, clean: missingReplies === 0 && resent === 0 && restarts === 0 };
  if (rm.linkRetransmissions !== undefined) Object.assign(f, { linkRetransmissions: Number(rm.linkRetransmissions), linkLost, linkEchoes });
  return f;
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

function writeOutputs(dir: string, summary: Record<string, unknown>, slots: SlotRecord[], trajectory: Row[]): void {
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
