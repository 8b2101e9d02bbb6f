/**
 * The raw NATS floor (the bench's yardstick) over a real server, with a worker gone wrong: a frozen
 * worker ends the floor at the round deadline with an error naming the round and the replies it
 * got; a killed one ends it at once, naming the worker. Neither hangs, and no floor worker outlives
 * the call.
 */
import { describe, expect, inject, it } from 'vitest';
import { rawFloor } from '../../orchestrator/bench.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { descendants, readProc } from '../helpers/procs.ts';

const floorWorkers = () => descendants(process.pid).filter((p) => p.cmd.some((a) => a.endsWith('floorWorker.ts')) && p.state !== 'Z');

/** a floor of 4 workers × 5 agents with far more rounds than run before `hurt` is done to one worker, once 20 rounds are done */
async function floorWith(hurt: (pid: number) => void, roundMs: number): Promise<{ error: unknown; afterMs: number }> {
  let t0 = 0;
  let hurtDone = false;
  const onRound = (r: number) => {
    if (r < 20 || hurtDone) return;
    hurtDone = true;
    const workers = floorWorkers();
    expect(workers.length).toBe(4);
    t0 = Date.now();
    hurt(workers[0].pid);
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
    const { error, afterMs } = await floorWith((pid) => process.kill((frozen = pid), 'SIGSTOP'), roundMs);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^raw NATS floor: round \d+ got 15 of 20 replies in \d+ s \(a floor worker died or the server dropped messages/);
    expect(afterMs).toBeGreaterThanOrEqual(roundMs - 50);
    expect(afterMs).toBeLessThan(scaledMs(roundMs) + scaledMs(10_000));
    expect(floorWorkers()).toEqual([]);
    expect(readProc(frozen)).toBeUndefined();
  }, 120_000);

  it('a killed worker (SIGKILL): rejected at once, naming its agents; no worker left', async () => {
    const roundMs = 60_000;
    const { error, afterMs } = await floorWith((pid) => process.kill(pid, 'SIGKILL'), roundMs);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('raw NATS floor: the worker of agents 0–4 exited (SIGKILL) before the floor ended (see its output above)');
    expect(afterMs).toBeLessThan(scaledMs(10_000));
    expect(floorWorkers()).toEqual([]);
  }, 120_000);
});
