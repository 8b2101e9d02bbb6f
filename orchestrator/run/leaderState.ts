/**
 * The leader's state after each completed slot, kept in a JetStream KV bucket so a leader that dies
 * can be restarted from it (replicated on a cluster). Without JetStream, a dead leader that had state
 * ends the run with an error saying so.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Welcome } from '../../bus/control.ts';
import type { Counters } from '../../bus/counters.ts';
import type { JsonObject } from '../../scenarios/types.ts';
import { RunError } from './plan.ts';

export class LeaderStateStore {
  private kv?: KV;
  private kvError = '';
  readonly bucket: string;
  /** the last slot whose leader state is in the bucket (-1: none yet) */
  private keptSlot = -1;
  /** a slot had state that could not be kept */
  private lost = false;

  constructor(
    runId: string,
    private readonly leaderId: string,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    this.bucket = `mecsim-${runId}`;
  }

  /** Creates the bucket (3 replicas on an external server if it can, else 1); what summary.json says of it. */
  async open(nc: NatsConnection, external: boolean): Promise<Record<string, unknown>> {
    for (const replicas of external ? [3, 1] : [1]) {
      try {
        this.kv = await new Kvm(nc).create(this.bucket, { history: 1, replicas, timeout: 5000 } as never);
        return { kind: 'jetstream-kv', bucket: this.bucket, replicas };
      } catch (e) {
        this.kvError = (e as Error).message;
      }
    }
    this.log.warn({ err: this.kvError }, 'no JetStream KV on this server: a leader that dies after a slot with state cannot be resumed');
    return { kind: 'none', reason: this.kvError };
  }

  /** Keeps the leader's state after `slot` (a failure is logged; a later leader death then ends the run). */
  async save(slot: number, snapshot: JsonObject | undefined): Promise<void> {
    if (!this.kv) {
      if (snapshot) this.lost = true;
      return;
    }
    try {
      const payload = JSON.stringify({ slot, snapshot: snapshot ?? null });
      // a node of the cluster may be down and the bucket electing a new leader: retry for up to 20 s
      await retryFor(20_000, this.log, `saving the leader state after slot ${slot} to JetStream KV`, () => this.kv!.put('leader', payload));
      this.counters.sent('other', 'kv-put', Buffer.byteLength(payload));
      this.keptSlot = slot;
    } catch (e) {
      this.lost = true;
      this.log.warn({ err: (e as Error).message, slot }, 'could not save the leader state to JetStream KV');
    }
  }

  /** The state a restarted leader resumes from (undefined: a fresh leader is the same leader); a RunError when it cannot be had. */
  async load(currentSlot: number, url: string): Promise<Welcome['resume']> {
    const { leaderId, bucket } = this;
    if (this.keptSlot < 0 && !this.lost) return undefined; // no completed slot (or none with state)
    if (!this.kv) throw new RunError(`the leader ${leaderId} died after slot ${currentSlot - 1} and its state was not kept (no JetStream KV on ${url}: ${this.kvError}); cannot resume. Use a server with JetStream enabled (nats-server -js) to survive a leader crash`);
    if (this.lost) throw new RunError(`the leader ${leaderId} died and its state after the last completed slot could not be saved to JetStream KV; cannot resume`);
    // the bucket's stream may be electing a new leader (a node died too): keep asking for up to 30 s
    let e;
    try {
      e = await retryFor(30_000, this.log, 'reading the leader state from JetStream KV', () => this.kv!.get('leader'));
    } catch (err) {
      throw new RunError(`the leader ${leaderId} died and its saved state cannot be read from JetStream KV bucket ${bucket} (tried for 30 s): ${(err as Error).message}`);
    }
    if (!e || e.operation !== 'PUT') throw new RunError(`the leader ${leaderId} died and the cluster lost its saved state (KV bucket ${bucket} has no 'leader' entry); cannot resume`);
    const v = e.json<{ slot: number; snapshot: JsonObject | null }>();
    if (v.slot !== this.keptSlot) throw new RunError(`the leader ${leaderId} died and JetStream KV holds its state after slot ${v.slot}, not after the last completed slot ${this.keptSlot}; cannot resume`);
    return v.snapshot ? { slot: v.slot, snapshot: v.snapshot } : undefined;
  }

  async destroy(): Promise<void> {
    try {
      await this.kv?.destroy();
    } catch {
      /* no bucket */
    }
  }
}

/** `fn()`, tried again every 500 ms (each failure logged) until it succeeds or `ms` have passed (then its last error) */
export async function retryFor<T>(ms: number, log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
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
