/**
 * The slot clock: one `slot` request to the leader per slot, answered on the orchestrator's slot
 * inbox with the outcome (`slot-done`) or the leader's failure (`slot-failed`). The request is sent
 * again every SLOT_REASK_MS (the leader answers a repeat without running the slot twice) and at once
 * when a restarted leader has rejoined (`reask`), so neither a lost message nor a leader crash stalls
 * the clock. Only the leader's answer for the slot asked counts: anything else is dropped and counted.
 */
import type { Msg } from '@nats-io/transport-node';
import type { Received, SlotDone } from '../../bus/control.ts';
import type { Parts } from './context.ts';
import { RunError } from './plan.ts';

/** the orchestrator asks the leader again for a slot's answer this often (a lost answer is answered again) */
const SLOT_REASK_MS = 5000;
/** the largest slot answer accepted (a slot's trajectory can have 100,000 rounds) */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

interface Pending {
  slot: number;
  send: () => void;
  done: (e?: Error, answer?: SlotDone) => void;
}

export class SlotClock {
  private pending?: Pending;
  private readonly timeoutMs: number;

  constructor(private readonly p: Parts) {
    this.timeoutMs = p.info.opts.slotTimeoutMs ?? 600_000;
  }

  subscribe(): void {
    this.p.nc.subscribe(this.p.info.subj.orchSlots, { callback: (err, m) => (err ? undefined : this.onAnswer(m)) });
  }

  /** The leader's answer for `slot`: its outcome, or a RunError (the leader failed, or did not answer in time). */
  ask(slot: number): Promise<SlotDone> {
    const { info, state, channel, nc } = this.p;
    return new Promise<SlotDone>((resolve, reject) => {
      const data = channel.encode('slot', { slot }, { slot });
      const send = () => {
        if (state.finished || nc.isClosed()) return done(new RunError('the run ended'));
        channel.publish(info.subj.ctl(info.leaderId), 'slot', data);
      };
      const again = setInterval(send, SLOT_REASK_MS);
      const timer = setTimeout(() => done(new RunError(`slot ${slot}: no answer from the leader ${info.leaderId} within ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (e?: Error, answer?: SlotDone): void => {
        clearInterval(again);
        clearTimeout(timer);
        this.pending = undefined;
        if (e) reject(e);
        else resolve(answer!);
      };
      this.pending = { slot, send, done };
      send();
    });
  }

  /** A restarted leader is back: ask it now for the slot in progress. */
  reask(): void {
    this.pending?.send();
  }

  // decoded here, in the callback: a message's bytes may not outlive it
  private onAnswer(m: Msg): void {
    const { info, channel } = this.p;
    // between slots nothing is asked: a late copy of an answer already taken is not read
    if (!this.pending) return;
    // the server's "no responders" status (nobody was subscribed): not a message of the run
    if (m.data.byteLength === 0 && m.headers?.code === 503) return;
    info.counters.received('inbox', m.data.byteLength);
    // an unreadable answer is dropped and counted; the next re-ask gets the leader's copy again
    const r = channel.readMsg(m, ['slot-done', 'slot-failed'], MAX_ANSWER_BYTES, (kind, from) => (from === info.leaderId ? undefined : `${kind} from ${from}: only the leader ${info.leaderId} answers a slot`));
    if (!r) return;
    const pending = this.pending;
    if (!pending) return;
    if (r.slot !== pending.slot || (r.kind === 'slot-done' && r.body.slot !== pending.slot)) return void channel.drop('stale', m.subject, r.from, `answer for slot ${r.slot} while waiting for ${pending.slot}`);
    if (r.kind === 'slot-failed') return pending.done(new RunError(`slot ${pending.slot}: the leader failed: ${(r as Received<'slot-failed'>).body.message}`));
    pending.done(undefined, r.body);
  }
}
