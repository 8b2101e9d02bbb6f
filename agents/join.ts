/**
 * Joining a run: each hosted agent asks the orchestrator for its place (`join`, a request on the
 * host's own join subject), is welcomed, rejected or told to wait as a spare (`retry`), and says
 * `ready` once its subscriptions are live. A host of external agents also says `alive` on its join
 * subject, as the welcome asks, so the orchestrator can tell a dead host from a quiet one.
 */
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ORCHESTRATOR, type ControlChannel, type Welcome } from '../bus/control.ts';
import { subjects } from '../bus/subjects.ts';
import type { RoleName } from '../scenarios/types.ts';

/** join requests in flight per host */
export const JOIN_CONCURRENCY = 64;

/** the largest welcome accepted (a leader's welcome carries the roster) */
const MAX_WELCOME_BYTES = 64 * 1024 * 1024;

export class JoinRejected extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface JoinDeps {
  nc: NatsConnection;
  run: string;
  hostId: string;
  channel: ControlChannel;
  log: Logger;
  /** how long to keep trying to join (ms) */
  joinTimeoutMs: number;
  /** the host is closing: stop asking */
  closing: () => boolean;
  /** an answer came from the orchestrator (it is alive) */
  heard?: () => void;
}

/**
 * Flushes shared by the agents of one host. A flush (PING, answered by PONG once the server has
 * processed everything sent before it) proves that every subscription made before the PING is live;
 * so the agents that ask while a flush is out wait for the next one, which starts as soon as that
 * one is answered and covers all of them. One round trip for many agents instead of one each
 * (25,000 agents in a worker at N = 100,000 made 25,000 PINGs).
 */
export class SharedFlush {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private inFlight = false;

  constructor(private readonly nc: Pick<NatsConnection, 'flush'>) {}

  /** Resolves once a flush started after this call has been answered. */
  after(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight = true;
    let flushed: Promise<void>;
    try {
      flushed = this.nc.flush();
    } catch (e) {
      flushed = Promise.reject(e);
    }
    flushed
      .then(
        () => batch.forEach((w) => w.resolve()),
        (e) => batch.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        this.inFlight = false;
        this.next();
      });
  }
}

export class Joiner {
  private readonly subject: string;
  private heartbeat?: NodeJS.Timeout;
  private readonly flushes: SharedFlush;

  constructor(private readonly d: JoinDeps) {
    this.subject = subjects(d.run).hostJoin(d.hostId);
    this.flushes = new SharedFlush(d.nc);
  }

  /**
   * Asks until welcomed (undefined: the host closed meanwhile). A retried request carries the same
   * `nonce`, so the orchestrator answers a repeat with the same welcome.
   */
  async join(role: RoleName, index: number, seq: number): Promise<Welcome | undefined> {
    const { nc, channel, log, hostId } = this.d;
    const deadline = Date.now() + this.d.joinTimeoutMs;
    const body = { role, index, pid: process.pid, host: hostname(), worker: hostId, nonce: `${hostname()}:${process.pid}:${hostId}:${seq}` };
    const data = channel.encode('join', body, { from: `${role}-${index < 0 ? 'new' : index}` });
    let spareSaid = false;
    for (let attempt = 0; ; attempt++) {
      if (this.d.closing()) return undefined; // the run ended (or was aborted) while this agent waited as a spare
      try {
        channel.counted(this.subject, 'join', data.byteLength);
        const reply = await nc.request(this.subject, data, { timeout: 10_000 });
        const r = channel.readMsg(reply, ['welcome', 'reject', 'retry'], MAX_WELCOME_BYTES, (kind, from) => (from === ORCHESTRATOR ? undefined : `${kind} from ${from}`));
        if (!r) throw new Error('bad join reply (dropped)');
        this.d.heard?.();
        if (r.kind === 'reject') throw new JoinRejected(r.body.reason);
        if (r.kind === 'retry') {
          if (!spareSaid) log.info({ role, reason: r.body.reason }, 'waiting as a spare: this run has no free slot of this role yet');
          spareSaid = true;
          throw new Error(`the run has no free ${role} slot`);
        }
        return r.body;
      } catch (e) {
        if (this.d.closing()) return undefined;
        if (e instanceof JoinRejected || Date.now() > deadline) throw new Error(`${role} ${index}: join failed: ${(e as Error).message}`);
        await sleep(Math.min(1000, 100 * (attempt + 1)));
      }
    }
  }

  /** The agent's subscriptions are live at the server: say so. */
  async ready(id: string): Promise<void> {
    await this.flushes.after(); // subscriptions are live at the server before we say we are ready
    this.d.channel.send(this.subject, 'ready', { id }, { from: id });
  }

  /**
   * The orchestrator has no child process to watch: a host that stops saying `alive` is taken for
   * dead, and its agents are given to a replica that joins. Started once per host.
   */
  startHeartbeat(ms: number, from: string): void {
    if (this.heartbeat) return;
    const body = { host: hostname(), pid: process.pid, worker: this.d.hostId };
    this.heartbeat = setInterval(() => {
      if (this.d.closing() || this.d.nc.isClosed()) return;
      this.d.channel.send(this.subject, 'alive', body, { from });
    }, ms);
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
  }
}
