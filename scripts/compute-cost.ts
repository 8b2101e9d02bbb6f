/**
 * What a scenario's own computation costs, with no bus at all: the in-process run of its protocol
 * (scenarios/inprocess.ts) with requests and replies handed over as they are (no copy, no envelope,
 * no NATS). The CPU time per round it prints, slot by slot, is the part of
 * `mecsim bench`'s `cpu/rd` that no runtime could remove; the rest is the runtime's and NATS's.
 *
 * It is bundled with esbuild before it runs, as the agents' code is (orchestrator/agentEntry.ts):
 * tsx keeps functions' names by wrapping each closure as it is made, which the agents never pay. It
 * runs with the node flags of a leader of N followers (agents/tiering.ts).
 *
 *   npx tsx scripts/compute-cost.ts <scenario> [--users N] [--slots T] [--mechanism M] [--option key=value ...] [--seed S]
 *   npx tsx scripts/compute-cost.ts offload-energy --users 1000 --mechanism pricing --option pricing=decentralized --option claims=false
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tieringArgs } from '../agents/tiering.ts';
import { getScenario } from '../scenarios/index.ts';
import { InProcessRun } from '../scenarios/inprocess.ts';
import type { JsonObject, RunInput } from '../scenarios/types.ts';

const BUNDLED = 'MECSIM_COMPUTE_COST_BUNDLED';

interface Task {
  scenario: string;
  input: RunInput;
}

function usage(message: string): never {
  console.error(`compute-cost: ${message}\nusage: npx tsx scripts/compute-cost.ts <scenario> [--users N] [--slots T] [--mechanism M] [--option key=value ...] [--seed S]`);
  process.exit(2);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer, not "${text}"`);
  return n;
}

function taskOf(argv: string[]): Task {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { users: { type: 'string' }, slots: { type: 'string' }, seed: { type: 'string' }, mechanism: { type: 'string' }, option: { type: 'string', multiple: true } },
    });
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) usage('name one scenario');
  const options: Record<string, string> = {};
  for (const kv of values.option ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) usage(`--option takes key=value, not "${kv}"`);
    options[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const input: RunInput = { seed: positive('seed', values.seed, 1), slots: positive('slots', values.slots, 10), users: positive('users', values.users, 1000), options };
  if (values.mechanism !== undefined) input.mechanism = values.mechanism;
  return { scenario: positionals[0], input };
}

/** Runs every slot in process; one line per slot: its rounds and the process's CPU time per round. */
async function measure(task: Task): Promise<void> {
  const scenario = getScenario(task.scenario);
  if (!scenario) usage(`unknown scenario "${task.scenario}"`);
  let cfg: JsonObject;
  try {
    cfg = scenario.resolve(task.input) as JsonObject;
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e)); // a parameter the scenario refuses (it says which and why)
  }
  const run = new InProcessRun(scenario, cfg, { copyMessages: false });
  console.log(`${task.scenario} ${String(cfg.mechanism ?? '')} N=${run.followerCount}: the scenario's own CPU time, leader and followers in one process, no bus`);
  for (let slot = 0; slot < task.input.slots; slot++) {
    const cpu0 = process.cpuUsage();
    const { rounds } = await run.runSlot(slot);
    const c = process.cpuUsage(cpu0);
    const ms = (c.user + c.system) / 1000;
    console.log(`slot ${slot}: ${rounds} rounds, ${ms.toFixed(1)} ms CPU, ${(ms / Math.max(1, rounds)).toFixed(3)} ms a round`);
  }
}

async function bundleAndRun(argv: string[]): Promise<number> {
  const task = taskOf(argv); // the arguments' errors before bundling
  const { build } = await import('esbuild');
  const dir = mkdtempSync(join(tmpdir(), 'mecsim-compute-'));
  try {
    const outfile = join(dir, 'compute-cost.mjs');
    await build({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'error' });
    // compiled as a leader of that many followers is (agents/tiering.ts), which a packed worker's flags are too, less the heap's
    const users = task.input.users ?? 1000;
    const r = spawnSync(process.execPath, [...tieringArgs(users, true, users), outfile, ...argv], { stdio: 'inherit', env: { ...process.env, [BUNDLED]: '1' }, cwd: process.cwd() });
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
if (process.env[BUNDLED] === '1') await measure(taskOf(argv));
else process.exitCode = await bundleAndRun(argv);
