/**
 * The raw NATS floor's worker: K plain subscribers on one connection, each answering every
 * broadcast with a tiny raw payload — no envelope, no validation, no decision logic. The benchmark
 * compares mecsim's per-round time with this, on the same server and the same process layout.
 *
 * `client` says how it reads and sends: `mecsim` (the bench's default floor) with mecsim's own
 * protocol path — the fast reader handing each payload straight to the subscriber (bus/fastparse.ts
 * `subscribeData`) and the one-buffer publish (bus/fastpublish.ts) — so the floor is NATS through
 * the fastest client path there is, the one mecsim's agents use; `stock` with the NATS client as it
 * comes (the second column).
 *
 * `sharedBroadcast` (1): one subscription to the broadcast subject for the whole process, whose
 * callback answers for each of its agents in turn — as mecsim's hosts take their agents' broadcasts
 * (agents/broadcast.ts) — instead of one subscription per agent (the server then writes the
 * broadcast once per process, not once per agent).
 *
 * `batchReplies` (1, with sharedBroadcast and replyBytes): the process's replies to a broadcast go
 * back to back in messages of at most BATCH_BYTES, as mecsim's hosts send them (bus/replyBatch.ts);
 * made once, so the floor pays only for NATS.
 *   node --import tsx orchestrator/floorWorker.ts <natsUrl> <prefix> <from> <to> [replyBytes hostSubject(0|1) client(mecsim|stock) sharedBroadcast(0|1) batchReplies(0|1)]
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { installFastParser, subscribeData } from '../bus/fastparse.ts';
import { publishFast } from '../bus/fastpublish.ts';
import { BATCH_BYTES } from '../bus/replyBatch.ts';
import { cpuMs } from '../agents/hostCpu.ts';
import { collectBeforeRounds } from '../agents/tiering.ts';

const [url, prefix, fromS, toS, replyBytesS, hostSubjectS, clientS, sharedS, batchS] = process.argv.slice(2);
/** matched mode: replies of this many bytes, on this process's own reply subject (like a mecsim host's) */
const replyBytes = Number(replyBytesS ?? 0);
const hostSubject = hostSubjectS === '1';
const from = Number(fromS);
const to = Number(toS);
const mecsimClient = (clientS ?? 'mecsim') === 'mecsim';
if (mecsimClient) installFastParser();
const send = mecsimClient ? (nc: NatsConnection, s: string, d: Uint8Array) => publishFast(nc, s, d) : (nc: NatsConnection, s: string, d: Uint8Array) => nc.publish(s, d);
const on = mecsimClient ? (nc: NatsConnection, s: string, cb: () => void) => subscribeData(nc, s, cb) : (nc: NatsConnection, s: string, cb: () => void) => nc.subscribe(s, { callback: cb });
// the bench gone (even killed, or mid-connect), this worker goes too; a channel closed before this line gives no event
if (process.send) {
  process.on('disconnect', () => process.exit(0));
  if (!process.connected) process.exit(0);
}
const nc = await connect({ servers: url, name: `mecsim-floor-${from}` });
const agents: { reply: string; payload: Uint8Array }[] = [];
for (let i = from; i <= to; i++) {
  const agent = { reply: hostSubject ? `${prefix}.rep.mec-0.ue.w${from}` : `${prefix}.rep`, payload: replyBytes > 0 ? new Uint8Array(replyBytes).fill(i & 0xff) : new TextEncoder().encode(String(i)) };
  agents.push(agent);
  if (sharedS !== '1') on(nc, `${prefix}.bc`, () => send(nc, agent.reply, agent.payload));
  on(nc, `${prefix}.to.${i}`, () => send(nc, agent.reply, agent.payload)); // one-to-one rounds
}
if (sharedS === '1' && batchS === '1' && replyBytes > 0) {
  const batches: Uint8Array[] = [];
  const per = Math.max(1, Math.floor(BATCH_BYTES / replyBytes));
  for (let i = 0; i < agents.length; i += per) {
    const group = agents.slice(i, i + per);
    const b = new Uint8Array(group.length * replyBytes);
    group.forEach((a, k) => b.set(a.payload, k * replyBytes));
    batches.push(b);
  }
  const reply = agents[0].reply;
  on(nc, `${prefix}.bc`, () => {
    for (const b of batches) send(nc, reply, b);
  });
} else if (sharedS === '1')
  on(nc, `${prefix}.bc`, () => {
    for (const a of agents) send(nc, a.reply, a.payload);
  });
let cpu0 = process.cpuUsage();
let warm0: NodeJS.CpuUsage | undefined;
// the driver's warm-up rounds are over: CPU from here is the warm figure (as mecsim's hosts mark the start of slot 1)
nc.subscribe(`${prefix}.warm`, { callback: () => void (warm0 = process.cpuUsage()) });
// told `stop` by the bench (over IPC, once the driver is done, so that this exit is never taken for a death): report the CPU
// time spent since ready (the rounds) and since the warm-up, like mecsim's agents report theirs, then exit
process.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  const sinceReady = cpuMs(process.cpuUsage(cpu0));
  const exit = () => void nc.drain().then(() => process.exit(0));
  process.send!({ cpuMs: sinceReady, warmCpuMs: warm0 ? cpuMs(process.cpuUsage(warm0)) : sinceReady }, exit);
});
await nc.flush();
collectBeforeRounds();
cpu0 = process.cpuUsage();
nc.publish(`${prefix}.ready`, new TextEncoder().encode(String(to - from + 1)));
