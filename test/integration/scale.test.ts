/**
 * Scale curves through the CLI: `mecsim sweep … --users a,b` measures the raw NATS floor after each
 * run on the server the run used and draws scale.svg (log–log) with its data; `--no-floor` skips
 * the floor. Small and packed, so it stays fast.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runMecsim } from '../helpers/mecsimProcess.ts';
import { parseCsv } from '../../orchestrator/report.ts';
import { outDir } from '../helpers/run.ts';


// natsUrl '': no server given, so each run starts its own
const mecsim = (args: string[], natsUrl: string) => runMecsim(args, { NATS_URL: natsUrl }, 180_000);

describe('mecsim sweep --users: scale curves', () => {
  it('--users 10,30 with no server given: a private server per run, shared by the run and its raw floor; the tidy CSV, summary and scale figure have the scale columns', async () => {
    // NATS_URL empty: the sweep starts its own server for each run (the path a real scale sweep takes)
    const r = await mecsim(['sweep', 'stackelberg', '--users', '10,30', '--placement', 'packed:5', '--out', outDir, '--json'], '');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    for (const f of ['summary.csv', 'sweep.html', 'sweep.svg', 'scale.svg', 'scale.csv', 'command.txt']) expect(existsSync(join(out.dir, f)), f).toBe(true);
    expect(out.files).toContain(join(out.dir, 'scale.svg'));
    expect(readFileSync(join(out.dir, 'command.txt'), 'utf8')).toMatch(/^mecsim sweep stackelberg --users 10,30 --placement packed:5 /);
    // progress on stderr: the floor of each run
    expect(r.stderr.match(/raw NATS floor: \d+ process/g)).toHaveLength(2);

    const rows = parseCsv(readFileSync(out.csv, 'utf8'));
    expect(rows.map((x) => x.users)).toEqual([10, 30]);
    for (const x of rows) {
      expect(x.ok).toBe(true);
      for (const c of ['roundMs', 'floorRoundMs', 'roundToFloor', 'floorSharedRoundMs', 'joinMaxMs', 'joinPerSec', 'bytesPerAgent', 'leaderBytesPerAgent', 'orchestratorBytesPerAgent', 'timeToEquilibriumMs']) {
        expect(typeof x[c], `${c} at N=${x.users}`).toBe('number');
        expect(Number.isFinite(x[c]) && (x[c] as number) > 0, `${c} at N=${x.users}: ${x[c]}`).toBe(true);
      }
      expect(x.roundToFloor).toBeCloseTo((x.roundMs as number) / (x.floorRoundMs as number), 2);
      // memory of every process (the server's peak included) is more than the leader's alone
      expect(x.bytesPerAgent as number).toBeGreaterThan(x.leaderBytesPerAgent as number);
    }
    // the runs used a server the sweep started (not their own), and the floor the same one
    const summaryJson = JSON.parse(readFileSync(join(out.dir, String(rows[0].runId), 'summary.json'), 'utf8'));
    expect(summaryJson.nats.owned).toBe(false);

    const summary = parseCsv(readFileSync(join(out.dir, 'summary.csv'), 'utf8'));
    for (const x of summary) for (const c of ['roundMs', 'floorRoundMs', 'joinMaxMs', 'bytesPerAgent']) expect(x[`${c}.median`] as number).toBeGreaterThan(0);

    const svg = readFileSync(join(out.dir, 'scale.svg'), 'utf8');
    const axes = [...svg.matchAll(/aria-label="([XY]-axis[^"]*)"/g)].map((m) => m[1].replace(/&#39;/g, "'"));
    expect(axes).toHaveLength(8);
    for (const a of axes) expect(a).toMatch(/^[XY]-axis titled '.*\([^()]+\)' for a log scale/);
    expect(svg).toContain('raw NATS floor');
    const points = parseCsv(readFileSync(join(out.dir, 'scale.csv'), 'utf8'));
    expect(points.filter((p) => p.series === 'raw NATS floor').map((p) => p.users)).toEqual([10, 30]);
    expect(readFileSync(join(out.dir, 'sweep.html'), 'utf8')).toMatch(/<figure data-figure="scale"><svg/);
  });

  it('--no-floor skips the floor: the column is empty and the figure has no floor', async () => {
    const r = await mecsim(['sweep', 'stackelberg', '--users', '3,4', '--no-floor', '--placement', 'packed:5', '--out', outDir, '--json'], inject('natsUrl'));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(r.stderr).not.toMatch(/raw NATS floor/);
    const rows = parseCsv(readFileSync(out.csv, 'utf8'));
    for (const x of rows) {
      expect(x.floorRoundMs ?? null).toBeNull();
      expect(x.roundMs as number).toBeGreaterThan(0);
    }
    const svg = readFileSync(join(out.dir, 'scale.svg'), 'utf8');
    expect(svg).not.toContain('raw NATS floor');
  });
});
