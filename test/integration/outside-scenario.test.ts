/**
 * A scenario written outside mecsim, as a model author has it: a folder elsewhere on disk with its
 * own package.json that depends on mecsim by path (node_modules/mecsim a symlink to this checkout,
 * as `npm install` makes it for a `file:` dependency), loaded through the public path — the
 * `mecsim` bin of that dependency, `run .` from the folder — with real agent processes over the
 * tests' NATS server. Also: `mecsim new` output passes its own generated test.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { scaledMs } from '../../bus/timeouts.ts';

const pexec = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** A folder outside the repository holding `files`, with mecsim linked as npm links a `file:` dependency. */
function authorFolder(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  expect(root.startsWith(REPO + '/')).toBe(false);
  return root;
}
function linkMecsim(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(REPO, join(dir, 'node_modules', 'mecsim'), 'dir');
}

async function run(cmd: string, args: string[], cwd: string, ms: number) {
  try {
    const r = await pexec(cmd, args, { cwd, env: { ...process.env, NATS_URL: inject('natsUrl') }, timeout: scaledMs(ms), maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('a scenario from outside the repository', () => {
  it('examples/kelly, copied out with its own package.json, runs distributed in process and packed placements, equal to its reference and the same in both; and by package name from another project, with its other mechanism', async () => {
    const root = authorFolder('mecsim-kelly-');
    const dir = join(root, 'kelly');
    cpSync(join(REPO, 'examples', 'kelly'), dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kelly-edge', version: '1.0.0', type: 'module', exports: './index.ts', dependencies: { mecsim: `file:${REPO}` } }, null, 2));
    linkMecsim(dir);
    const bin = join(dir, 'node_modules', 'mecsim', 'bin', 'mecsim.js');
    const out = join(root, 'runs');
    const summaries: Record<string, any>[] = [];
    for (const placement of ['process', 'packed:2']) {
      const r = await run(process.execPath, [bin, 'run', '.', '--users', '5', '--slots', '2', '--placement', placement, '--out', out, '--json'], dir, 240_000);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s).toMatchObject({ status: 'complete', scenario: 'kelly', mechanism: 'price-taking', placement, ok: true });
      // the agents were separate processes: the leader alone, then 5 users one per process or two per worker
      expect(s.workers).toBe(placement === 'process' ? 6 : 4);
      expect(s.scenarioSource).toMatchObject({ kind: 'module', file: join(dir, 'index.ts') });
      for (const slot of s.perSlot) {
        expect(slot.converged).toBe(true);
        expect(slot.compare.ok).toBe(true);
        expect(slot.extra.rounds).toBeGreaterThan(10);
      }
      expect(s.results.claims.map((c: any) => [c.id, c.verdict])).toEqual([
        ['efficient', 'holds'],
        ['beats-equal-split', 'holds'],
      ]);
      summaries.push(s);
    }
    // same config and seed: the same outcome, message for message, whatever the placement
    const [a, b] = summaries;
    expect(b.perSlot.map((x: any) => [x.equilibrium, x.extra])).toEqual(a.perSlot.map((x: any) => [x.equilibrium, x.extra]));
    const trajectory = (s: Record<string, any>) => readFileSync(join(out, s.runId, 'trajectory.csv'), 'utf8');
    expect(trajectory(b)).toBe(trajectory(a));

    // the same folder installed as an npm package in another project: `mecsim run <package name>`
    const app = join(root, 'app');
    linkMecsim(app);
    symlinkSync(dir, join(app, 'node_modules', 'kelly-edge'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { mecsim: `file:${REPO}`, 'kelly-edge': 'file:../kelly' } }));
    // with its other mechanism, whose users' replies and reference are that mechanism's own parts
    const byName = await run(process.execPath, [bin, 'run', 'kelly-edge', '--mechanism', 'price-anticipating', '--users', '5', '--slots', '2', '--placement', 'packed:5', '--out', out, '--json'], app, 240_000);
    expect(byName.code, byName.stderr).toBe(0);
    const c = JSON.parse(byName.stdout);
    expect(c).toMatchObject({ scenario: 'kelly', mechanism: 'price-anticipating', ok: true, workers: 2 });
    expect(c.perSlot.every((x: any) => x.converged && x.compare.against.includes('Nash'))).toBe(true);
    // a different equilibrium from the price takers' (their welfare is the optimum), within Johari–Tsitsiklis' bound
    c.perSlot.forEach((x: any, i: number) => {
      expect(x.equilibrium.welfare).toBeLessThan(a.perSlot[i].equilibrium.welfare);
      expect(x.equilibrium.welfare / a.perSlot[i].equilibrium.welfare).toBeGreaterThanOrEqual(0.75);
    });
    expect(c.results.claims.map((x: any) => [x.id, x.verdict])).toContainEqual(['johari-tsitsiklis-75', 'holds']);
    rmSync(root, { recursive: true, force: true }); // kept when a check failed, to look at
  });

  it('`mecsim new` makes a folder whose own test passes: in process and distributed, each against its reference', async () => {
    const root = authorFolder('mecsim-new-');
    const made = await run(process.execPath, [join(REPO, 'bin', 'mecsim.js'), 'new', 'edge-demo', '--dir', root], root, 60_000);
    expect(made.code, made.stderr).toBe(0);
    const dir = join(root, 'edge-demo');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({ name: 'edge-demo', type: 'module', dependencies: { mecsim: `file:${REPO}` } });
    linkMecsim(dir);
    const t = await run('npm', ['test', '--silent'], dir, 300_000);
    expect(t.code, `${t.stdout}\n${t.stderr}`).toBe(0);
    expect(t.stdout).toMatch(/# pass 3\b/);
    expect(t.stdout).toMatch(/# fail 0\b/);
    // a second `new` of the same name is refused and leaves the folder as it was
    const again = await run(process.execPath, [join(REPO, 'bin', 'mecsim.js'), 'new', 'edge-demo', '--dir', root], root, 60_000);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    rmSync(root, { recursive: true, force: true });
  });
});
