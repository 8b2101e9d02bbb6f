/**
 * Nothing outlives the orchestrator (issue 16, item 3): whichever way it ends — SIGKILL mid-join or
 * mid-slot, a second SIGINT, SIGTERM during a sweep, Ctrl-C in the bench, an uncaught error — the
 * private nats-server, its watchdog and every spawned agent are gone within seconds, and the
 * server's folder (config with generated passwords, JetStream data) is removed. Processes are found
 * by pid (the orchestrator's process tree, the pid in the run's nats-server.log), not only by
 * `--run <id>` in command lines. Real processes, a real private server per run (NATS_URL unset).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../orchestrator/runLock.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { descendants, isNatsServer, pidInServerLog, processesOfRun, readProc, serverDir, sleep, stillAlive, until, type Proc } from '../helpers/procs.ts';

const pexec = promisify(execFile);
const BIN = new URL('../../bin/mecsim.js', import.meta.url).pathname;
const CHILD = new URL('../helpers/keptServerChild.ts', import.meta.url).pathname;
/**
 * Generous: only a process that stays for good is a failure. An agent orphaned while it is still
 * loading can only exit once it has loaded, which on a machine loaded ~20× over its cores took
 * seconds of wall time per process.
 */
/** how long the run's processes may take to go: 30 s on an idle machine, stretched by the load (an orphan still loading must load before it can exit) */
const goneWithinMs = () => scaledMs(30_000);

const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** the environment of a run with a private server: no NATS_URL */
function privateEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NATS_URL;
  delete env.MECSIM_TEST_NATS;
  return env;
}

function mecsim(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: privateEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, stderr: () => err, exited };
}

const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');

/** What a run has running at one moment: every process below the orchestrator, and its private server. */
interface Snapshot {
  orchestrator: Proc;
  tree: Proc[];
  server: Proc;
  dir: string;
}

function snapshot(orchestrator: number, runDir?: string): Snapshot {
  const tree = descendants(orchestrator);
  const server = tree.find(isNatsServer);
  expect(server, `a nats-server below the orchestrator (pid ${orchestrator}); tree: ${tree.map((p) => `${p.pid} ${p.cmd.slice(0, 3).join(' ')}`).join('; ')}`).toBeDefined();
  if (runDir) expect(pidInServerLog(read(join(runDir, 'nats-server.log')))).toBe(server!.pid);
  const dir = serverDir(server!)!;
  expect(existsSync(join(dir, 'nats.conf'))).toBe(true);
  // the folder with the generated passwords is the user's alone while it exists
  expect(statSync(dir).mode & 0o077).toBe(0);
  return { orchestrator: readProc(orchestrator)!, tree, server: server!, dir };
}

/** nothing of the snapshot (nor anything naming the run) is left, and the server's folder is gone */
async function expectNothingLeft(s: Snapshot, runId?: string): Promise<void> {
  const gone = await until(() => !s.tree.some(stillAlive) && !existsSync(s.dir) && !(runId && processesOfRun(runId).length), goneWithinMs(), 200);
  const left = s.tree.filter(stillAlive).map((p) => `${p.pid} ${p.cmd.slice(0, 4).join(' ')}`);
  expect(left, 'processes of the run still alive').toEqual([]);
  expect(stillAlive(s.server), `nats-server pid ${s.server.pid}`).toBe(false);
  expect(existsSync(s.dir), `server folder ${s.dir}`).toBe(false);
  if (runId) expect(processesOfRun(runId).map((p) => p.pid)).toEqual([]);
  expect(gone).toBe(true);
}

const agentsOf = (s: Snapshot) => s.tree.filter((p) => p.cmd.includes('--run'));

describe('the private nats-server dies with the process that started it', () => {
  it.each(['SIGKILL', 'throw', 'reject', 'exit'] as const)('%s: server and folder gone without stop()', async (how) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, how === 'SIGKILL' ? 'hang' : how], { stdio: ['ignore', 'pipe', 'pipe'], cwd: new URL('../..', import.meta.url).pathname });
    started.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    expect(await until(() => out.includes('\n'), 30_000)).toBe(true);
    const { pid, dir } = JSON.parse(out.split('\n')[0]) as { pid: number; dir: string };
    const server = readProc(pid)!;
    expect(isNatsServer(server)).toBe(true);
    expect(readFileSync(join(dir, 'nats.conf'), 'utf8')).toMatch(/secret/);
    expect(statSync(join(dir, 'nats.conf')).mode & 0o077).toBe(0);
    const exited = new Promise((r) => child.once('exit', r));
    if (how === 'SIGKILL') child.kill('SIGKILL');
    await exited;
    expect(await until(() => !stillAlive(server) && !existsSync(dir), goneWithinMs())).toBe(true);
  });
});

describe('nothing outlives the orchestrator', { timeout: 240_000 }, () => {
  it('SIGKILL mid-join: no agent, no server, no server folder left', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-orphans-'));
    const runId = `orph-join-${process.pid}-${Date.now().toString(36)}`;
    const runDir = join(out, runId);
    const r = mecsim(['run', 'stackelberg', '--users', '16', '--placement', 'process', '--out', out, '--run-id', runId, '--json']);
    // agents spawned, not all joined yet
    expect(await until(() => read(join(runDir, 'run.log')).includes('spawned agent processes'), 120_000)).toBe(true);
    const s = snapshot(r.child.pid!, runDir);
    const joinedAlready = read(join(runDir, 'run.log')).includes('all agents joined');
    r.child.kill('SIGKILL');
    await r.exited;
    expect(agentsOf(s).length).toBeGreaterThan(0);
    await expectNothingLeft(s, runId);
    if (joinedAlready) console.warn('mid-join: every agent had joined before the kill (a fast machine): the run was killed just after');
  });

  it('SIGKILL mid-slot: no agent, no server, no server folder left', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-orphans-'));
    const runId = `orph-slot-${process.pid}-${Date.now().toString(36)}`;
    const runDir = join(out, runId);
    const r = mecsim(['run', 'ping', '--users', '4', '--rounds', '100000', '--placement', 'process', '--out', out, '--run-id', runId, '--json']);
    expect(await until(() => read(join(runDir, 'run.log')).includes('all agents joined'), 120_000)).toBe(true);
    await sleep(300);
    const s = snapshot(r.child.pid!, runDir);
    expect(agentsOf(s)).toHaveLength(5);
    r.child.kill('SIGKILL');
    await r.exited;
    await expectNothingLeft(s, runId);
    // the summary is left as the orchestrator wrote it at the start, beside its lock, which names a
    // pid that is gone: `mecsim report` shows the run abandoned
    expect(JSON.parse(read(join(runDir, 'summary.json'))).status).toBe('running');
    expect(JSON.parse(read(join(runDir, LOCK_FILE))).pid).toBe(r.child.pid);
    const rep = await pexec(process.execPath, [BIN, 'report', runDir], { env: privateEnv() });
    expect(rep.stdout).toMatch(new RegExp(`run abandoned: its orchestrator \\(pid ${r.child.pid} on `));
    expect(read(join(runDir, 'report.html'))).toMatch(/class="status">abandoned: /);
    // and the next run into the same --out marks it so on disk
    const next = mecsim(['run', 'ping', '--users', '2', '--rounds', '2', '--out', out, '--json']);
    expect((await next.exited).code).toBe(0);
    const after = JSON.parse(read(join(runDir, 'summary.json')));
    expect(after.status).toBe('abandoned');
    expect(after.error).toMatch(new RegExp(`pid ${r.child.pid} `));
    expect(existsSync(join(runDir, LOCK_FILE))).toBe(false);
  });

  it('a second SIGINT exits at once (130) and still leaves nothing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-orphans-'));
    const runId = `orph-int2-${process.pid}-${Date.now().toString(36)}`;
    const runDir = join(out, runId);
    const r = mecsim(['run', 'ping', '--users', '4', '--rounds', '100000', '--placement', 'process', '--out', out, '--run-id', runId]);
    expect(await until(() => read(join(runDir, 'run.log')).includes('all agents joined'), 120_000)).toBe(true);
    await sleep(300);
    const s = snapshot(r.child.pid!, runDir);
    r.child.kill('SIGINT');
    await sleep(50);
    r.child.kill('SIGINT');
    const t0 = Date.now();
    const { code } = await r.exited;
    expect(code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.stderr()).toMatch(/SIGINT again: exiting now/);
    await expectNothingLeft(s, runId);
  });

  it('SIGTERM during `mecsim sweep`: exit 130, the next run never starts, nothing left', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-orphans-'));
    const r = mecsim(['sweep', 'ping', '--users', '3,4', '--rounds', '100000', '--placement', 'process', '--out', out]);
    const runLog = () => {
      const sweep = readdirSync(out).find((d) => d.startsWith('sweep-'));
      if (!sweep) return '';
      const run = readdirSync(join(out, sweep)).find((d) => existsSync(join(out, sweep, d, 'run.log')));
      return run ? read(join(out, sweep, run, 'run.log')) : '';
    };
    expect(await until(() => runLog().includes('all agents joined'), 120_000)).toBe(true);
    await sleep(300);
    const s = snapshot(r.child.pid!);
    expect(agentsOf(s)).toHaveLength(4);
    r.child.kill('SIGTERM');
    const { code } = await r.exited;
    expect(code).toBe(130);
    await expectNothingLeft(s);
    const sweepDir = join(out, readdirSync(out).find((d) => d.startsWith('sweep-'))!);
    const runs = readdirSync(sweepDir).filter((d) => existsSync(join(sweepDir, d, 'summary.json')));
    expect(runs).toHaveLength(1);
    expect(JSON.parse(read(join(sweepDir, runs[0], 'summary.json'))).status).toBe('interrupted');
  });

  it('Ctrl-C in `mecsim bench` stops its run, its floor workers and its server: exit 130, nothing left', async () => {
    const r = mecsim(['bench', 'ping', '--sizes', '4', '--repeat', '3']);
    // interrupt once the bench has its server and processes of its own below it (a run's agents or the
    // floor's workers; not the esbuild service that bundles the agents, which comes first)
    const ready = () => {
      const tree = descendants(r.child.pid!);
      const own = tree.filter((p) => !isNatsServer(p) && !p.cmd.some((a) => a.endsWith('natsWatchdog.mjs') || /esbuild$/.test(a)));
      return tree.some(isNatsServer) && own.length >= 2;
    };
    expect(await until(ready, scaledMs(120_000), 50)).toBe(true);
    const s = snapshot(r.child.pid!);
    r.child.kill('SIGINT');
    const { code } = await r.exited;
    expect(code).toBe(130);
    await expectNothingLeft(s);
  });
});
