/**
 * The run's NATS server and the orchestrator's connection: a private server (with one generated
 * user per process, confined to its subjects) or the external one given, connected with the run's
 * inbox prefix; a connection lost for good fails the run. `close` ends both.
 */
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../../bus/connection.ts';
import { ORCH } from '../../bus/subjects.ts';
import type { AgentSpec } from '../../scenarios/types.ts';
import { acquireNats, type NatsHandle, type Varz } from '../natsServer.ts';
import { runAuth, type RunAuth } from '../permissions.ts';
import type { RunInfo, RunState } from './context.ts';
import { RunError } from './plan.ts';

export class RunBus {
  private handle?: NatsHandle;
  private conn?: NatsConnection;
  /** the generated per-process users (a private server with spawned agents only) */
  auth?: RunAuth;

  constructor(
    private readonly info: RunInfo,
    private readonly state: RunState,
  ) {}

  get url(): string {
    return this.handle!.url;
  }

  get nc(): NatsConnection {
    return this.conn!;
  }

  get owned(): boolean {
    return this.handle!.owned;
  }

  /** Acquires the server: the external one given, or a private one with the plan's users. */
  async acquire(planned: { id: string; agents: AgentSpec[] }[]): Promise<void> {
    const { opts, runId, dir, log, leaderId, external } = this.info;
    // With a private server and spawned agents, every process gets its own user confined to its subjects.
    this.auth = opts.natsUrl || external ? undefined : runAuth(runId, leaderId, planned);
    const auth = this.auth;
    this.handle = await acquireNats(opts.natsUrl, { extraConfig: auth?.config, logFile: opts.natsUrl ? undefined : join(dir, 'nats-server.log'), jetstream: true });
    log.info({ nats: this.handle.url, owned: this.handle.owned, permissions: Boolean(auth) }, 'nats server');
    if (auth) opts.onNatsReady?.({ url: this.handle.url, hosts: auth.hosts });
  }

  /** Connects the orchestrator (with the run's inbox prefix); a connection lost for good fails the run. */
  async connect(): Promise<void> {
    const { opts, runId, log, subj } = this.info;
    const auth = this.auth;
    this.conn = await connectBus({ servers: this.handle!.url, name: `mecsim-orchestrator-${runId}`, inboxPrefix: subj.inbox(ORCH), ...(auth ? { user: auth.orchestrator.user, pass: auth.orchestrator.pass } : opts.natsUrl ? opts.natsAuth : {}) }, log);
    void this.conn.closed().then((err) => {
      if (!this.state.finished) this.state.fail(new RunError(`lost the NATS connection${err ? `: ${err.message}` : ''}`));
    });
  }

  /** what summary.json says of the server */
  describe(): Record<string, unknown> {
    return { url: this.handle!.url, owned: this.handle!.owned, permissions: this.auth ? 'per-role users' : 'none (external server: its own configuration applies)' };
  }

  isOpen(): boolean {
    return this.conn !== undefined && !this.conn.isClosed();
  }

  varz(): Promise<Varz | undefined> {
    return this.handle!.varz();
  }

  async close(): Promise<void> {
    try {
      await this.conn?.close();
    } catch {
      /* closed */
    }
    await this.handle?.stop();
  }
}
