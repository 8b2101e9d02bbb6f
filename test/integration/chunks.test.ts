/**
 * Chunking over a nats-server with the stock max_payload (1 MiB): the limit is read from the server's
 * INFO, a larger message is refused as is and goes through as frames, reassembled whole.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chunker, Reassembler, isChunkFrame, serverMaxPayload } from '../../bus/chunks.ts';
import { startNatsServer, type NatsHandle } from '../../orchestrator/natsServer.ts';

describe('chunks over a stock-limit nats-server', () => {
  let server: NatsHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ maxPayloadBytes: 1024 * 1024 });
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('reads max_payload from the server INFO; a 3 MiB message is refused whole and arrives chunked', async () => {
    const max = serverMaxPayload(nc);
    expect(max).toBe(1024 * 1024);
    const data = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131) & 0xff;
    expect(() => nc.publish('chunks.test', data)).toThrow(/max_payload|payload/i);
    const drops: string[] = [];
    const reassembler = new Reassembler((reason, sender, detail) => drops.push(`${reason} ${sender} ${detail}`));
    const got = new Promise<Uint8Array>((resolve) => {
      nc.subscribe('chunks.test', {
        callback: (_err, m) => {
          if (!isChunkFrame(m.data)) return;
          const whole = reassembler.add('leader', m.data);
          if (whole) resolve(whole);
        },
      });
    });
    await nc.flush();
    const frames = new Chunker().split(data, max);
    expect(frames.length).toBe(4);
    for (const f of frames) nc.publish('chunks.test', f);
    // Buffer.equals: a deep toEqual over 3 MiB takes half a minute
    expect(Buffer.from(await got).equals(data)).toBe(true);
    expect(drops).toEqual([]);
  });
});
