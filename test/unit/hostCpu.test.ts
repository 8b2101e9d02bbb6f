import { describe, expect, it } from 'vitest';
import { HostCpu } from '../../agents/hostCpu.ts';

/** burns `ms` of this process's CPU (not of wall time: on a busy machine that is less CPU) */
function spin(ms: number): void {
  const from = process.cpuUsage();
  let x = 0;
  while ((process.cpuUsage(from).user + process.cpuUsage(from).system) / 1000 < ms) for (let i = 0; i < 1000; i++) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

describe('HostCpu', () => {
  it('has no slot-1 figure until an agent starts slot 1 or later; slot 0 does not mark', () => {
    const c = new HostCpu();
    c.ready();
    c.slotStarted(0);
    expect(c.report().cpuSinceSlot1Ms).toBeUndefined();
  });

  it('marks at the first start of slot 1 or later, once: the figures nest (total ≥ since ready ≥ since slot 1)', () => {
    const c = new HostCpu();
    spin(30);
    c.ready();
    spin(30);
    c.slotStarted(1);
    spin(30);
    c.slotStarted(2); // a later slot (or another agent's start of slot 1) moves nothing
    spin(30);
    const r = c.report();
    expect(r.cpuSinceSlot1Ms).toBeGreaterThan(40);
    expect(r.cpuSinceReadyMs - r.cpuSinceSlot1Ms!).toBeGreaterThan(20);
    expect(r.cpuMs - r.cpuSinceReadyMs).toBeGreaterThan(20);
  });

  it('a host that joined in a later slot (a restarted process) marks at its first slot', () => {
    const c = new HostCpu();
    c.ready();
    spin(20);
    c.slotStarted(3);
    const r = c.report();
    expect(r.cpuSinceSlot1Ms).toBeDefined();
    expect(r.cpuSinceSlot1Ms!).toBeLessThan(r.cpuSinceReadyMs);
  });
});
