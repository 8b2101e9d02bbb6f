/**
 * Message and byte counters per subject family and per message kind, and the drop ledger:
 * every dropped message is counted by reason, and logged once per (reason, sender, subject).
 */
import type { Logger } from 'pino';
import { FAMILIES, type Family } from './subjects.ts';
import type { DropReason } from './codec.ts';
import type { ChunkDropReason } from './chunks.ts';

export interface FamilyCount {
  msgs: number;
  bytes: number;
}

export type ExtraDropReason = 'link-lost' | 'link-echo' | 'stale' | 'unexpected-sender' | 'duplicate' | 'retransmit-echo' | 'forged-sender' | 'handler-error' | 'bad-body' | 'unknown-kind';
/** every reason a message is dropped: its envelope's (codec), its receiver's, and a chunked message's reassembly (chunks) */
export type AnyDropReason = DropReason | ExtraDropReason | ChunkDropReason;

export interface CountersSnapshot {
  out: Record<string, FamilyCount>;
  in: Record<string, FamilyCount>;
  outByKind: Record<string, FamilyCount>;
  drops: Record<string, number>;
  /** messages counted in `out` that went inside another's NATS message (a host's reply batch) */
  coalesced?: number;
}

/**
 * The live counts are instances of these classes, not object literals. A snapshot (structuredClone)
 * makes plain objects; had the live ones been plain too, the clone's would have taken the same hidden
 * classes and, holding other values, widened their field types, which threw away the optimized code
 * that counts (the leader's reply path: takeRows, received) at every slot's end (V8's
 * --trace-generalization and --trace-deopt).
 */
class Count implements FamilyCount {
  msgs = 0;
  bytes = 0;
}
/** counts by family, kind or reason: keys added as they are met */
class Ledger {}

function byFamily(): Record<Family, FamilyCount> {
  const counts = new Ledger() as Record<Family, FamilyCount>;
  for (const f of FAMILIES) counts[f] = new Count();
  return counts;
}

export class Counters {
  readonly out = byFamily();
  readonly in = byFamily();
  readonly outByKind = new Ledger() as Record<string, FamilyCount>;
  readonly drops = new Ledger() as Record<string, number>;
  /**
   * messages counted in `out` that went on the wire inside another's NATS message (bus/replyBatch.ts):
   * the NATS messages published are the messages counted less these
   */
  coalesced = 0;
  private readonly logged = new Set<string>();
  /** the last kind counted and its entry: a worker's replies are nearly all of one kind in a round */
  private lastKind = '';
  private lastKindCount: FamilyCount = new Count();

  constructor(private readonly log?: Logger) {}

  /** `msgs` messages of `kind`, `bytes` in all (more than one: a host's rows, bus/replyRows.ts) */
  sent(family: Family, kind: string, bytes: number, msgs = 1): void {
    const f = this.out[family];
    f.msgs += msgs;
    f.bytes += bytes;
    let k = this.lastKindCount;
    if (kind !== this.lastKind) {
      k = this.lastKindCount = this.outByKind[kind] ??= new Count();
      this.lastKind = kind;
    }
    k.msgs += msgs;
    k.bytes += bytes;
  }

  /** `msgs` messages (more than one: a host's rows taken together), `bytes` in all */
  received(family: Family, bytes: number, msgs = 1): void {
    const f = this.in[family];
    f.msgs += msgs;
    f.bytes += bytes;
  }

  drop(reason: AnyDropReason, subject: string, from: string | undefined, detail: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    const key = `${reason}|${from ?? '?'}|${subject}`;
    if (this.logged.has(key) || !this.log) return;
    if (this.logged.size < 10_000) this.logged.add(key);
    this.log.warn({ drop: reason, subject, from: from ?? null, detail }, `dropped message (${reason}) on ${subject}${from ? ` from ${from}` : ''}: ${detail}`);
  }

  totalDrops(): number {
    return Object.values(this.drops).reduce((a, b) => a + b, 0);
  }

  snapshot(): CountersSnapshot {
    return structuredClone({ out: this.out, in: this.in, outByKind: this.outByKind, drops: this.drops, coalesced: this.coalesced });
  }
}

/** Adds snapshots (e.g. every worker's) into one. */
export function sumSnapshots(snaps: CountersSnapshot[]): CountersSnapshot {
  const total: CountersSnapshot = { out: {}, in: {}, outByKind: {}, drops: {}, coalesced: 0 };
  const add = (dst: Record<string, FamilyCount>, src: Record<string, FamilyCount>) => {
    for (const [k, v] of Object.entries(src)) {
      const d = (dst[k] ??= { msgs: 0, bytes: 0 });
      d.msgs += v.msgs;
      d.bytes += v.bytes;
    }
  };
  for (const s of snaps) {
    add(total.out, s.out);
    add(total.in, s.in);
    add(total.outByKind, s.outByKind);
    for (const [k, v] of Object.entries(s.drops)) total.drops[k] = (total.drops[k] ?? 0) + v;
    total.coalesced! += typeof s.coalesced === 'number' ? s.coalesced : 0;
  }
  return total;
}
