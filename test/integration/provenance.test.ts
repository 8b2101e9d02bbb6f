/**
 * A run's files as a paper's reader gets them: config.json and summary.json validate against the
 * published schemas (with a standard validator reading the JSON files), the summary says what
 * produced the run, `mecsim report` shows it, and config.json fed back reproduces the run.
 * Real agent processes over the tests' real nats-server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runMecsim } from '../helpers/mecsimProcess.ts';
import { configSha256 } from '../../orchestrator/provenance.ts';
import { findNatsServer } from '../../orchestrator/natsServer.ts';
import { runFileErrors } from '../helpers/schemas.ts';


const mecsim = (args: string[], env: Record<string, string> = {}) => runMecsim(args, env);

const read = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

describe('provenance and schemas of a real run', () => {
  it('config.json and summary.json validate, carry schemaVersion and the provenance; report shows it; config.json reproduces the run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-prov-'));
    const r = await mecsim(['run', 'stackelberg', '--seed', '4', '--users', '4', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const first = JSON.parse(r.stdout);
    const dir = join(out, first.runId);
    expect(runFileErrors(dir)).toEqual([]);
    const config = read(dir, 'config.json');
    const summary = read(dir, 'summary.json');
    expect(config.schemaVersion).toBe(1);
    expect(summary.schemaVersion).toBe(1);

    const p = summary.provenance;
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(p.mecsim.version).toBe(pkg.version);
    expect(p.node).toBe(process.version);
    // the tests' server is external to the run: its version as it announced itself
    expect(p.natsServer).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), owned: false });
    expect(p.host.cpus).toBeGreaterThanOrEqual(1);
    expect(p.command.argv.slice(1)).toEqual([BIN, 'run', 'stackelberg', '--seed', '4', '--users', '4', '--out', out, '--json']);
    expect(p.configSha256).toBe(configSha256(config));
    if (p.mecsim.commit !== undefined) expect(p.mecsim.commit).toMatch(/^[0-9a-f]{40}$/);

    const rep = await mecsim(['report', dir]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toContain(`nats-server ${p.natsServer.version} (external)`);
    expect(rep.stdout).toContain(`config sha256 ${p.configSha256}`);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain(`config sha256 ${p.configSha256}`);

    // config.json, schemaVersion and all, is a valid --config: the same parameters, the same outcome
    const again = await mecsim(['run', 'stackelberg', '--config', join(dir, 'config.json'), '--out', out, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(runFileErrors(join(out, second.runId))).toEqual([]);
    expect(second.provenance.configSha256).toBe(p.configSha256);
    expect(second.equilibrium).toEqual(first.equilibrium);
    expect(second.metrics.rounds).toBe(first.metrics.rounds);
  });

  const natsServer = findNatsServer();
  it.skipIf(!natsServer)('a run on the private server mecsim starts records that server’s version', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mecsim-prov-'));
    // NATS_URL empty counts as unset: mecsim starts its own nats-server
    const r = await mecsim(['run', 'ping', '--users', '2', '--out', out, '--json'], { NATS_URL: '' });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(runFileErrors(join(out, s.runId))).toEqual([]);
    const version = /v?(\d+\.\d+\.\d+)/.exec(execFileSync(natsServer!, ['--version'], { encoding: 'utf8' }))![1];
    expect(s.provenance.natsServer).toEqual({ version, owned: true });
  });

  it('`mecsim params --schema` prints the published schema', async () => {
    const r = await mecsim(['params', 'offload-energy', '--schema']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(new URL('../../schemas/config/offload-energy.schema.json', import.meta.url), 'utf8')));
    const one = await mecsim(['params', 'offload-energy', '--schema', '-m', 'pricing']);
    const pricing = JSON.parse(one.stdout);
    expect(pricing.properties.mechanism.const).toBe('pricing');
    expect(Object.keys(pricing.properties)).toContain('pricing');
    const bad = await mecsim(['params', 'offload-energy', '--schema', '-m', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--mechanism: "nope" is not a mechanism of offload-energy');
  });
});
