/**
 * Ctrl-C and SIGTERM for a command that runs simulations (`run`, `sweep`, `bench`). The first
 * signal aborts `signal`: the run stops its agents, marks its summary interrupted and stops its
 * server. A second signal, or a shutdown that takes longer than `graceMs`, ends the process at once
 * with exit code 130. Nothing is left behind either way, because nothing depends on this process
 * running code at its death: spawned agents exit when their IPC channel closes (agents/main.ts), and
 * the private nats-server's watchdog stops the server and removes its folder when its pipe closes
 * (natsServer.ts). A summary still at `running` then is shown as `abandoned` (runLock.ts).
 */

export interface InterruptOptions {
  signals?: NodeJS.Signals[];
  /** how long the first signal's orderly shutdown may take before the process exits regardless */
  graceMs?: number;
  /** how to end the process (tests replace it) */
  exit?: (code: number) => void;
  /** where the notices go */
  say?: (line: string) => void;
}

export class Interrupt {
  private readonly ac = new AbortController();
  private readonly signals: NodeJS.Signals[];
  private readonly graceMs: number;
  private readonly exit: (code: number) => void;
  private readonly say: (line: string) => void;
  /** signals received so far */
  private received = 0;
  private graceTimer?: NodeJS.Timeout;
  private readonly handler = (sig: NodeJS.Signals) => this.onSignal(sig);

  constructor(o: InterruptOptions = {}) {
    this.signals = o.signals ?? ['SIGINT', 'SIGTERM'];
    this.graceMs = o.graceMs ?? 30_000;
    this.exit = o.exit ?? ((code) => process.exit(code));
    this.say = o.say ?? ((line) => void process.stderr.write(line + '\n'));
  }

  /** aborted on the first signal */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  install(): this {
    for (const sig of this.signals) process.on(sig, this.handler);
    return this;
  }

  /**
   * The command is done. Uninterrupted, the handlers go. Interrupted, they stay: the process is on its
   * way out (exit 130), and a second signal in that last stretch still means "exit at once with 130",
   * not the default action, which would end it by the signal instead of with its exit code.
   */
  dispose(): void {
    clearTimeout(this.graceTimer);
    if (this.received > 0) return;
    for (const sig of this.signals) process.off(sig, this.handler);
  }

  private onSignal(sig: NodeJS.Signals): void {
    this.received++;
    if (this.received > 1) return this.exitNow(`${sig} again`);
    this.say(`mecsim: ${sig}: interrupted, stopping the run (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to stop at once)`);
    this.ac.abort();
    this.graceTimer = setTimeout(() => this.exitNow(`the run did not stop within ${Math.round(this.graceMs / 1000)} s`), this.graceMs);
    this.graceTimer.unref();
  }

  private exitNow(why: string): void {
    clearTimeout(this.graceTimer);
    this.say(`mecsim: ${why}: exiting now (the agents and a private NATS server stop with this process)`);
    this.exit(130);
  }
}
