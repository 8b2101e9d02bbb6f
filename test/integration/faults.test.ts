/**
 * Faults survived, over real nats-server processes and real agent processes:
 *   - a follower process killed with SIGKILL mid-slot is restarted by the orchestrator (its
 *     supervisor), rejoins, is given its state at the slot's start and the slot's messages again,
 *     and the run ends with the same equilibrium, rounds and message counts as an undisturbed run;
 *   - one nats-server of a 3-node cluster (started here) killed mid-run: clients reconnect to the
 *     other nodes, lost requests and replies are re-sent, and the result is the same;
 *   - the leader killed mid-run: restarted from its state after the last completed slot, kept in a
 *     JetStream KV bucket replicated on the cluster, it re-runs the slot in progress — same result;
 *     with no JetStream to keep that state, the run ends with an error that says so;
 *   - a follower and the leader killed together: the new leader replays the slot to the new
 *     follower (same result), or, when that follower keeps state across slots (held only by the dead
 *     leader), the run ends with an error naming it.
 * "Mid-slot": the kill is sent 30–100 ms after the orchestrator asks for slot 1, and the summary's
 * `restarts` must record slot 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from '../../orchestrator/natsServer.ts';
import type { RunOptions } from '../../orchestrator/run.ts';
import { processesOf, resolveCfg, runDistributed } from '../helpers/run.ts';

/** Per slot: the equilibrium and the mechanism's rounds and messages (what must not change). */
const outcome = (s: Record<string, any>) => s.perSlot.map((r: any) => ({ eq: r.equilibrium, rounds: r.metrics.rounds, messages: r.metrics.messages, ok: r.compare.ok }));

/**
 * Options that kill, `delayMs` after slot 1 is asked for, each target: `leader`, `@<agent id>`
 * (the process hosting that agent) or `node` (the cluster node with the most client connections).
 */
function killAtSlot1(targets: string[], delayMs: number, cluster?: NatsCluster): Partial<RunOptions> & { killed: string[] } {
  const pids = new Map<string, number>();
  const killed: string[] = [];
  let fired = false;
  return {
    killed,
    onSpawn: (w) => {
      pids.set(w.id, w.pid);
      for (const a of w.agents) pids.set(`@${a}`, w.pid);
    },
    onProgress: (p) => {
      if (p.phase !== 'slot' || p.slot !== 1 || p.line !== undefined || fired) return;
      fired = true;
      setTimeout(async () => {
        for (const t of targets) {
          if (t === 'node') {
            const conns = await Promise.all(cluster!.nodes.map((n) => n.connections()));
            const i = conns.indexOf(Math.max(...conns));
            await cluster!.nodes[i].kill('SIGKILL');
            killed.push(`${cluster!.nodes[i].name} (${conns[i]} clients)`);
          } else {
            process.kill(pids.get(t)!, 'SIGKILL');
            killed.push(t);
          }
        }
      }, delayMs);
    },
  };
}

describe('a follower process killed mid-slot', () => {
  it('budget-nash (UEs keep state across slots): restarted, resumed from its slot-start state, same run', async () => {
    const cfg = resolveCfg('budget-nash', { seed: 2, slots: 3, users: 10 });
    const clean = await runDistributed('budget-nash', cfg, 'packed:5');
    const k = killAtSlot1(['@ue-3'], 30);
    // a private server (per-role users, JetStream): the restarted worker gets the same credential
    const hurt = await runDistributed('budget-nash', cfg, 'packed:5', { ...k, natsUrl: undefined });
    expect(k.killed).toEqual(['@ue-3']);
    expect(hurt.status).toBe('complete');
    expect(hurt.runMetrics.restarts).toHaveLength(1);
    expect(hurt.runMetrics.restarts[0]).toMatchObject({ leader: false, slot: 1, reason: 'exited on SIGKILL' });
    expect(hurt.runMetrics.restarts[0].rejoinMs).toBeGreaterThan(0);
    expect(outcome(hurt)).toEqual(outcome(clean));
    expect(hurt.ok).toBe(true);
    expect(processesOf(hurt.runId)).toEqual([]);
  });

  it('offload-energy nash (state within the slot): the slot is replayed to the new process, same run', async () => {
    const cfg = resolveCfg('offload-energy', { seed: 4, slots: 2, users: 60, mechanism: 'nash' });
    const clean = await runDistributed('offload-energy', cfg, 'packed:10');
    const k = killAtSlot1(['@ue-7'], 30);
    const hurt = await runDistributed('offload-energy', cfg, 'packed:10', k);
    expect(hurt.runMetrics.restarts.map((r: any) => [r.slot, r.leader])).toEqual([[1, false]]);
    expect(outcome(hurt)).toEqual(outcome(clean));
    expect(hurt.ok).toBe(true);
  });
});

describe('a 3-node NATS cluster', () => {
  let cluster: NatsCluster;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('one node killed mid-run: clients reconnect, lost messages are re-sent, same result', async () => {
    const cfg = resolveCfg('stackelberg', { seed: 5, slots: 3, users: 40 });
    const clean = await runDistributed('stackelberg', cfg, 'packed:8', { natsUrl: cluster.url });
    const k = killAtSlot1(['node'], 50, cluster);
    const hurt = await runDistributed('stackelberg', cfg, 'packed:8', { ...k, natsUrl: cluster.url });
    expect(k.killed).toHaveLength(1);
    expect(hurt.status).toBe('complete');
    expect(hurt.runMetrics.restarts).toEqual([]); // nobody died: the processes reconnected
    expect(outcome(hurt)).toEqual(outcome(clean));
    expect(hurt.ok).toBe(true);
    const alive = cluster.nodes.filter((n) => !k.killed[0].startsWith(n.name));
    expect(alive).toHaveLength(2);
  });

  it('the leader killed mid-run resumes from its state in JetStream KV (replicated on 3 nodes), same result', async () => {
    // a fresh cluster: the previous test killed one node
    await cluster.stop();
    cluster = await startNatsCluster(3);
    // budget-nash's broker carries the virtual queue Z from slot to slot: a fresh broker would restart Z at 1
    const cfg = resolveCfg('budget-nash', { seed: 3, slots: 4, users: 10, options: { cbar: 8000 } });
    const clean = await runDistributed('budget-nash', cfg, 'packed:10', { natsUrl: cluster.url });
    expect(clean.perSlot.at(-1).equilibrium.Z).toBeGreaterThan(1); // the state matters in this run
    const k = killAtSlot1(['leader', 'node'], 100, cluster);
    const hurt = await runDistributed('budget-nash', cfg, 'packed:10', { ...k, natsUrl: cluster.url });
    expect(hurt.stateStore).toMatchObject({ kind: 'jetstream-kv', replicas: 3 });
    // killed 100 ms into slot 1: a fast slot can end before that, so the leader dies in slot 1 or a later one, never after the last
    const restarts = hurt.runMetrics.restarts.map((r: any) => [r.worker, r.slot]);
    expect(restarts).toHaveLength(1);
    expect(restarts[0][0]).toBe('leader');
    expect(restarts[0][1]).toBeGreaterThanOrEqual(1);
    expect(restarts[0][1]).toBeLessThanOrEqual(3);
    expect(outcome(hurt)).toEqual(outcome(clean));
    expect(hurt.ok).toBe(true);
    expect(processesOf(hurt.runId)).toEqual([]);
  });

  // A follower's process and the leader's killed together: the dead leader never replays the follower's
  // slot, so the orchestrator asks the leader that replaces it (the replay is confirmed, or asked again).
  it('a follower and the leader killed together (state within the slot): the new leader replays the slot to the new follower, same run', async () => {
    const cfg = resolveCfg('offload-energy', { seed: 4, slots: 2, users: 60, mechanism: 'nash' });
    const clean = await runDistributed('offload-energy', cfg, 'packed:10', { natsUrl: cluster.url });
    const k = killAtSlot1(['leader', '@ue-7'], 30);
    const hurt = await runDistributed('offload-energy', cfg, 'packed:10', { ...k, natsUrl: cluster.url });
    expect(hurt.runMetrics.restarts.map((r: any) => [r.slot, r.leader]).sort()).toEqual([[1, false], [1, true]]);
    expect(outcome(hurt)).toEqual(outcome(clean));
    expect(hurt.ok).toBe(true);
    expect(processesOf(hurt.runId)).toEqual([]);
  });

  it('a follower that keeps state across slots and the leader killed together: the run ends saying that follower’s state was lost', async () => {
    // a fresh cluster: the leader test killed one node, and the leader's state needs the KV bucket
    // (on a cluster missing a node, creating it can time out and the run would fail for that instead)
    await cluster.stop();
    cluster = await startNatsCluster(3);
    const cfg = resolveCfg('budget-nash', { seed: 3, slots: 3, users: 10 });
    const k = killAtSlot1(['leader', '@ue-3'], 30);
    let err: any;
    await runDistributed('budget-nash', cfg, 'packed:5', { ...k, natsUrl: cluster.url }).catch((e) => (err = e));
    const { readFileSync } = await import('node:fs');
    const summary = JSON.parse(readFileSync(`${err.runDir}/summary.json`, 'utf8'));
    expect(summary.stateStore).toMatchObject({ kind: 'jetstream-kv' }); // the leader could resume: the follower is what failed
    expect(err?.message).toMatch(/agent ue-\d cannot go on: it keeps state across slots, and its state at the start of slot 1 was lost/);
    expect(summary.status).toBe('failed');
    expect(summary.perSlot).toHaveLength(1);
    expect(processesOf(summary.runId)).toEqual([]);
  });
});

describe('the leader killed with no JetStream to keep its state', () => {
  it('ends the run with an error saying the state was not kept; no orphan processes', async () => {
    // the tests' shared server runs without JetStream
    const cfg = resolveCfg('budget-nash', { seed: 1, slots: 4, users: 10 });
    const k = killAtSlot1(['leader'], 50);
    let err: any;
    await runDistributed('budget-nash', cfg, 'packed:10', k).catch((e) => (err = e));
    expect(err?.message).toMatch(/leader broker died after slot 0 and its state was not kept \(no JetStream KV/);
    const { readFileSync } = await import('node:fs');
    const summary = JSON.parse(readFileSync(`${err.runDir}/summary.json`, 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.perSlot).toHaveLength(1);
    expect(processesOf(summary.runId)).toEqual([]);
  });
});
