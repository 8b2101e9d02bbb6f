/**
 * Run by test/unit/first-request.test.ts as
 * `node --allow-natives-syntax --trace-migration --import tsx firstRequest.ts <scenario> <mechanism> <kind> <body json>`:
 * hosts 64 followers of the scenario's mechanism behind one broadcast fan-out, as a packed worker does
 * (their real runtimes, the host's reply batches and last-reply table, on a bus that takes what is
 * published and sends nothing), prints `first request` and hands them three broadcasts of `kind`.
 * Then prints one line of JSON: whether the decoded envelope's slot and round were V8 small integers.
 * V8's `--trace-migration` prints a line for each object moved to a new layout; the test counts
 * those after `first request`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { BroadcastFanout } from '../../agents/broadcast.ts';
import { FollowerRuntime, type FollowerDeps } from '../../agents/follower.ts';
import { HostCpu } from '../../agents/hostCpu.ts';
import { LastReplies } from '../../agents/lastReply.ts';
import { catalog } from '../../catalog/catalog.ts';
import { partsOf } from '../../scenarios/contract.ts';
import { decode, encodeEnvelope, runTag } from '../../bus/codec.ts';
import { ControlChannel, type Welcome } from '../../bus/control.ts';
import { Counters } from '../../bus/counters.ts';
import { ReplyBatches } from '../../bus/replyBatch.ts';

const [scenarioId, mechanism, kind, bodyJson] = process.argv.slice(2);
// a run whose tag is above 2^31 (as about half of all runs' are): not a small integer itself, it is
// what made V8 box every number of the decoded envelope
let RUN = '';
for (let i = 0; runTag(RUN) < 2 ** 31; i++) RUN = `${scenarioId}-20261204-000000-s1-t${i}`;
const isSmi = new Function('x', 'return %IsSmi(x)') as (x: unknown) => boolean;

const nc = { publish() {}, subscribe: () => ({ unsubscribe() {} }), info: { max_payload: 1 << 20 } } as unknown as NatsConnection;
const counters = new Counters();
const deps: FollowerDeps = {
  nc,
  run: RUN,
  hostId: 'w1',
  counters,
  channel: new ControlChannel(nc, RUN, counters, 'w1'),
  log: { error() {}, warn() {}, info() {} } as never,
  cpu: new HostCpu(),
  replies: new ReplyBatches(nc, { counters, rows: { run: RUN, host: 'w1' } }),
  lastReplies: new LastReplies(),
};
const scenario = catalog.get(scenarioId)!;
const cfg = scenario.resolve({ seed: 1, slots: 1, users: 64, mechanism, options: {} });
const parts = partsOf(scenario, mechanism);
const fanout = new BroadcastFanout(nc, RUN, counters, `mecsim.${RUN}.bc.ue`, 1 << 20);
const leader = parts.leaderId(cfg);
let position = 0;
for (const a of parts.agents(cfg)) {
  if (a.id === leader) continue;
  const w: Welcome = { id: a.id, role: a.role, index: a.index, scenario: scenarioId, mechanism: String(cfg.mechanism), init: parts.agentInit(cfg, a), leader, position: position++, roundTimeoutMs: 1000, maxBytes: 1 << 20 };
  fanout.add(new FollowerRuntime(deps, scenario, w));
}
const body = JSON.parse(bodyJson);
const deliver = (fanout as unknown as { onMessage(data: Uint8Array): void }).onMessage.bind(fanout);
console.log('first request');
for (let round = 1; round <= 3; round++) deliver(encodeEnvelope(RUN, 0, round, leader, kind, body));
const env = decode(encodeEnvelope(RUN, 0, 1, leader, kind, body), RUN);
if (!env.ok) throw new Error(env.detail);
console.log(JSON.stringify({ followers: position, slotSmi: isSmi(env.env.slot), roundSmi: isSmi(env.env.round), drops: counters.snapshot().drops ?? {} }));
