/**
 * The link model applied at a receiver: a message that arrives from the bus is held for its drawn
 * delay (a timer, never a blocking wait) or dropped when its draw says lost. One `LinkArrivals` per
 * directed link (sender → this receiver).
 *
 * Order: a link delivers in the order the bus did, as the TCP connection under NATS does: a message
 * whose draw is shorter than the one before it waits for it (head-of-line), so a mechanism never
 * sees its messages reordered by the model. A broadcast reaches each receiver at its own time: each
 * receiver has its own link to the sender and its own draw.
 *
 * Attempts: a retransmitted copy carries the same bytes as the first, so the receiver numbers the
 * copies of one (slot, round, kind) it has seen; the bus delivers one sender's messages in order, so
 * the number is the same in every placement. Each copy draws its own delay and loss.
 */
import { LinkModel, RtoEstimator, type DirectedLink, type LinkWelcome, type RttStats } from './link.ts';

interface Held {
  at: number;
  fn: () => void;
}

export class LinkArrivals {
  private slot = -1;
  private round = -1;
  private kind = '';
  private attempt = 0;
  /** messages held, in arrival order; `head` is the next to deliver */
  private readonly queue: Held[] = [];
  private head = 0;
  private timer?: NodeJS.Timeout;
  /**
   * Every message on this link arrives at once and none is lost (a zero-latency model): the receiver
   * then hands messages straight on, with no draw and no bookkeeping — exactly what `arrive` would do,
   * since nothing is ever held on such a link and its draws do not depend on the key.
   */
  readonly instant: boolean;

  constructor(
    readonly link: DirectedLink,
    /** a delivery that throws (its handler's own errors are caught there; this is the last resort) */
    private readonly onError?: (e: unknown) => void,
  ) {
    this.instant = link.instant;
  }

  /**
   * A message of (slot, round, kind) arrived: `deliver` runs after its drawn delay (at once when
   * that is 0 and nothing is held), or never if it is lost (returns false). `lossless`: a message
   * nothing would retransmit (a notification) is delayed, never lost.
   */
  arrive(slot: number, round: number, kind: string, lossless: boolean, deliver: () => void): boolean {
    if (slot === this.slot && round === this.round && kind === this.kind) this.attempt++;
    else {
      this.slot = slot;
      this.round = round;
      this.kind = kind;
      this.attempt = 1;
    }
    const d = this.link.draw({ slot, round, kind, attempt: this.attempt }, lossless);
    if (d.lost) return false;
    this.hold(d.delayMs, deliver);
    return true;
  }

  /** A message the model does not delay (control): it still waits for what this link holds. */
  after(deliver: () => void): void {
    this.hold(0, deliver);
  }

  /** how many messages are held now */
  get holding(): number {
    return this.queue.length - this.head;
  }

  /** Drops everything held (the runtime is closing). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }

  private hold(delayMs: number, deliver: () => void): void {
    if (delayMs <= 0 && this.holding === 0) return deliver();
    const now = performance.now();
    const last = this.holding ? this.queue[this.queue.length - 1].at : 0;
    this.queue.push({ at: Math.max(now + delayMs, last), fn: deliver });
    if (!this.timer) this.arm(now);
  }

  private arm(now: number): void {
    const next = this.queue[this.head];
    // Node's timers count whole milliseconds and may fire up to 1 ms early: `fire` checks the time
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.at - now));
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head].at <= now) {
      const h = this.queue[this.head++];
      try {
        h.fn();
      } catch (e) {
        // one delivery's failure must not stop the others held behind it
        this.onError?.(e);
      }
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else {
      if (this.head > 1024) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.arm(now);
    }
  }
}

/**
 * The arrivals of `to` from `from` under the run's link model (undefined without one). Roles and
 * factors come from the welcome; `onError` hears a delivery that threw.
 */
export function arrivalsFor(lw: LinkWelcome | undefined, from: { id: string; role: string; factor?: number }, to: { id: string; role: string; factor?: number }, onError?: (e: unknown) => void): LinkArrivals | undefined {
  if (!lw) return undefined;
  return new LinkArrivals(LinkModel.parse(lw.section).link(lw.seed, from, to), onError);
}

/**
 * The leader's side of the link model: each roster follower's arrivals, and, when the model may
 * lose messages, each one's retransmission timer estimator (RFC 6298 per follower, as per TCP connection), its first estimate
 * the modelled round trip to that follower (mean and mean deviation; 4096 draws per role, scaled
 * by the link's factor).
 */
export function leaderLink(lw: LinkWelcome, leader: { id: string; role: string }, roster: readonly { id: string; role: string }[], onError?: (e: unknown) => void): { arrivals: Map<string, LinkArrivals>; rto?: RtoEstimator[] } {
  const model = LinkModel.parse(lw.section);
  const me = { ...leader, factor: lw.factor };
  const arrivals = new Map<string, LinkArrivals>();
  const stats = new Map<string, RttStats>();
  const rto = roster.map((a, i) => {
    const factor = lw.rosterFactors?.[i] ?? 1;
    arrivals.set(a.id, new LinkArrivals(model.link(lw.seed, { id: a.id, role: a.role, factor }, me), onError));
    // a factor scales every delay of the link, so the round trip's mean and deviation scale with it
    let st = stats.get(a.role);
    if (!st) stats.set(a.role, (st = model.rtt(leader.role, a.role)));
    const f = factor * (lw.factor ?? 1);
    return new RtoEstimator({ meanMs: st.meanMs * f, devMs: st.devMs * f }, model.rtoMinMs);
  });
  // a model that loses nothing needs no timer to recover its losses (a process's faults are the fault timer's)
  return { arrivals, rto: model.lossy ? rto : undefined };
}
