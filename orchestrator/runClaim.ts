/**
 * One orchestrator per run id on a server. Two orchestrators started with the same `--run-id` on
 * one NATS server would share every subject, and each would take the other's messages for its own
 * (both runs then finish `complete` with mixed traffic). So before any agent starts, the
 * orchestrator claims the run id: it asks on the run's `owner` subject whether an orchestrator
 * already answers there, and refuses to start if one does; otherwise it answers there itself until
 * the run ends.
 *
 * Two orchestrators that start at the same moment can both find nobody answering. Each therefore
 * asks once more after subscribing: every claimant answers with its stamp, and the older claim
 * (earlier stamp, then the smaller nonce) keeps the run id while the younger refuses. An answer can
 * come too late to be counted (its process stalled), so a rival is also known by its own ask, which
 * carries its claim: every ask that reached our subscription before a flush after our second ask has
 * been read by then. The stamp is taken just before subscribing, in fractions of a millisecond, so
 * that a claimant that subscribed after another had checked is the younger of the two.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { scaledMs } from '../bus/timeouts.ts';

export interface Claimant {
  host: string;
  pid: number;
  /** ms since the epoch when this orchestrator claimed the run id */
  since: number;
  nonce: string;
}

export class RunIdInUse extends Error {
  constructor(
    readonly runId: string,
    readonly owner: Claimant,
  ) {
    super(`run id ${runId} is already in use on this NATS server by the orchestrator on ${owner.host} (pid ${owner.pid}, since ${new Date(owner.since).toISOString()}); choose another --run-id, or leave it out for a generated one`);
  }
}

/**
 * How long to wait for other claimants' answers: the first answer is awaited up to ASK_MS (loopback
 * answers in well under 1 ms, a cluster in a few), and the asking ends STALL_MS after the last one.
 * With nobody subscribed the server says so at once (no responders), so a free run id costs one
 * round trip, and the second ask (which always finds our own answer) about STALL_MS.
 */
const ASK_MS = 2000;
const STALL_MS = 150;

export class RunIdClaim {
  private sub?: Subscription;
  /** this claim; its stamp is set again just before it starts answering */
  me: Claimant;
  /** rivals known by their asks on our subscription while we claim (bounded: junk could ask too) */
  private askers?: Map<string, Claimant>;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
  ) {
    this.me = { host: hostname(), pid: process.pid, since: Date.now(), nonce: randomBytes(8).toString('hex') };
  }

  /** Claims `runId` (subject `ownerSubject`, e.g. `subjects(runId).owner`); throws RunIdInUse if another orchestrator holds it. */
  static async claim(nc: NatsConnection, runId: string, ownerSubject: string): Promise<RunIdClaim> {
    const c = new RunIdClaim(nc, ownerSubject);
    const before = await c.others(false);
    if (before.length) throw new RunIdInUse(runId, before[0]);
    c.me = { ...c.me, since: performance.timeOrigin + performance.now() };
    c.askers = new Map();
    c.answer();
    await nc.flush();
    // a claimant that started at the same moment, known by its answer or by its ask: the older claim wins
    const answered = await c.others(true);
    await nc.flush();
    const rivals = [...answered, ...c.askers.values()].filter((o) => older(o, c.me)).sort((a, b) => (older(a, b) ? -1 : 1));
    c.askers = undefined;
    if (rivals.length) {
      c.release();
      throw new RunIdInUse(runId, rivals[0]);
    }
    return c;
  }

  /** the other orchestrators that answer on the run's owner subject; `claiming`: the ask carries this claim (once it answers too) */
  private async others(claiming: boolean): Promise<Claimant[]> {
    const found: Claimant[] = [];
    try {
      // on a loaded machine a rival's answer can come later than STALL_MS after ours: the window stretches with the load
      const it = await this.nc.requestMany(this.subject, msgpackEncode(claiming ? { ask: this.me.nonce, claim: this.me } : { ask: this.me.nonce }), { strategy: 'stall', stall: scaledMs(STALL_MS), maxWait: scaledMs(ASK_MS) });
      for await (const m of it) {
        const c = asClaimant(m.data);
        if (c && c.nonce !== this.me.nonce) found.push(c);
      }
    } catch {
      /* no responders: nobody holds the run id */
    }
    return found.sort((a, b) => (older(a, b) ? -1 : 1));
  }

  private answer(): void {
    const reply = msgpackEncode(this.me);
    this.sub = this.nc.subscribe(this.subject, {
      callback: (err, m) => {
        if (err) return;
        if (m.reply) m.respond(reply);
        const rival = this.askers && this.askers.size < 64 ? askerOf(m.data) : undefined;
        if (rival && rival.nonce !== this.me.nonce) this.askers!.set(rival.nonce, rival);
      },
    });
  }

  release(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

function older(a: Claimant, b: Claimant): boolean {
  return a.since !== b.since ? a.since < b.since : a.nonce < b.nonce;
}

/** an answer on the owner subject, or undefined if it is not one (another process's bytes) */
function asClaimant(data: Uint8Array): Claimant | undefined {
  return claimantOf(decodeSmall(data));
}

/** the claim an ask on the owner subject carries, or undefined (an ask without one, or another process's bytes) */
function askerOf(data: Uint8Array): Claimant | undefined {
  const v = decodeSmall(data) as { claim?: unknown } | undefined;
  return typeof v === 'object' && v !== null ? claimantOf(v.claim) : undefined;
}

/** a message of at most 1 KB as msgpack, or undefined (empty, larger, or not msgpack) */
function decodeSmall(data: Uint8Array): unknown {
  if (!data.byteLength || data.byteLength > 1024) return undefined;
  try {
    return msgpackDecode(data);
  } catch {
    return undefined;
  }
}

function claimantOf(x: unknown): Claimant | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const v = x as Partial<Claimant>;
  if (typeof v.host === 'string' && typeof v.pid === 'number' && Number.isFinite(v.since) && typeof v.nonce === 'string') return { host: v.host.slice(0, 200), pid: v.pid, since: v.since as number, nonce: v.nonce.slice(0, 64) };
  return undefined;
}
