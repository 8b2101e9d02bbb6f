/**
 * The raw NATS floor's worker: K plain subscribers on one connection, each answering every
 * broadcast with a tiny raw payload — no envelope, no validation, no decision logic. The benchmark
 * compares mecsim's per-round time with this, on the same server and the same process layout.
 *   node --import tsx orchestrator/floorWorker.ts <natsUrl> <prefix> <from> <to>
 */
import { connect } from '@nats-io/transport-node';

const [url, prefix, fromS, toS] = process.argv.slice(2);
const from = Number(fromS);
const to = Number(toS);
const nc = await connect({ servers: url, name: `mecsim-floor-${from}` });
const reply = `${prefix}.rep`;
for (let i = from; i <= to; i++) {
  const payload = new TextEncoder().encode(String(i));
  nc.subscribe(`${prefix}.bc`, { callback: (_e, m) => nc.publish(reply, m.data.length ? payload : payload) });
}
nc.subscribe(`${prefix}.stop`, { callback: () => void nc.drain().then(() => process.exit(0)) });
await nc.flush();
nc.publish(`${prefix}.ready`, new TextEncoder().encode(String(to - from + 1)));
if (process.send) process.on('disconnect', () => process.exit(0));
