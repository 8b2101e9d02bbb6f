/**
 * A host's replies on one reply subject, sent as one NATS message per task: the envelopes its agents
 * answer with while it handles one broadcast (or one direct request), back to back, each exactly the
 * bytes it would have been sent as alone.
 *
 * Why: the agents packed in a worker share one connection, and a broadcast is answered by all of a
 * role's agents there in one task. One message per reply made the server parse, route and write
 * 2,500 frames a round per worker at 10,000 users, and the leader's reader take each apart; on this
 * kind of machine the per-message cost of NATS, not the framework's, was most of a round.
 *
 * What the receiver checks is unchanged: it cuts the message into its envelopes (bus/fastpack.ts
 * valueEnd) and checks each as it checked a message alone — run, sender, role and host, slot and
 * round — and counts each as a message; the subject still names the host, which the server's
 * permissions pin. A message of one envelope is the old wire format, so an agent that does not batch
 * (a process of its own, a client in another language) is read the same way.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { copyBytes } from './bytes.ts';
import type { Counters } from './counters.ts';
import { publishFast, publishHead } from './fastpublish.ts';

/** a batch is sent once it would pass this many bytes (it stays one frame in the publish slab's range) */
export const BATCH_BYTES = 16 * 1024;

export interface ReplyBatchOptions {
  /** where `coalesced` is counted (the envelopes that went inside another's message) */
  counters?: Counters;
  /** the server's largest message (default: the connection's) */
  maxPayload?: number;
  /** told of a batch the client refused (the connection closed), with how many envelopes it held */
  lost?: (error: unknown, envelopes: number) => void;
}

export class ReplyBatch {
  private buf = new Uint8Array(4096);
  private used = 0;
  /** envelopes in the batch */
  private count = 0;
  private scheduled = false;
  private readonly head: Uint8Array | undefined;
  private readonly limit: number;

  constructor(
    private readonly nc: NatsConnection,
    readonly subject: string,
    private readonly o: ReplyBatchOptions = {},
  ) {
    this.head = publishHead(subject);
    this.limit = Math.min(BATCH_BYTES, o.maxPayload ?? nc.info?.max_payload ?? BATCH_BYTES);
  }

  /** Adds an envelope's bytes, the first `n` of `envelope` (copied at once: they may be the encoder's scratch buffer). */
  add(envelope: Uint8Array, n = envelope.length): void {
    if (this.used > 0 && this.used + n > this.limit) this.send();
    if (this.used + n > this.buf.length) this.grow(this.used + n);
    copyBytes(this.buf, this.used, envelope, n);
    this.used += n;
    this.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.onTick);
    }
  }

  /** Publishes what has been added, as one message. */
  send(): void {
    if (this.used === 0) return;
    const count = this.count;
    const data = this.buf.subarray(0, this.used);
    this.used = 0;
    this.count = 0;
    try {
      publishFast(this.nc, this.subject, data, this.head);
    } catch (e) {
      // the connection closed or is draining (the host is going): the client refuses the message, as
      // it would have refused each reply; the leader re-sends requests whose replies do not come. Not
      // thrown: from the end-of-task callback it would end the process.
      this.o.lost?.(e, count);
      return;
    }
    if (this.o.counters) this.o.counters.coalesced += count - 1;
  }

  private grow(need: number): void {
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
  }

  private readonly onTick = (): void => {
    this.scheduled = false;
    this.send();
  };
}

/** A host's batches, one per reply subject. */
export class ReplyBatches {
  private readonly bySubject = new Map<string, ReplyBatch>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: Omit<ReplyBatchOptions, 'maxPayload'> = {},
  ) {}

  for(subject: string): ReplyBatch {
    let b = this.bySubject.get(subject);
    if (!b) this.bySubject.set(subject, (b = new ReplyBatch(this.nc, subject, this.o)));
    return b;
  }
}
