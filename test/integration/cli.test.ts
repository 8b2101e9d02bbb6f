/** The `mecsim` command line as a user runs it: real processes, real NATS (the tests' server via NATS_URL). */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, inject } from 'vitest';
import { BIN, runMecsim } from '../helpers/mecsimProcess.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { fmtPct, fmtValue } from '../../orchestrator/verdict.ts';


const mecsim = (args: string[], env: Record<string, string> = {}) => runMecsim(args, env);

describe('mecsim CLI', () => {
  it('runs stackelberg end to end and prints the equilibrium beside the reference', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-cli-'));
    const r = await mecsim(['run', 'stackelberg', '--seed', '2', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/price [\d.]+ \(optimum [\d.]+\)/);
    // gsrp-search is compared with the optimum, and says so on the slot and on the run
    expect(r.stdout).toMatch(/slot 0: .*✓ equals the reference optimum — /);
    expect(r.stdout).toMatch(/\n  distributed run equals the reference optimum\n/);
    const runDir = /results: (\S+)\//.exec(r.stdout)![1];
    for (const f of ['summary.json', 'trajectory.csv', 'slots.csv', 'metrics.json', 'config.json', 'run.log']) expect(existsSync(join(runDir, f))).toBe(true);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('complete');
    expect(summary.metrics).toMatchObject({ rounds: expect.any(Number), messages: expect.any(Number), bytes: expect.any(Number), timeToEquilibriumMs: expect.any(Number) });
  });

  it.each([1, 2])('gsrp-step (seed %i) says it equals the step rule computed centrally, with the optimum price and its gap — never the optimum', async (seed) => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-cli-'));
    const r = await mecsim(['run', 'stackelberg', '-m', 'gsrp-step', '--seed', String(seed), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const runDir = /results: (\S+)\//.exec(r.stdout)![1];
    const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    const [price, optimum] = [s.equilibrium.price, s.reference.price];
    const gapPct = (100 * Math.abs(price - optimum)) / optimum;
    expect(gapPct).toBeGreaterThan(1e-3); // the step grid misses p*: a bare "equals reference" would mislead here
    expect(s.compare).toMatchObject({ ok: true, against: 'the gsrp-step rule computed centrally', optimum: { label: 'price', value: optimum } });
    expect(s.compare.optimum.gapPct).toBeCloseTo(gapPct, 9);
    const said = `equals the gsrp-step rule computed centrally; the optimum price is ${fmtValue(optimum)} (gap ${fmtPct(gapPct)} %)`;
    expect(r.stdout).toContain(`(optimum ${optimum.toFixed(6)})`);
    expect(r.stdout).toContain(`✓ ${said} — `);
    expect(r.stdout).toContain(`\n  distributed run ${said}\n`);
    expect(r.stdout).not.toMatch(/equals (the )?reference/);
  });

  it('--json prints only the summary on stdout; params feed back through --config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mecsim-cli-'));
    const p = await mecsim(['params', 'stackelberg', '--seed', '3', '--users', '4']);
    expect(p.code).toBe(0);
    const cfg = JSON.parse(p.stdout);
    expect(cfg.users).toHaveLength(4);
    writeFileSync(join(dir, 'cfg.json'), p.stdout);
    const r = await mecsim(['run', 'stackelberg', '--config', join(dir, 'cfg.json'), '--json', '--out', dir]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.seed).toBe(3);
    expect(s.equilibrium.purchases).toHaveLength(4);
    expect(s.compare.ok).toBe(true);
  });

  it.each([
    [['run', 'stackelberg', '--users', 'abc'], /--users must be an integer/],
    [['run', 'stackelberg', '--users', '-3'], /--users must be an integer/],
    [['run', 'nope'], /unknown scenario "nope"/],
    [['run', 'stackelberg', '--mechanism', 'magic'], /--mechanism: "magic" is not a mechanism/],
    [['run', 'stackelberg', '--frobnicate'], /unknown option '--frobnicate'/],
    [['run', 'stackelberg', '--placement', 'packed:0'], /--placement/],
    [['run', 'stackelberg', '--rounds', '5'], /--rounds does not apply to scenario stackelberg/],
    [['run', 'stackelberg', '--config', '/nonexistent.json'], /--config: cannot read/],
    [['run', 'stackelberg', '--nats', 'nats://127.0.0.1:1', '--user', 'u'], /--user and --pass go together/],
    [['run', 'stackelberg', '--nats', 'nats://127.0.0.1:1', '--creds', '/nonexistent.creds'], /--creds: no such file/],
    [['params', 'stackelberg', '--p0', '0.1'], /p0/],
    [['run', 'stackelberg', '--users', '100000', '--placement', 'process', '--out', '/nonexistent/never-created'], /--placement process would start 100001 agent processes.*packed:K or auto/],
  ])('usage error %j exits 2 with a message naming the flag', async (args, msg) => {
    const r = await mecsim(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  // bad input: exit 2 naming the flag or key (3: no server at --nats), and never a stack trace
  const bad = mkdtempSync(join(tmpdir(), 'mecsim-bad-'));
  const aFile = join(bad, 'a-file');
  writeFileSync(aFile, 'not a folder\n');
  const cfg = (name: string, body: unknown) => {
    const f = join(bad, `${name}.json`);
    writeFileSync(f, JSON.stringify(body));
    return f;
  };
  const agent = (...more: string[]) => ['agent', '--run', 'r1', '--role', 'ue', '--nats', 'nats://127.0.0.1:1', ...more];
  it.each([
    [['run', 'stackelberg', '--out', aFile], 2, /--out .*a-file is a file, not a folder/],
    [['run', 'stackelberg', '--out', join(aFile, 'runs')], 2, /--out .*a-file is a file, not a folder/],
    [['run', 'stackelberg', '--out', '/proc/mecsim-runs'], 2, /--out \/proc\/mecsim-runs: cannot write into \/proc/],
    [['run', 'stackelberg', '--out', bad, '--run-id', 'a/b'], 2, /--run-id "a\/b" must be 1–64 characters/],
    [['run', 'stackelberg', '--out', bad, '--run-id', '..'], 2, /--run-id "\.\." must be/],
    [['run', 'stackelberg', '--out', bad, '--run-id', ''], 2, /--run-id "" must be/],
    [['run', 'stackelberg', '--out', bad, '--nats', 'nats://127.0.0.1:1'], 3, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/],
    [['run', 'stackelberg', '--out', bad, '--nats', 'not a url'], 2, /--nats: "not a url" is not a server URL/],
    [['run', 'stackelberg', '--config', cfg('slots', { slots: '3' })], 2, /--config .*slots\.json: slots: must be an integer/],
    [['run', 'stackelberg', '--config', cfg('seed', { seed: '42' })], 2, /--config .*: seed: must be an integer/],
    [['params', 'stackelberg', '--config', cfg('top', { seed: 1, color: 'red' })], 2, /--config .*: color: unknown key \(known here: \$schema, schemaVersion, scenario, mechanism, seed, slots, link, server, users\)/],
    [['params', 'wholesale-buyback', '--config', cfg('nested', { cloud: { n: 10, Cbarr: 200 } })], 2, /--config .*: cloud\.Cbarr: unknown key \(known here: n, Cbar, lambda, Dbar\)/],
    [['params', 'stackelberg', '--users', '0'], 2, /--users must be an integer ≥ 1/],
    [['params', 'stackelberg', '--users', '1e12'], 2, /--users must be at most 1000000.*mecsim sweep/],
    [['params', 'budget-nash', '--mecs', '1e12'], 2, /--mecs: must be an integer in \[1, 1000000\]/],
    [['run', 'stackelberg', '--slots', '1e7'], 2, /--slots must be at most 1000000.*several runs/],
    [['run', 'stackelberg', '--round-timeout', '3000000000'], 2, /--round-timeout must be at most 2147483647.*24\.8 days/],
    [['run', 'stackelberg', '--join-timeout', 'NaN'], 2, /--join-timeout must be an integer ≥ 1/],
    [['run', 'stackelberg', '--round-timeout', '-5'], 2, /--round-timeout must be an integer ≥ 1/],
    [agent('--index', '0-3000000000'), 2, /--index: 0-3000000000 goes beyond 999999.*split a large range over several processes/],
    [agent('--join', '--count', '1e9'), 2, /--count 1e9 is more than 1000000.*start several `mecsim agent` processes/],
    [agent('--index', '0', '--host-id', 'a.b'), 2, /--host-id "a\.b" must be 1–64 characters/],
    [['agent', '--run', 'a/b', '--role', 'ue', '--index', '0', '--nats', 'nats://127.0.0.1:1'], 2, /--run "a\/b" must be 1–64 characters/],
    [['agent', '--run', 'r1', '--role', 'ue', '--index', '0', '--nats', 'not a url'], 2, /--nats: "not a url" is not a server URL/],
    [agent('--index', '0'), 3, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/],
  ])('bad input %j exits %i naming the flag or key, without a stack trace', async (args, code, msg) => {
    const r = await mecsim(args as string[]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('says how to get a NATS server when there is none', async () => {
    const r = await mecsim(['run', 'stackelberg', '--out', mkdtempSync(join(tmpdir(), 'mecsim-cli-'))], { NATS_URL: '', NATS_SERVER_BIN: '/nonexistent/nats-server' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/apt-get install nats-server/);
    expect(r.stderr).toMatch(/--nats|NATS_URL/);
  });

  it.each([
    ['list', ['list']],
    ['run --json', ['run', 'stackelberg', '--users', '20', '--json']],
  ])('a reader that closes the pipe after the first bytes (mecsim %s | head -c 1) ends nothing early: exit 0, no EPIPE, the run complete on disk', async (_name, args) => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-cli-'));
    // a real shell pipe into head, as a user types it; pipefail: the exit code is mecsim's if it failed
    const cmd = [process.execPath, BIN, ...args, ...(args[0] === 'run' ? ['--out', out] : [])].map((a) => `'${a}'`).join(' ');
    const child = spawn('bash', ['-c', `set -o pipefail; ${cmd} | head -c 1 >/dev/null`], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NATS_URL: inject('natsUrl') } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(err).not.toMatch(/EPIPE|Unhandled/);
    expect(code, err).toBe(0);
    if (args[0] === 'run') {
      const [runDir] = readdirSync(out);
      expect(JSON.parse(readFileSync(join(out, runDir, 'summary.json'), 'utf8'))).toMatchObject({ status: 'complete', ok: true });
    }
  });

  it('lists scenarios and shows help', async () => {
    const l = await mecsim(['list']);
    expect(l.stdout).toMatch(/stackelberg/);
    expect(l.stdout).toMatch(/gsrp-search \(default\)/);
    const h = await mecsim(['run', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--placement/);
    const a = await mecsim(['agent', '--help']);
    expect(a.stdout).toMatch(/--role/);
  });
});

describe('mecsim CLI interruption', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s mid-run stops every agent process and leaves a summary marked interrupted', async (sig) => {
    const { spawn, execFileSync } = await import('node:child_process');
    const out = mkdtempSync(join(tmpdir(), 'mecsim-int-'));
    const runId = `${sig.toLowerCase()}-${Date.now()}`;
    const child = spawn(process.execPath, [BIN, 'run', 'ping', '--users', '4', '--rounds', '100000', '--placement', 'process', '--out', out, '--run-id', runId], { env: { ...process.env, NATS_URL: inject('natsUrl') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const summaryPath = join(out, runId, 'summary.json');
    // wait until the agents have joined and slots run (the leader is busy), then interrupt
    const t0 = Date.now();
    for (const wait = scaledMs(60_000); Date.now() - t0 < wait; ) {
      await new Promise((r) => setTimeout(r, 200));
      if (existsSync(join(out, runId, 'run.log')) && readFileSync(join(out, runId, 'run.log'), 'utf8').includes('all agents joined')) break;
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill(sig);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(summary.status).toBe('interrupted');
    expect(summary.error).toMatch(/interrupted/);
    // written atomically: no temporary file left beside it
    expect(readdirSync(join(out, runId)).filter((f) => f.includes('.tmp'))).toEqual([]);
    const ps = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
    expect(ps.includes(`--run ${runId}`)).toBe(false);
  });
});

describe('mecsim run --sweep', () => {
  it('runs one distributed run per value and writes a CSV; a faster unit (f) raises the server profit', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-sweep-'));
    const r = await mecsim(['run', 'stackelberg', '--sweep', 'f=1e9,4e9', '--json', '--out', out]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.rows).toHaveLength(2);
    expect(s.rows.every((x: any) => x.ok)).toBe(true);
    expect(s.rows[1]['eq.profit']).toBeGreaterThan(s.rows[0]['eq.profit']);
    expect(readFileSync(s.csv, 'utf8').trim().split('\n')).toHaveLength(3);
    const bad = await mecsim(['run', 'stackelberg', '--sweep', 'f=abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--sweep/);
  });
});

describe('mecsim bench', () => {
  it.each([
    [['--sizes', '0'], '--sizes must be a comma-separated list of positive integers, not "0"'],
    [['--sizes', '10,1000001'], '--sizes: 1000001 is more than 1000000 (a run holds every agent'],
  ])('%j: refused at once (exit 2), no server started and no row measured', async (args, message) => {
    const r = await mecsim(['bench', 'stackelberg', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('mecsim bench on');
  });

  it('--repeat 2 --slots 2: one row measured twice, interleaved with its floors; medians, spread, CPU after the warm-up slot and over every round, equal to the reference; exits when done', async () => {
    const child = spawn(process.execPath, [BIN, 'bench', 'stackelberg', '--sizes', '8', '--repeat', '2', '--slots', '2', '--json'], { env: { ...process.env, NATS_URL: inject('natsUrl') } });
    let stdout = '';
    let stderr = '';
    let lastStepAt = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/in-process run and reference/.test(String(d))) lastStepAt = performance.now();
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const lingered = (performance.now() - lastStepAt) / 1000;
    expect(code, stderr.slice(-3000)).toBe(0);
    const { rows, targets } = JSON.parse(stdout);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({ scenario: 'stackelberg', users: 8, repeats: 2, equalsReference: true, referenceMisses: [], equalsInProcess: true });
    expect(row.floorRoundMs).toBeGreaterThan(0);
    // the floor through mecsim's client path, and the stock client's beside it
    expect(JSON.parse(stdout)).toMatchObject({ floorClient: 'mecsim', secondFloorClient: 'stock' });
    expect(row.floorStockRoundMs).toBeGreaterThan(0);
    expect(row.cpuRatio).toBeGreaterThan(0);
    expect(row.spuriousResent).toBe(0);
    expect(row.ratioMin).toBeLessThanOrEqual(row.ratio);
    expect(row.ratio).toBeLessThanOrEqual(row.ratioMax);
    expect(row.cpuRatioMin).toBeLessThanOrEqual(row.cpuRatio);
    expect(row.cpuRatio).toBeLessThanOrEqual(row.cpuRatioMax);
    expect(row.cpuRatioSharedMin).toBeLessThanOrEqual(row.cpuRatioShared);
    expect(row.cpuRatioShared).toBeLessThanOrEqual(row.cpuRatioSharedMax);
    // with a warm-up slot, CPU per round is taken after it (every host said how much it spent since slot 1), and over every round beside it
    expect(row.warmupSlots).toBe(1);
    expect(row.cpuPerRoundMs).toBeGreaterThan(0);
    expect(row.cpuAllPerRoundMs).toBeGreaterThan(0);
    expect(row.cpuRatioAll).toBeGreaterThan(0);
    expect(row.cpuRatioSharedAll).toBeGreaterThan(0);
    expect(targets).toEqual([]); // N = 8 measures none of the scale targets
    expect((stderr.match(/framework run/g) ?? []).length).toBe(2);
    expect(stderr).toMatch(/\[1\/2\][^]*raw NATS floor[^]*\[2\/2\]: framework run/);
    // after its last step (milliseconds of work) it prints and exits; a floor's start-up timer once kept it alive ~40 s more
    expect(lingered).toBeLessThan(20);
  }, scaledMs(150_000));
});
