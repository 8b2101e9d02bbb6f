/**
 * Dynamic join: `mecsim run … --agents external` spawns no agent process (not even the leader) and
 * waits for agents started separately, as a user (or a docker compose cluster) would start them:
 * `mecsim agent --run <id> --role <r> --join [--count K] --nats URL`. Indices come from the join
 * order, parameters from the index, and replies are aggregated in index order, so the run must equal
 * the same configuration with spawned agents byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it, onTestFinished } from 'vitest';
import { killStarted, mecsim, type MecsimProcess } from '../helpers/mecsimProcess.ts';
import { startNatsCluster } from '../../orchestrator/natsServer.ts';
import { logWaiter, outDir, processesOf, resolveCfg, runDistributed } from '../helpers/run.ts';
import { scaledMs } from '../../bus/timeouts.ts';
import { stampConfig } from '../../scenarios/common/schema.ts';

/** The `mecsim agent …` lines the orchestrator prints on stderr for external agents. */
async function printedCommands(orch: MecsimProcess, timeoutMs = scaledMs(30_000)): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lines = orch.stderr().split('\n').map((l) => l.trim());
    const cmds = lines.filter((l) => l.startsWith('mecsim agent '));
    if (lines.some((l) => l.includes('start them with')) && cmds.length) return cmds;
    if (orch.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the orchestrator printed no agent commands:\n${orch.stderr()}`);
}

afterEach(killStarted);

describe('dynamic join (--agents external)', () => {
  it('agents started separately with --join equal the spawned run: same equilibrium, byte-identical trajectory.csv', async () => {
    // docker-compose.yml's topology with local processes: a 3-node NATS cluster, every process given all three URLs
    const cluster = await startNatsCluster(3);
    onTestFinished(() => cluster.stop());
    const url = cluster.url;
    const runId = `dynjoin-${process.pid}-${Date.now().toString(36)}`;
    const orch = mecsim(['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '2', '--users', '6', '--nats', url, '--out', outDir, '--round-timeout', String(scaledMs(20_000)), '--join-timeout', String(scaledMs(60_000)), '--json']);
    const cmds = await printedCommands(orch);
    expect(cmds).toEqual([`mecsim agent --run ${runId} --role mec --join --nats ${url}`, `mecsim agent --run ${runId} --role ue --join --count 6 --nats ${url}`]);
    expect(processesOf(runId).length).toBe(0); // nothing was spawned: no process carries the run id yet

    // the users in two processes of 3, and the leader exactly as printed
    const agents = [
      mecsim(['agent', '--run', runId, '--role', 'ue', '--join', '--count', '3', '--nats', url]),
      mecsim(['agent', '--run', runId, '--role', 'ue', '--join', '--count', '3', '--nats', url]),
      mecsim(cmds[0].split(' ').slice(1)),
    ];
    const done = await orch.exited;
    expect(done.code, orch.stderr()).toBe(0);
    for (const a of agents) expect((await a.exited).code, a.stderr()).toBe(0); // each left on the `shutdown` message
    expect(processesOf(runId)).toEqual([]);

    const ext = JSON.parse(orch.stdout());
    expect(ext.status).toBe('complete');
    expect(ext.placement).toBe('external');
    expect(ext.workers).toBe(3);
    expect(ext.runMetrics.processes.hosts.map((h: { agents: number }) => h.agents).sort()).toEqual([1, 3, 3]);
    expect(ext.external.roles).toEqual([
      { role: 'mec', count: 1, leader: true },
      { role: 'ue', count: 6, leader: false },
    ]);
    expect(ext.compare.ok).toBe(true);
    expect(ext.stateStore).toMatchObject({ kind: 'jetstream-kv', replicas: 3 });

    const cfg = resolveCfg('stackelberg', { seed: 2, users: 6 });
    expect(JSON.parse(readFileSync(join(outDir, runId, 'config.json'), 'utf8'))).toEqual(stampConfig(cfg));
    const spawned = await runDistributed('stackelberg', cfg, 'process');
    expect(ext.equilibrium).toEqual(spawned.equilibrium);
    expect(ext.reference).toEqual(spawned.reference);
    expect(ext.metrics.rounds).toBe(spawned.metrics.rounds);
    expect(ext.metrics.messages).toBe(spawned.metrics.messages);
    expect(readFileSync(join(outDir, runId, 'trajectory.csv'))).toEqual(readFileSync(join(outDir, spawned.runId, 'trajectory.csv')));
  });

  it('the join timeout names the missing agents, and the external agents that joined are told to exit', async () => {
    const url = inject('natsUrl');
    const runId = `dynjoin-missing-${process.pid}-${Date.now().toString(36)}`;
    // long enough for the one agent started to join on this machine, short enough to wait out
    const joinMs = scaledMs(8000);
    const orch = mecsim(['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '2', '--users', '6', '--nats', url, '--out', outDir, '--join-timeout', String(joinMs)]);
    await printedCommands(orch);
    const leader = mecsim(['agent', '--run', runId, '--role', 'mec', '--join', '--nats', url]);
    const done = await orch.exited;
    expect(done.code).toBe(1);
    expect(orch.stderr()).toMatch(new RegExp(`6 of 7 agents did not join within ${joinMs} ms: ue-0, ue-1, ue-2, ue-3, ue-4, ue-5`));
    expect((await leader.exited).code).toBe(1);
    expect(leader.stderr()).toContain(`aborted run ${runId}`);
    const summary = JSON.parse(readFileSync(join(outDir, runId, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.placement).toBe('external');
  });

  it('dead external hosts are replaced by spare replicas that join: a follower host and the leader killed together, the followers’ spare joining first; same result', async () => {
    const url = inject('natsUrl');
    const runId = `dynjoin-spare-${process.pid}-${Date.now().toString(36)}`;
    const slots = 12;
    // heartbeats every 600 ms: a host silent for 3 s is taken for dead (a busy CI machine can stall a process for 1 s); longer on a loaded machine
    const orch = mecsim(['run', 'stackelberg', '--agents', 'external', '--run-id', runId, '--seed', '3', '--users', '6', '--slots', String(slots), '--mechanism', 'gsrp-step', '--nats', url, '--out', outDir, '--json'], { MECSIM_HEARTBEAT_MS: String(scaledMs(600)) });
    await printedCommands(orch);
    const agent = (role: string, count = 1) => mecsim(['agent', '--run', runId, '--role', role, '--join', '--count', String(count), '--nats', url]);
    const leader = agent('mec');
    const a = agent('ue', 3);
    const b = agent('ue', 3);
    const runLog = join(outDir, runId, 'run.log');
    const until = logWaiter(runLog, { ended: () => orch.child.exitCode !== null, stderr: orch.stderr });
    await until(/all agents joined/, 'join');
    await until(/"slot":2,/, 'slot 2');
    // A follower host and the leader die together. The followers' spare joins first, while there is
    // no leader to replay their slot to them: the leader's spare, joining after, must do it (else those
    // followers stay silent and every round waits for its deadline).
    b.child.kill('SIGKILL');
    leader.child.kill('SIGKILL');
    const spareUe = agent('ue', 3);
    await until(/(ue-\d rejoined \(replacement\)[^]*){3}/, 'the followers’ replacement');
    expect(readFileSync(runLog, 'utf8')).not.toMatch(/mec-0 rejoined/);
    const spareLeader = agent('mec');
    const done = await orch.exited;
    expect(done.code, orch.stderr()).toBe(0);
    for (const p of [a, spareUe, spareLeader]) expect((await p.exited).code, p.stderr()).toBe(0);
    expect(processesOf(runId)).toEqual([]);
    const ext = JSON.parse(orch.stdout());
    expect(ext.status).toBe('complete');
    const restarts = ext.runMetrics.restarts;
    expect(restarts.map((r: any) => [r.agents, r.leader]).sort()).toEqual([[1, true], [3, false]]);
    expect(restarts.every((r: any) => /no heartbeat/.test(r.reason) && r.slot >= 2 && r.slot < slots && r.rejoinMs >= 0)).toBe(true);
    // the server's "no responders" answers while the leader was dead are not counted as malformed messages
    expect(ext.runMetrics.drops.malformed ?? 0).toBe(0);

    const cfg = resolveCfg('stackelberg', { seed: 3, users: 6, slots, mechanism: 'gsrp-step' });
    const spawned = await runDistributed('stackelberg', cfg, 'packed:3');
    // (gsrp-step stops on a local maximum in some slots of this seed: compare.ok is compared, not required)
    const outcome = (x: any) => x.perSlot.map((r: any) => [r.equilibrium, r.metrics.rounds, r.metrics.messages, r.compare.ok]);
    expect(outcome(ext)).toEqual(outcome(spawned));
    expect(readFileSync(join(outDir, runId, 'trajectory.csv'))).toEqual(readFileSync(join(outDir, spawned.runId, 'trajectory.csv')));
  });
});
