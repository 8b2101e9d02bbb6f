/** One orchestrator per run id on a server (orchestrator/runClaim.ts), over a real nats-server. */
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { RunIdClaim, RunIdInUse } from '../../orchestrator/runClaim.ts';
import { scaledMs } from '../../bus/timeouts.ts';

describe('run id claim', () => {
  const conns: Awaited<ReturnType<typeof connect>>[] = [];
  const open = async () => {
    const nc = await connect({ servers: inject('natsUrl') });
    conns.push(nc);
    return nc;
  };
  afterAll(async () => {
    for (const nc of conns) await nc.close();
  });

  it('a free run id is claimed at once; a second claimant is refused while the first holds it, and admitted after it releases', async () => {
    const subject = `mecsim.test${Date.now() % 1e6}.owner`;
    const t0 = performance.now();
    const first = await RunIdClaim.claim(await open(), 'r1', subject);
    expect(performance.now() - t0).toBeLessThan(1500);
    const err = await RunIdClaim.claim(await open(), 'r1', subject).catch((e) => e);
    expect(err).toBeInstanceOf(RunIdInUse);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain('--run-id');
    first.release();
    const again = await RunIdClaim.claim(await open(), 'r1', subject);
    again.release();
  });

  it('of two claimants starting together, exactly one keeps the run id', async () => {
    const subject = `mecsim.race${Date.now() % 1e6}.owner`;
    const [a, b] = [await open(), await open()];
    const results = await Promise.allSettled([RunIdClaim.claim(a, 'r2', subject), RunIdClaim.claim(b, 'r2', subject)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won.length).toBe(1);
    expect(lost.length).toBe(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(RunIdInUse);
    (won[0] as PromiseFulfilledResult<RunIdClaim>).value.release();
  });

  it('an older rival known only by its ask (its answer comes too late to count) keeps the run id', async () => {
    const subject = `mecsim.slow${Date.now() % 1e6}.owner`;
    const rival = await open();
    const claim = { host: 'rival', pid: 1, since: 0, nonce: '0' };
    // it answers only after every window has closed (as a stalled process would), but asks in turn, with its claim
    rival.subscribe(subject, {
      callback: (_e, m) => {
        if (!(msgpackDecode(m.data) as { claim?: unknown }).claim) return;
        rival.publish(subject, msgpackEncode({ ask: claim.nonce, claim }));
        setTimeout(() => m.respond(msgpackEncode(claim)), scaledMs(10_000)).unref();
      },
    });
    await rival.flush();
    const err = await RunIdClaim.claim(await open(), 'r4', subject).catch((e) => e);
    expect(err).toBeInstanceOf(RunIdInUse);
    expect(err.message).toContain('the orchestrator on rival (pid 1');
  });

  it('bytes on the owner subject that are not a claim do not block a run id', async () => {
    const subject = `mecsim.junk${Date.now() % 1e6}.owner`;
    const hostile = await open();
    hostile.subscribe(subject, { callback: (_e, m) => void m.respond(new Uint8Array([0xc1, 0xff, 0x00])) });
    await hostile.flush();
    const c = await RunIdClaim.claim(await open(), 'r3', subject);
    c.release();
  });
});
