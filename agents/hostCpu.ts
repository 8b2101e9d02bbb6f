/**
 * A host's CPU time, read at two marks: when its agents were ready, and when they started the run's
 * second slot (slot 1).
 *
 * Why the second mark: a process's first slot pays most of what later slots do not — V8 compiles
 * the hot path (in a price-search run at N = 1000, `perf` put over a quarter of a packed worker's
 * samples in the optimizing compiler during the first slots). It goes on compiling, less, for tens
 * of slots: functions that run once a round or once a slot (the NATS parser, the envelope decoder, a
 * user's draw) become hot only then (N = 1000, 40 slots: 13–15 % of a worker's and the leader's
 * samples over the last 16 slots; N = 10,000, 12 slots: about 4 % over the last 8).
 * The benchmark takes per-round times after a warm-up slot; with this mark it takes CPU per round
 * over the same rounds, and the floor's over its rounds after as many warm-up rounds.
 */
export interface HostCpuReport {
  /** since the process started */
  cpuMs: number;
  /** since its agents were ready */
  cpuSinceReadyMs: number;
  /** since an agent of this host started slot 1 (absent: none did) */
  cpuSinceSlot1Ms?: number;
}

/** A `process.cpuUsage()` reading (or difference) as milliseconds of CPU, user and system together. */
export function cpuMs(c: NodeJS.CpuUsage): number {
  return (c.user + c.system) / 1000;
}

export class HostCpu {
  private atReady: NodeJS.CpuUsage | undefined;
  private atSlot1: NodeJS.CpuUsage | undefined;

  ready(): void {
    this.atReady = process.cpuUsage();
  }

  /** An agent of this host starts `slot` (called per agent: only the first start of slot 1 or later reads the clock). */
  slotStarted(slot: number): void {
    if (slot >= 1 && this.atSlot1 === undefined) this.atSlot1 = process.cpuUsage();
  }

  report(): HostCpuReport {
    const total = process.cpuUsage();
    const out: HostCpuReport = { cpuMs: cpuMs(total), cpuSinceReadyMs: cpuMs(this.atReady ? process.cpuUsage(this.atReady) : total) };
    if (this.atSlot1) out.cpuSinceSlot1Ms = cpuMs(process.cpuUsage(this.atSlot1));
    return out;
  }
}
