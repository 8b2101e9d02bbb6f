/**
 * A role's broadcasts for the followers of one host: one subscription to `bc.<role>` per host, each
 * message decoded and checked once, then handed to every hosted follower of that role, in the order
 * they joined.
 *
 * Why one and not one per agent: the agents packed in a worker share one NATS connection, so a
 * subscription per agent made the server write the same broadcast down that one socket once per
 * agent (2,500 copies a round at 10,000 users in 4 workers), and the worker read and parse each copy
 * and compare it with the last to decode it once. What an agent receives is unchanged: the same
 * envelope, checked the same way; a message that fails the envelope's checks is dropped and counted
 * once (it was one message), and every per-agent check (sender, kind, slot, the link model's draw)
 * is still each follower's own.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode } from '../bus/codec.ts';
import type { Counters } from '../bus/counters.ts';
import { subscribeData } from '../bus/fastparse.ts';
import type { FollowerRuntime } from './follower.ts';

export class BroadcastFanout {
  private readonly followers: FollowerRuntime[] = [];
  private sub?: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly run: string,
    private readonly counters: Counters,
    readonly subject: string,
    private readonly maxBytes: number,
  ) {}

  /** Adds a follower; the first one subscribes the host (before that follower says `ready`). */
  add(follower: FollowerRuntime): Subscription | undefined {
    this.followers.push(follower);
    if (this.sub) return undefined;
    this.sub = subscribeData(this.nc, this.subject, (data) => this.onMessage(data));
    return this.sub;
  }

  private onMessage(data: Uint8Array): void {
    const size = data.byteLength;
    this.counters.received('bcast', size);
    const dec = decode(data, this.run, this.maxBytes);
    if (!dec.ok) return this.counters.drop(dec.reason, this.subject, dec.from, dec.detail);
    const followers = this.followers;
    for (let i = 0; i < followers.length; i++) followers[i].onEnvelope(dec.env, size, this.subject);
  }
}
