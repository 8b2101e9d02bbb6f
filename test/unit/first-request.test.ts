/**
 * A worker's agents at their first request: no object of the hot path changes layout. Each of a
 * worker's 2,500 runtimes and users whose field first held a small integer and then a boxed number
 * moved to a new layout when next touched (V8's `--trace-migration` prints each move); in a one-slot
 * run at N = 10,000 that was a few ms of every worker's first round. The decoded envelope's slot and
 * round are small integers even when the run's tag is not (test/helpers/firstRequest.ts).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('../helpers/firstRequest.ts', import.meta.url));

function firstRequest(scenario: string, mechanism: string, kind: string, body: object) {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--trace-migration', '--import', 'tsx', FIXTURE, scenario, mechanism, kind, JSON.stringify(body)], { encoding: 'utf8', timeout: 60_000 });
  const lines = out.trim().split('\n');
  const from = lines.indexOf('first request');
  expect(from).toBeGreaterThanOrEqual(0);
  const after = lines.slice(from + 1);
  return { migrations: after.filter((l) => l.includes('[migrating]')), result: JSON.parse(after[after.length - 1]) };
}

describe('the first request of a worker of many agents', () => {
  it.each([
    ['stackelberg', 'gsrp-search', 'price', { p: 3.5 }],
    ['offload-energy', 'pricing', 'price', { P: 0.5 }],
    ['offload-energy', 'nash', 'state', { I: 0.5, n: 3 }],
    ['offload-energy', 'mobility', 'tick', { t: 1 }],
  ])('%s (%s): no runtime or user migrates to a new layout', (scenario, mechanism, kind, body) => {
    const { migrations, result } = firstRequest(scenario, mechanism, kind, body);
    expect(result).toEqual({ followers: 64, slotSmi: true, roundSmi: true, drops: {} });
    expect(migrations).toEqual([]);
  });
});
