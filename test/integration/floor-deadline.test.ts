/**
 * The raw NATS floor (the bench's yardstick) over a real server, with a worker or its driver gone
 * wrong: a frozen worker ends the floor at the round deadline with an error naming the round and the
 * replies it got; a killed one ends it at once, naming the worker; a killed driver ends it at once, a
 * frozen one once it has said nothing for longer than a round may take. None hangs, and no floor
 * process outlives the call.
 */
import { describe, expect, inject, it } from 'vitest';
import { rawFloor } from '../../orchestrator/bench.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { descendants, readProc } from '../helpers/procs.ts';

const floorProcesses = (script: string) => descendants(process.pid).filter((p) => p.cmd.some((a) => a.endsWith(script)) && p.state !== 'Z');
const floorWorkers = () => floorProcesses('floorWorker.ts');
const floorDrivers = () => floorProcesses('floorDriver.ts');

/** a floor of 4 workers × 5 agents with far more rounds than run before `hurt` is done to its first worker or its driver, once 20 rounds are done */
async function floorWith(hurt: (p: { worker: number; driver: number }) => void, roundMs: number): Promise<{ error: unknown; afterMs: number }> {
  let t0 = 0;
  let hurtDone = false;
  const onRound = (r: number) => {
    if (r < 20 || hurtDone) return;
    hurtDone = true;
    const workers = floorWorkers();
    const drivers = floorDrivers();
    expect(workers.length).toBe(4);
    expect(drivers.length).toBe(1);
    t0 = Date.now();
    hurt({ worker: workers[0].pid, driver: drivers[0].pid });
  };
  const error = await rawFloor(inject('natsUrl'), [5, 5, 5, 5], 10_000_000, { roundMs, sharedBroadcast: true, onRound }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hurtDone).toBe(true);
  return { error, afterMs: Date.now() - t0 };
}

describe('raw NATS floor: a worker gone wrong', () => {
  it('a frozen worker (SIGSTOP): rejected at the round deadline with the round and the replies it got; no worker left', async () => {
    const roundMs = 1500;
    let frozen = 0;
    const { error, afterMs } = await floorWith((p) => process.kill((frozen = p.worker), 'SIGSTOP'), roundMs);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^raw NATS floor: round \d+ got 15 of 20 replies in \d+ s \(a floor worker died or the server dropped messages/);
    expect(afterMs).toBeGreaterThanOrEqual(roundMs - 50);
    expect(afterMs).toBeLessThan(scaledMs(roundMs) + scaledMs(10_000));
    expect(floorWorkers()).toEqual([]);
    expect(floorDrivers()).toEqual([]);
    expect(readProc(frozen)).toBeUndefined();
  }, 120_000);

  it.each([
    { who: 'worker', named: 'the worker of agents 0–4' },
    { who: 'driver', named: 'the driver' },
  ] as const)('a killed $who (SIGKILL): rejected at once, naming it; no floor process left', async ({ who, named }) => {
    const { error, afterMs } = await floorWith((p) => process.kill(p[who], 'SIGKILL'), 60_000);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`raw NATS floor: ${named} exited (SIGKILL) before the floor ended (see its output above)`);
    expect(afterMs).toBeLessThan(scaledMs(10_000));
    expect(floorWorkers()).toEqual([]);
    expect(floorDrivers()).toEqual([]);
  }, 120_000);

  it('a frozen driver (SIGSTOP): rejected once it has been silent longer than a round may take; no floor process left', async () => {
    const roundMs = 1000;
    let frozen = 0;
    const { error, afterMs } = await floorWith((p) => process.kill((frozen = p.driver), 'SIGSTOP'), roundMs);
    expect(error).toBeInstanceOf(Error);
    const said = /^raw NATS floor: the driver said nothing for (\d+) s \(frozen\?\)$/.exec((error as Error).message);
    expect(said).not.toBeNull();
    // the limit it names (a round's deadline and 10 s, both stretched by the load when the floor started, in whole seconds)
    const limitMs = Number(said![1]) * 1000;
    expect(limitMs).toBeGreaterThanOrEqual(roundMs + 10_000);
    expect(afterMs).toBeGreaterThanOrEqual(limitMs - 1000);
    // then the frozen driver, deaf to SIGTERM, is killed after 3 s and waited for
    expect(afterMs).toBeLessThan(limitMs + 3000 + scaledMs(10_000));
    expect(floorWorkers()).toEqual([]);
    expect(floorDrivers()).toEqual([]);
    expect(readProc(frozen)).toBeUndefined();
  }, scaledMs(30_000) + 60_000);
});
