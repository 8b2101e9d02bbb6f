/**
 * The orchestrator's own peak memory (resident set) over one run. A bench or a sweep runs many runs
 * in one process, and the process's peak would otherwise carry an earlier, larger run's into a later
 * one: on Linux the peak is reset at a run's start (writing 5 to /proc/self/clear_refs, which resets
 * the figure getrusage reports as maxrss). Where that cannot be done the figure is the process's since
 * it started: never lower than the run's own.
 */
import { writeFileSync } from 'node:fs';

export class PeakRss {
  /** whether the figure is this run's own (the reset worked), not the process's since it started */
  private reset = false;

  /** From now on the peak is this run's. */
  start(): void {
    try {
      writeFileSync('/proc/self/clear_refs', '5');
      this.reset = true;
    } catch {
      this.reset = false; // not Linux, or /proc not writable: the process's peak, an upper bound
    }
  }

  /** The peak resident set in bytes since `start` (or since the process started, where it could not be reset). */
  bytes(): number {
    return process.resourceUsage().maxRSS * 1024;
  }

  /** what `bytes` covers, in words for the summary */
  get since(): 'run' | 'process' {
    return this.reset ? 'run' : 'process';
  }
}
