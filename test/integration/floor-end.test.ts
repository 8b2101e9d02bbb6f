/**
 * The raw NATS floor's end over a real server: its workers exit when the bench tells them, after the
 * driver has given its result, so a worker's exit at the end is never taken for a death. When the
 * driver told the workers to stop itself, the bench could see a worker exit before the driver's
 * result and fail the floor (2 of 20 floors of eight workers, 4 of 40 of four, and the bench CLI test at
 * times). The first test holds a worker to that contract; the second runs floors back to back, where
 * the race, when there was one, showed only now and then.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { rawFloor } from '../../orchestrator/bench.ts';

const FLOOR_WORKER = fileURLToPath(new URL('../../orchestrator/floorWorker.ts', import.meta.url));

describe('raw NATS floor: its end', () => {
  it('a worker outlives the floor’s NATS traffic and exits only when the bench says stop, reporting its CPU time first', async () => {
    const url = inject('natsUrl');
    const prefix = `flend${process.pid}`;
    const nc = await connect({ servers: url });
    try {
      const ready = new Promise<void>((r) => nc.subscribe(`${prefix}.ready`, { max: 1, callback: () => r() }));
      await nc.flush();
      const worker = spawn(process.execPath, ['--import', 'tsx', FLOOR_WORKER, url, prefix, '0', '4', '0', '0', 'mecsim', '1', '0'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
      const said: unknown[] = [];
      worker.on('message', (m) => said.push(m));
      await ready;
      nc.publish(`${prefix}.bc`);
      nc.publish(`${prefix}.stop`); // what the driver once sent: no longer a way to end a worker
      await nc.flush();
      const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('running'), 1500))]);
      expect(early).toBe('running');
      worker.send('stop');
      expect(await exited).toBe(0);
      expect(said).toEqual([{ cpuMs: expect.any(Number), warmCpuMs: expect.any(Number) }]);
    } finally {
      await nc.close();
    }
  }, 60_000);

  it('eight workers, six floors in a row: each ends with its rounds and every worker’s CPU time', async () => {
    for (let i = 0; i < 6; i++) {
      const floor = await rawFloor(inject('natsUrl'), [5, 5, 5, 5, 5, 5, 5, 5], 10, { sharedBroadcast: true });
      expect(floor.times).toHaveLength(10);
      expect(floor.cpuMs).toBeGreaterThan(0);
    }
  }, 120_000);
});
