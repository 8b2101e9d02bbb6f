/**
 * `mecsim <args>` as its own process, the way a user starts it from a shell, for the integration
 * tests that watch processes live (their output, their exit and when it came). Every process started
 * here is killed by `killStarted` (call it after each test) if it is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFailed } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/mecsim.js');

export interface MecsimProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** how it ended, and when (Date.now()) */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: MecsimProcess[] = [];

export function mecsim(args: string[], env: NodeJS.ProcessEnv = {}): MecsimProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  const p = { child, stdout: () => out, stderr: () => err, exited };
  started.push(p);
  // a failed test shows what each process said: a hang otherwise leaves only "timed out"
  onTestFailed(() => console.error(`--- mecsim ${args.slice(0, 6).join(' ')} (pid ${child.pid}, exit ${child.exitCode ?? child.signalCode ?? 'running'}):\n${err.slice(-4000)}`));
  return p;
}

export const running = (p: MecsimProcess) => p.child.exitCode === null && p.child.signalCode === null;

/** Kills (SIGKILL) every process started since the last call that is still running. */
export function killStarted(): void {
  for (const p of started.splice(0)) if (running(p)) p.child.kill('SIGKILL');
}
