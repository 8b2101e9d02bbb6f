/**
 * What each mechanism of `offload-energy` gives beyond the contract's parts: its sweepable keys and its
 * console line. The scenario reaches these through the table of its mechanisms, never by testing a name.
 */
import { ConfigError, type AgentSpec, type Mechanism, type ReferenceSlot, type SlotOutcome } from '../../types.ts';
import type { OffloadConfig } from '../config.ts';

export interface OffloadMechanism<C extends OffloadConfig> extends Mechanism<OffloadConfig> {
  id: C['mechanism'];
  /** the keys `--sweep` accepts besides N, for the error message */
  sweepKeys: string;
  /** `cfg` with `key` set to `value`; undefined for a key this mechanism does not sweep */
  sweepKey(cfg: C, key: string, value: number, check: SweepCheck): C | undefined;
  /** the console's line for a slot; undefined when the outcome is not one of this mechanism's */
  describe(d: SlotOutcome, r: ReferenceSlot): string | undefined;
}

/** throws the sweep's ConfigError unless `ok` */
export type SweepCheck = (ok: boolean, what: string) => void;

export function sweepCheck(key: string, value: number): SweepCheck {
  return (ok, what) => {
    if (!ok) throw new ConfigError('--sweep', `${key} must be ${what}, not ${value}`);
  };
}

/** every agent of a run: the mechanism's leader, then one `ue-i` per user */
export function leaderAndUes(leader: AgentSpec, cfg: OffloadConfig): AgentSpec[] {
  return [leader, ...cfg.users.map((_, i): AgentSpec => ({ id: `ue-${i}`, role: 'ue', index: i }))];
}
