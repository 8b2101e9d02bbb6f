/**
 * The scenario's own tests: `npm test`. In process (no NATS), then distributed — real agent
 * processes over NATS ($NATS_URL, else a private nats-server from PATH) — both against the reference.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runInProcess, scenarioProblems } from 'mecsim';
import { runDistributed } from 'mecsim/run';
import scenario from './index.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

test('a valid scenario', () => {
  assert.deepEqual(scenarioProblems(scenario), []);
});

test('in process, every slot equals the reference', async () => {
  const r = await runInProcess(scenario, { users: 6, slots: 2 });
  assert.ok(r.ok, JSON.stringify(r.slots.map((s) => s.reference.compare)));
  assert.ok(r.slots[0].rounds > 10, 'the search took message rounds');
});

test('distributed, equal to the reference and to the in-process run', { timeout: 300_000 }, async () => {
  const summary = await runDistributed(here, { users: 6, slots: 2, placement: 'process', natsUrl: process.env.NATS_URL || undefined, outDir: mkdtempSync(join(tmpdir(), `${scenario.id}-runs-`)), report: false });
  assert.equal(summary.ok, true, JSON.stringify(summary.perSlot?.map((s: any) => s.compare)));
  const local = await runInProcess(scenario, { users: 6, slots: 2 });
  assert.deepEqual(summary.perSlot.map((s: any) => s.equilibrium), local.slots.map((s) => s.outcome.equilibrium));
});
