/**
 * PeakRss: the orchestrator's peak memory is a run's own. In a child process (which can be told to
 * collect its garbage): a peak made before `start` is forgotten, one made after it is counted.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const script = `
import { PeakRss } from './orchestrator/peakRss.ts';
const MiB = 2 ** 20;
let big = Buffer.alloc(300 * MiB, 1);
const before = process.resourceUsage().maxRSS * 1024;
big = undefined;
globalThis.gc();
const peak = new PeakRss();
peak.start();
const atStart = peak.bytes();
let again = Buffer.alloc(200 * MiB, 1);
const after = peak.bytes();
console.log(JSON.stringify({ since: peak.since, before: before / MiB, atStart: atStart / MiB, after: after / MiB, kept: again.length > 0 }));
`;

describe('PeakRss', () => {
  it.runIf(process.platform === 'linux')('forgets the peak made before start, and counts the one made after', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.since).toBe('run');
    expect(r.before).toBeGreaterThan(300);
    expect(r.atStart).toBeLessThan(r.before - 200);
    expect(r.after).toBeGreaterThan(r.atStart + 150);
  });
});
