/**
 * The slot clock: one `slot` request to the leader per slot, answered on the orchestrator's slot
 * inbox with the outcome (`slot-done`) or the leader's failure (`slot-failed`). The request is sent
 * again every SLOT_REASK_MS (the leader answers a repeat without running the slot twice) and at once
 * when a restarted leader has rejoined (`reask`), so neither a lost message nor a leader crash stalls
 * the clock. Only the leader's answer for the slot asked counts: anything else is dropped and counted.
 *
 * An answer larger than the server's max_payload comes as chunk frames (bus/chunks.ts): they are put
 * back together, keyed by the leader (only the leader's host may publish on the slot inbox), and the
 * whole message is then read exactly as an answer that came in one piece.
 */
import type { Msg } from '@nats-io/transport-node';
import { isChunkFrame, Reassembler } from '../../bus/chunks.ts';
import { MAX_SLOT_ANSWER_BYTES, type Received, type SlotDone } from '../../bus/control.ts';
import type { Parts } from './context.ts';
import { RunError } from './plan.ts';

/** the orchestrator asks the leader again for a slot's answer this often (a lost answer is answered again) */
const SLOT_REASK_MS = 5000;
/**
 * chunked answers being put back together at once: the one asked for, a copy from a leader that died
 * meanwhile, and stray ones (an answer to an earlier slot, frames forged on an unguarded server)
 */
const MAX_PARTIAL_ANSWERS = 4;

interface Pending {
  slot: number;
  send: () => void;
  done: (e?: Error, answer?: SlotDone) => void;
}

export class SlotClock {
  private pending?: Pending;
  private readonly timeoutMs: number;
  /** chunked answers, keyed by the leader; a piece or message given up is a counted drop */
  private readonly pieces: Reassembler;

  constructor(private readonly p: Parts) {
    this.timeoutMs = p.info.opts.slotTimeoutMs ?? 600_000;
    const { counters, subj } = p.info;
    // a partial answer silent for as long as a slot may take will not be finished: the slot has failed by then
    const limits = { maxMessageBytes: MAX_SLOT_ANSWER_BYTES, maxBytes: MAX_SLOT_ANSWER_BYTES, maxPartials: MAX_PARTIAL_ANSWERS, expiryMs: this.timeoutMs };
    this.pieces = new Reassembler((reason, sender, detail) => counters.drop(reason, subj.orchSlots, sender, detail), limits);
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

  /** A restarted leader is back: what its predecessor left half-sent is forgotten, and it is asked now for the slot in progress. */
  reask(): void {
    this.pieces.clear(this.p.info.leaderId);
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
    // a frame: the whole answer once its last piece is in (the Reassembler copies each piece out of the message)
    const data = isChunkFrame(m.data) ? this.pieces.add(info.leaderId, m.data) : m.data;
    if (!data) return;
    // an unreadable answer is dropped and counted; the next re-ask gets the leader's copy again
    const r = channel.read(data, m.subject, ['slot-done', 'slot-failed'], MAX_SLOT_ANSWER_BYTES, (kind, from) => (from === info.leaderId ? undefined : `${kind} from ${from}: only the leader ${info.leaderId} answers a slot`));
    if (!r) return;
    const pending = this.pending;
    if (!pending) return;
    if (r.slot !== pending.slot || (r.kind === 'slot-done' && r.body.slot !== pending.slot)) return void channel.drop('stale', m.subject, r.from, `answer for slot ${r.slot} while waiting for ${pending.slot}`);
    if (r.kind === 'slot-failed') return pending.done(new RunError(`slot ${pending.slot}: the leader failed: ${(r as Received<'slot-failed'>).body.message}`));
    pending.done(undefined, r.body);
  }
}
