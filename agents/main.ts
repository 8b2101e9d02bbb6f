/**
 * The agent process: `mecsim agent --role ue --run <id> --index 0-249 --nats URL` (started as a
 * process from agents/bin.ts).
 * Hosts one agent (a single index) or several (a range or list: packed placement) on one NATS
 * connection, joins the run, serves until the orchestrator says shutdown, then exits.
 */
import { hostname } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import { AgentHost, EXIT_ORCHESTRATOR_SILENT } from './host.ts';
import { installFastParser } from '../bus/fastparse.ts';
import { NatsUnavailable, parseServers } from '../bus/connection.ts';
import { assertToken } from '../bus/subjects.ts';
import { MAX_AGENTS } from '../scenarios/common/schema.ts';
import type { RoleName } from '../scenarios/types.ts';
import { ROLE_NAME } from '../scenarios/contract.ts';
import { catalog } from '../catalog/catalog.ts';

export const AGENT_USAGE = `usage: mecsim agent --run <id> --role <role> [--index <i | a-b | i,j,…> | --join [--count <k>]] [--nats <url>] [--scenario <path|package>]
                    [--host-id <name>] [--user <u> --pass <p> | --token <t> | --creds <file>] [--tls-ca <file> [--tls-cert <file> --tls-key <file>]]
                    [--join-timeout <ms>] [--log-level <level>]

Starts agents of a run and joins them to the waiting orchestrator.
  --run          the run id printed by the orchestrator (subjects are mecsim.<token of the run id>.…)
  --role         the agents' role (its scenario's: ue, mec, cloud or broker for the built-in ones)
  --scenario     a scenario from outside mecsim (the folder, module or npm package given to
                 \`mecsim run\`); built-in scenarios need none
  --index        which agents: one index, a range a-b (inclusive) or a list; packed into this process
  --join         ask the orchestrator for the next free index instead (repeatable with --count)
  --count        with --join: how many agents this process hosts (default 1)
  --nats         server URL(s), comma-separated (default: $NATS_URL)
  --join-timeout how long to keep asking to join, e.g. while the orchestrator starts (ms, default 60000)
  --host-id      this process's name in the run's logs and summary (default <role>-<hostname>-p<pid>)
  --log-level    the log's level on stderr: fatal, error, warn, info, debug, trace or silent (default info)
  credentials    for a server that asks for them; each also read from the environment: MECSIM_NATS_USER,
                 MECSIM_NATS_PASS, MECSIM_NATS_TOKEN, MECSIM_NATS_CREDS, MECSIM_NATS_TLS_CA, _TLS_CERT, _TLS_KEY

exit codes: 0 the run completed (also for a spare that got no agent); 1 the run failed, or the join
did; 2 a usage error; 3 no NATS server, or the connection lost for good; 4 the orchestrator that
spawned this process is gone; 5 the orchestrator has been silent too long; 130 interrupted
`;

/** Where an agent count beyond MAX_AGENTS should go instead. */
const SPLIT_HINT = 'start several `mecsim agent` processes, each with part of the agents';

/**
 * `--index`: one index, a range a-b (inclusive) or a list of both. Indices are below MAX_AGENTS (no
 * run has more agents of a role) and listed once; the size is checked before the list is built, so
 * `0-3000000000` is refused, not an out-of-memory abort.
 */
export function parseIndexList(spec: string): number[] {
  const ranges: [number, number][] = [];
  let total = 0;
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`--index: "${part}" is not an index, a range a-b or a list`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--index: range ${part} is empty`);
    if (b >= MAX_AGENTS) throw new Error(`--index: ${part.trim()} goes beyond ${MAX_AGENTS - 1}: no run has more than ${MAX_AGENTS} agents of a role, so use indices 0-${MAX_AGENTS - 1}, and split a large range over several processes (e.g. --index 0-499999 and --index 500000-999999)`);
    total += b - a + 1;
    if (total > MAX_AGENTS) throw new Error(`--index ${spec} names more than ${MAX_AGENTS} agents, more than any run has; ${SPLIT_HINT}`);
    ranges.push([a, b]);
  }
  const out: number[] = [];
  const seen = new Set<number>();
  for (const [a, b] of ranges)
    for (let i = a; i <= b; i++) {
      if (seen.has(i)) throw new Error(`--index: ${i} is listed twice`);
      seen.add(i);
      out.push(i);
    }
  return out;
}

/** Node's timers hold at most 2^31 − 1 ms; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A flag that must be one NATS subject token (it becomes part of the run's subjects). */
function tokenFlag(flag: string, v: string, what: string): string | undefined {
  try {
    assertToken(flag, v);
    return undefined;
  } catch {
    return `${flag} ${JSON.stringify(v)} must be 1–64 characters of A–Z, a–z, 0–9, _ and - (${what})`;
  }
}

/** Every flag `mecsim agent` accepts (exported so docker-compose.yml's commands can be checked against it). */
export const AGENT_OPTIONS = {
  run: { type: 'string' },
  role: { type: 'string' },
  scenario: { type: 'string' },
  index: { type: 'string' },
  join: { type: 'boolean', default: false },
  count: { type: 'string' },
  nats: { type: 'string' },
  'host-id': { type: 'string' },
  user: { type: 'string' },
  pass: { type: 'string' },
  token: { type: 'string' },
  creds: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'join-timeout': { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h' },
} satisfies NonNullable<ParseArgsConfig['options']>;

/** The roles of the built-in scenarios (a scenario loaded with --scenario declares its own). */
export const AGENT_ROLES: readonly RoleName[] = [...new Set(catalog.all().flatMap((s) => s.roles))];

/** Default host id: role, host name and pid — containers all run as pid 1, so the host name tells them apart. */
export function defaultHostId(role: string, host = hostname(), pid = process.pid): string {
  const h = host.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${role}-${h}-p${pid}`;
}

/** How long a closing host may take to say goodbye before the process exits regardless. */
const SHUTDOWN_GRACE_MS = 2000;

/**
 * Close the host and exit after a grace period whatever it is doing: a flush or drain towards a
 * server that is going away at the same moment (the orchestrator's private server dies with it)
 * can wait for a reconnect that never comes.
 */
function shutdown(host: AgentHost, code: number): void {
  setTimeout(() => process.exit(code), SHUTDOWN_GRACE_MS).unref();
  void host.close(code);
}

/**
 * A spawned agent's stderr is a pipe to its orchestrator: once the orchestrator is gone every write
 * there fails (EPIPE), and the log stream's flush at exit (sonic-boom 4.2.1 `flushSync`) retries a
 * failed write for ever unless it is EAGAIN, which left orphaned agents asleep in that loop for
 * good. So the log is muted first, as pino itself does on a broken pipe it sees in time.
 */
function muteLog(log: pino.Logger): void {
  process.stderr.on('error', () => undefined);
  const stream = (log as unknown as Record<symbol, { write?: unknown; flushSync?: unknown; flush?: unknown } | undefined>)[pino.symbols.streamSym];
  if (!stream) return;
  stream.write = () => true;
  stream.flushSync = () => undefined;
  stream.flush = (cb?: (err?: Error) => void) => cb?.();
}

export async function agentMain(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: AGENT_OPTIONS,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`mecsim agent: ${(e as Error).message}\n${AGENT_USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const fail = (msg: string) => {
    process.stderr.write(`mecsim agent: ${msg}\n${AGENT_USAGE}`);
    return 2;
  };
  if (args.run === undefined) return fail('--run is required');
  const badRun = tokenFlag('--run', args.run, 'the run id the orchestrator printed');
  if (badRun) return fail(badRun);
  if (!args.role) return fail(`--role is required (${AGENT_ROLES.join(', ')} for the built-in scenarios)`);
  if (!ROLE_NAME.test(args.role)) return fail(`--role ${JSON.stringify(args.role)} is not a role name (a lower-case token of at most 32 characters, e.g. ${AGENT_ROLES.join(', ')})`);
  if (args.scenario !== undefined) {
    try {
      await catalog.load(args.scenario);
    } catch (e) {
      return fail(`--scenario: ${(e as Error).message}`);
    }
  }
  const nats = args.nats ?? process.env.NATS_URL;
  if (!nats) return fail('no NATS server: pass --nats nats://host:4222 or set NATS_URL');
  try {
    parseServers(nats);
  } catch (e) {
    return fail(`${args.nats !== undefined ? '--nats' : 'NATS_URL'}: ${(e as Error).message}`);
  }
  let indices: number[];
  try {
    if (args.join) {
      const n = args.count === undefined ? 1 : Number(args.count);
      if (!Number.isInteger(n) || n < 1) return fail('--count must be a positive integer');
      if (n > MAX_AGENTS) return fail(`--count ${args.count} is more than ${MAX_AGENTS}, more agents than any run has; ${SPLIT_HINT} (--join --count K each)`);
      indices = new Array(n).fill(-1);
    } else {
      if (args.index === undefined) return fail('--index is required (or --join)');
      indices = parseIndexList(args.index);
    }
  } catch (e) {
    return fail((e as Error).message);
  }
  const joinTimeoutMs = args['join-timeout'] === undefined ? undefined : Number(args['join-timeout']);
  if (joinTimeoutMs !== undefined && !(Number.isInteger(joinTimeoutMs) && joinTimeoutMs >= 1)) return fail('--join-timeout must be a positive integer (ms)');
  if (joinTimeoutMs !== undefined && joinTimeoutMs > MAX_TIMER_MS) return fail(`--join-timeout must be at most ${MAX_TIMER_MS} ms (about 24.8 days, Node's timer limit)`);
  if (!LOG_LEVELS.includes(args['log-level'])) return fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const role = args.role as RoleName;
  const env = process.env;
  if ((args['tls-cert'] ?? env.MECSIM_NATS_TLS_CERT) && !(args['tls-key'] ?? env.MECSIM_NATS_TLS_KEY)) return fail('--tls-cert needs --tls-key');
  const hostId = args['host-id'] ?? defaultHostId(role);
  const badHost = tokenFlag('--host-id', hostId, "this process's name in the run's subjects");
  if (badHost) return fail(badHost);
  const log = pino({ level: args['log-level'], base: { host: hostId, pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
  const host = new AgentHost({
    run: args.run,
    hostId,
    log,
    agents: indices.map((index) => ({ role, index })),
    joinTimeoutMs,
    // credentials may also come from the environment (the orchestrator passes generated ones this way, not on the command line)
    bus: {
      servers: nats,
      user: args.user ?? env.MECSIM_NATS_USER,
      pass: args.pass ?? env.MECSIM_NATS_PASS,
      token: args.token ?? env.MECSIM_NATS_TOKEN,
      creds: args.creds ?? env.MECSIM_NATS_CREDS,
      tlsCa: args['tls-ca'] ?? env.MECSIM_NATS_TLS_CA,
      tlsCert: args['tls-cert'] ?? env.MECSIM_NATS_TLS_CERT,
      tlsKey: args['tls-key'] ?? env.MECSIM_NATS_TLS_KEY,
    },
  });
  // the NATS client's parser replaced by a faster one (bus/fastparse.ts); MECSIM_STOCK_PARSER=1 keeps the stock one
  if (env.MECSIM_STOCK_PARSER !== '1' && !installFastParser()) log.warn('the NATS client is not the version bus/fastparse.ts reads: its own parser is used');
  // If the orchestrator that spawned us goes away, so do we: no orphans. A channel that closed while
  // this process was still loading gives no event, hence the check of `connected`.
  if (process.send) {
    const orphaned = () => {
      muteLog(log);
      shutdown(host, 4);
    };
    process.on('disconnect', orphaned);
    if (!process.connected) orphaned();
  }
  const stop = () => shutdown(host, 130);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await host.start();
  } catch (e) {
    log.error({ err: (e as Error).message }, 'agent start failed');
    process.stderr.write(`mecsim agent: ${(e as Error).message}\n`);
    // no server to reach is exit 3, as for `mecsim run`
    const code = e instanceof NatsUnavailable ? 3 : 1;
    await host.close(code);
    return code;
  }
  const code = await host.done;
  log.flush?.();
  // said on stderr for agents started by hand or in containers (spawned ones' stderr goes to agents.log)
  if (code === 0 && host.hosted.length === 0) process.stderr.write(`mecsim agent ${hostId}: run ${args.run} ended before this host was given an agent\n`);
  else if (code === 1) process.stderr.write(`mecsim agent ${hostId}: the orchestrator aborted run ${args.run}\n`);
  else if (code === 3) process.stderr.write(`mecsim agent ${hostId}: lost the NATS connection for good\n`);
  else if (code === EXIT_ORCHESTRATOR_SILENT) process.stderr.write(`mecsim agent ${hostId}: the orchestrator of run ${args.run} has been silent too long: taken for gone, exiting\n`);
  return code;
}

/** Runs `mecsim agent` with this process's arguments and exits with its code: an agent process's whole life. */
export function runAgentProcess(): void {
  agentMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`mecsim agent: ${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
