/**
 * `mecsim <args>` as its own process, the way a user starts it from a shell: run to its end
 * (`runMecsim`: its exit code and output), or watched live (`mecsim`: its output, its exit and when
 * it came). Every process `mecsim` starts is killed by `killStarted` (call it after each test) if it
 * is still running.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject, onTestFailed } from 'vitest';
import { scaledMs } from '../../bus/timeouts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** the `mecsim` command's script */
export const BIN = join(ROOT, 'bin/mecsim.js');

const pexec = promisify(execFile);

/**
 * Runs `mecsim <args>` to its end (killed after `timeoutMs`, stretched on a loaded machine). NATS_URL
 * is the tests' server unless `env` sets it ('' : none, so the command starts its own).
 */
export async function runMecsim(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await pexec(process.execPath, [BIN, ...args], { env: { ...process.env, NATS_URL: inject('natsUrl'), ...env }, timeout: scaledMs(timeoutMs) });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

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
