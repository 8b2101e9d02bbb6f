/**
 * The schema of a run's summary.json (published as schemas/summary.schema.json).
 *
 * It pins what a reader relies on — the run's identity and status, the provenance, each slot's
 * outcome beside its reference with the comparison, the run's metrics and faults — with their types.
 * Objects stay open (`additionalProperties` allowed): a scenario's outcome keys (`equilibrium`,
 * `reference`, `baselines`, `results`) are its own, documented in docs/scenarios/, and a field added
 * later must not make an older reader's validation fail. A summary that the disk had room only for
 * its core fields (`truncated`) still validates: everything beyond them is optional.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { SCHEMA_VERSION } from '../scenarios/common/schema.ts';

const open = (props: Record<string, TSchema>, required: string[] = [], description?: string) => {
  const p: Record<string, TSchema> = {};
  for (const [k, s] of Object.entries(props)) p[k] = required.includes(k) ? s : Type.Optional(s);
  return Type.Object(p, { additionalProperties: true, ...(description ? { description } : {}) });
};
/** a JSON number; JSON has no NaN or Infinity, which JSON.stringify writes as null */
const Num = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
const Int = (description: string, minimum = 0) => Type.Integer({ minimum, description });
const Str = (description: string) => Type.String({ description });
const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$';
const Obj = (description: string) => Type.Object({}, { additionalProperties: true, description });
const Stats = (description: string) => open({ p50: Num('median'), p95: Num('95th percentile'), max: Num('maximum'), mean: Num('mean'), count: Int('number of values') }, [], description);

const Provenance = open(
  {
    mecsim: open(
      {
        version: Type.Union([Type.String(), Type.Null()], { description: 'mecsim version (package.json)' }),
        commit: Str('git commit of the mecsim checkout; absent when not run from a git checkout'),
        dirty: Type.Boolean({ description: 'tracked files differed from the commit' }),
      },
      ['version'],
    ),
    node: Str('Node.js version (process.version)'),
    natsServer: open({ version: Type.Union([Type.String(), Type.Null()], { description: "the server's version from its INFO" }), owned: Type.Union([Type.Boolean(), Type.Null()], { description: 'true: the private server mecsim started; false: an external one' }) }, ['version']),
    host: open({ name: Str('host name'), platform: Str('os.platform()'), release: Str('os.release()'), arch: Str('os.arch()'), cpus: Int('logical CPUs'), usableCores: Int('the cores mecsim may use: the CPUs it may run on, capped by its cgroup\'s CPU quota (bus/cores.ts); what --placement auto packs by'), cpuModel: Str('CPU model'), totalMemoryBytes: Int('total memory, bytes') }, ['cpus', 'totalMemoryBytes']),
    command: open({ argv: Type.Array(Type.String(), { description: 'the command line (passwords and tokens replaced by ***)' }), cwd: Str('working folder') }, ['argv']),
    configSha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of config.json as canonical JSON (keys sorted, no whitespace)' }),
  },
  ['mecsim', 'node', 'natsServer', 'host', 'command', 'configSha256'],
  'what produced the run',
);

const Compare = open(
  {
    ok: Type.Boolean({ description: 'the distributed slot equals what it was compared with, within the scenario’s tolerance' }),
    gap: Num('relative error between the distributed slot and what it was compared with'),
    note: Str('why, in words'),
    against: Str('what the slot was compared with (absent: the reference solver)'),
    optimum: open({ label: Str('the compared quantity'), value: Num('the optimum’s value'), gapPct: Num('the rule’s distance from the optimum, %') }, ['label', 'value', 'gapPct']),
  },
  ['ok', 'gap'],
);

const SlotMetrics = open(
  {
    rounds: Int('message rounds'),
    messages: Int('messages of the mechanism'),
    bytes: Int('bytes of the mechanism’s messages'),
    timeToEquilibriumMs: Num('ms from the slot’s start to its outcome'),
    missingReplies: Int('replies missing at round deadlines'),
    resent: Int('requests re-sent'),
    roundLatency: Stats('round latency, ms'),
  },
  ['rounds', 'messages', 'bytes', 'timeToEquilibriumMs'],
);

const Slot = open(
  {
    slot: Int('slot index, from 0'),
    equilibrium: Obj('the distributed outcome (the scenario’s keys)'),
    converged: Type.Boolean({ description: 'the mechanism’s own stopping criterion was met' }),
    notes: Type.Array(Type.String()),
    extra: Obj('scenario-specific per-slot values'),
    reference: Obj('the centralized reference on the same parameters (the scenario’s keys)'),
    baselines: Obj('baselines on the same parameters'),
    compare: Compare,
    metrics: SlotMetrics,
  },
  ['slot', 'equilibrium', 'reference', 'compare', 'metrics'],
);

const RunMetrics = open(
  {
    slots: Int('slots completed'),
    rounds: Int('message rounds, all slots'),
    messages: Int('messages of the mechanism, all slots'),
    bytes: Int('bytes of the mechanism’s messages, all slots'),
    timeToEquilibriumMs: Stats('per-slot time to equilibrium, ms'),
    roundLatencyMs: Stats('round latency, ms'),
    agentStartToJoinedMs: Stats('agent start to joined, ms'),
    resent: Int('requests re-sent'),
    missingReplies: Int('replies missing at round deadlines'),
    restarts: Type.Array(Obj('one agent-process restart')),
    workers: Int('agent processes'),
    counters: Obj('message counters: mecsim’s own and the server’s'),
    drops: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'messages dropped, by cause' }),
    processes: Obj('agent processes: CPU and memory'),
  },
  ['slots', 'rounds', 'messages', 'bytes'],
);

const Faults = open(
  { missingReplies: Int('replies missing at round deadlines'), resent: Int('requests re-sent'), restarts: Int('agent processes restarted'), drops: Int('messages dropped'), clean: Type.Boolean({ description: 'none of the first three happened' }) },
  ['missingReplies', 'resent', 'restarts', 'drops', 'clean'],
);

export const SUMMARY_SCHEMA = open(
  {
    schemaVersion: Type.Literal(SCHEMA_VERSION, { description: 'the version of this file’s format' }),
    status: Type.Union(['running', 'complete', 'failed', 'interrupted', 'abandoned'].map((s) => Type.Literal(s)), { description: 'how the run ended (running: not yet, or its orchestrator died)' }),
    ok: Type.Boolean({ description: 'every slot equals what it was compared with' }),
    runId: Str('the run id (its folder’s name)'),
    scenario: Str('scenario id'),
    mechanism: Str('mechanism id'),
    seed: Type.Integer({ description: 'the run seed' }),
    slotsPlanned: Int('slots the run was to have', 1),
    startedAt: Type.String({ pattern: ISO_TIME, description: 'ISO 8601 UTC time' }),
    finishedAt: Type.String({ pattern: ISO_TIME, description: 'ISO 8601 UTC time' }),
    error: Str('why the run failed or was interrupted'),
    truncated: Str('the disk was full: only the core fields could be written'),
    host: Str('the orchestrator’s host name'),
    provenance: Provenance,
    agents: open({ total: Int('agents', 1), followers: Int('followers'), leader: Str('the leader’s id') }, ['total', 'followers', 'leader']),
    placement: Str('how agents were placed in processes'),
    perSlot: Type.Array(Slot, { description: 'one record per completed slot' }),
    equilibrium: Obj('slot 0’s outcome, when the run has one slot'),
    reference: Obj('slot 0’s reference, when the run has one slot'),
    baselines: Obj('slot 0’s baselines, when the run has one slot'),
    compare: Compare,
    metrics: SlotMetrics,
    results: Obj('run-level results of the reference side (long-run averages, claims …)'),
    runMetrics: RunMetrics,
    faults: Faults,
  },
  ['schemaVersion', 'status', 'runId', 'scenario', 'mechanism', 'seed'],
  'summary.json of one mecsim run',
);
