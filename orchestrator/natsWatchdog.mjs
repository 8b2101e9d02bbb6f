/**
 * The keeper of a private nats-server: it starts the server as its own child and makes sure the
 * server and its folder (generated passwords, JetStream data) do not outlive the process that
 * started it, however that process ends.
 *
 *   node natsWatchdog.mjs <dir> <nats-server> [server args…]
 *
 * stdin is a pipe from the orchestrator that is never written. When the orchestrator ends — a
 * clean exit, an error, any signal including SIGKILL or the OOM killer — the kernel closes its end
 * and this process reads end-of-file: it stops the server (SIGTERM, SIGKILL after a grace period)
 * and removes <dir>. Nothing has to run in the orchestrator at its death. The orchestrator stops a
 * server the same way: by closing the pipe.
 *
 * Plain JavaScript, run by node without a loader: it starts in tens of milliseconds and loads
 * nothing of the project. It runs in a session of its own (spawned detached), so a Ctrl-C in the
 * terminal reaches the orchestrator, which shuts the run down with its server still up.
 *
 * stdout: one line `{"pid":<server pid>}` once the server is spawned. The exit code is the server's
 * (128 + signal number when a signal ended it).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { constants } from 'node:os';

const GRACE_MS = 2000;

class Watchdog {
  /** 'running' until asked to stop; 'stopping' while the server shuts down; 'done' once it has exited */
  state = 'running';
  /** @type {import('node:child_process').ChildProcess | undefined} */
  server;

  /** @param {string} dir @param {string} bin @param {string[]} args */
  constructor(dir, bin, args) {
    this.dir = dir;
    this.bin = bin;
    this.args = args;
  }

  start() {
    // a reader that has gone away must not crash the keeper (EPIPE on its own output)
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    process.on('uncaughtException', (e) => {
      process.stderr.write(`mecsim nats watchdog: ${e?.message ?? e}\n`);
      this.server?.kill('SIGKILL');
      this.finish(70);
    });
    process.stdin.on('end', () => this.stop());
    process.stdin.on('close', () => this.stop());
    process.stdin.on('error', () => this.stop());
    process.stdin.resume();
    // asked directly (the keeper is in its own session: no terminal signal reaches it)
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => this.stop());
    this.server = spawn(this.bin, this.args, { stdio: ['ignore', 'ignore', 'inherit'] });
    this.server.on('error', (e) => {
      process.stderr.write(`${e.message}\n`);
      this.finish(127);
    });
    this.server.on('exit', (code, signal) => this.finish(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0)));
    if (this.server.pid !== undefined) process.stdout.write(JSON.stringify({ pid: this.server.pid }) + '\n');
  }

  /** stop the server: SIGTERM, then SIGKILL if it has not exited within the grace period */
  stop() {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return this.finish(0);
    server.kill('SIGTERM');
    setTimeout(() => server.kill('SIGKILL'), GRACE_MS).unref();
  }

  /** the server has exited (or never started): remove its folder and exit with its code */
  finish(code) {
    if (this.state === 'done') return;
    this.state = 'done';
    try {
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`mecsim nats watchdog: cannot remove ${this.dir}: ${e?.message ?? e}\n`);
    }
    process.exit(code);
  }
}

const [dir, bin, ...args] = process.argv.slice(2);
if (!bin) {
  process.stderr.write('usage: node natsWatchdog.mjs <dir> <nats-server> [args…]\n');
  process.exit(2);
}
new Watchdog(dir, bin, args).start();
