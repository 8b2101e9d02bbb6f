/**
 * Per-role NATS users for a private server the orchestrator starts. Every user is confined to the
 * run's subjects (`mecsim.<r>.…`, r = the run's subject token), and every control subject has one
 * publisher (bus/subjects.ts has the table):
 *   - the orchestrator: everything under the run, and the JetStream API for the run's KV bucket;
 *     it alone publishes control (`ctl.<agent>`, `ctl.all`) and join replies, and it alone
 *     subscribes to the joins (`join.*`) and its own inboxes (`inbox.orch.>`);
 *   - the leader's host: publishes broadcasts and direct messages (`bc.>`, `to.>`), its own join
 *     (`join.<host>`), the slot answers (`inbox.orch.slots`), the replay confirmations
 *     (`inbox.orch.replayed`) and its own `bye` (`inbox.orch.bye.<host>`); subscribes to its
 *     replies, its control subjects and its own request inbox;
 *   - each follower host: publishes only its own reply subjects, one per role it hosts
 *     (`rep.<leader>.<role>.<host>`), its own join, failure reports about its own agents
 *     (`inbox.orch.failed.<host>`) and its own `bye`; subscribes to its roles' broadcasts, its
 *     agents' direct subjects, `ctl.all` and its own request inbox.
 * So a user agent that publishes a price, answers for another host's agent, forges a slot answer, reports
 * another host's agent as failed or speaks as another host is refused by the server, which logs the
 * violation (nats-server.log in the run folder); the run is unaffected. The orchestrator and the
 * leader still check that the host in the subject may speak for the envelope's sender (the leader
 * from the placement in its welcome): the permissions fix the host, not the agent.
 *
 * Size: a follower's subscribe list names each of its agents' direct subjects, which is the bulk of
 * the file; everything else is a few patterns per host (test/unit/permissions.test.ts keeps it bounded).
 */
import { randomBytes } from 'node:crypto';
import type { AgentSpec } from '../scenarios/types.ts';
import { assertToken, subjects } from '../bus/subjects.ts';

export interface Credential {
  user: string;
  pass: string;
}

export interface RunAuth {
  /** nats-server configuration text (an `authorization` block) */
  config: string;
  orchestrator: Credential;
  /** per worker host id (`leader`, `w1`, …) */
  hosts: Record<string, Credential>;
}

/** What one NATS user may publish and subscribe to (allow lists; anything else is refused). */
export interface Rules {
  publish: string[];
  subscribe: string[];
}

export interface PlannedHost {
  id: string;
  agents: AgentSpec[];
}

/** The orchestrator's own inboxes are `inbox.orch.…`: a host with this id would own them. */
const ORCHESTRATOR_INBOX = 'orch';

/**
 * The subject patterns each role of one run may use. Written against the subject scheme itself
 * (the run's root and the table above), not against the runtime's helpers, so that what the server
 * enforces is read here in one place.
 */
export class RunPermissions {
  private readonly base: string;

  constructor(
    private readonly runId: string,
    private readonly leaderId: string,
  ) {
    this.base = subjects(runId).base;
  }

  orchestrator(): Rules {
    const all = `${this.base}.>`;
    // the leader's state after each slot lives in the run's JetStream KV bucket: the JetStream API and the bucket's subjects
    return { publish: [all, '$JS.API.>', `$KV.mecsim-${this.runId}.>`], subscribe: [all] };
  }

  /** the rules of a planned host: the leader's if it hosts the leader (the leader is always alone), else a follower host's */
  host(h: PlannedHost): Rules {
    this.checkHostId(h.id);
    return h.agents.some((a) => a.id === this.leaderId) ? this.leaderHost(h.id) : this.followerHost(h.id, h.agents);
  }

  leaderHost(hostId: string): Rules {
    const b = this.base;
    return {
      publish: [`${b}.bc.>`, `${b}.to.>`, this.join(hostId), `${b}.inbox.orch.slots`, `${b}.inbox.orch.replayed`, this.bye(hostId)],
      subscribe: [`${b}.rep.${this.leaderId}.*.*`, `${b}.ctl.${this.leaderId}`, `${b}.ctl.all`, this.ownInbox(hostId)],
    };
  }

  followerHost(hostId: string, agents: AgentSpec[]): Rules {
    const b = this.base;
    const roles = [...new Set(agents.map((a) => a.role))];
    return {
      publish: [this.join(hostId), `${b}.inbox.orch.failed.${hostId}`, this.bye(hostId), ...roles.map((r) => `${b}.rep.${this.leaderId}.${r}.${hostId}`)],
      subscribe: [`${b}.ctl.all`, this.ownInbox(hostId), ...roles.map((r) => `${b}.bc.${r}`), ...agents.map((a) => `${b}.to.${a.id}`)],
    };
  }

  private join(hostId: string): string {
    return `${this.base}.join.${hostId}`;
  }

  private bye(hostId: string): string {
    return `${this.base}.inbox.orch.bye.${hostId}`;
  }

  /** the host's request inbox, where the orchestrator's join replies arrive */
  private ownInbox(hostId: string): string {
    return `${this.base}.inbox.${hostId}.>`;
  }

  private checkHostId(hostId: string): void {
    assertToken('host id', hostId);
    if (hostId === ORCHESTRATOR_INBOX) throw new Error(`host id "${hostId}" is reserved: its inbox would be the orchestrator's`);
  }
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`;

/** One user per line (the per-agent lists make a line long, not the file deep). */
function userLine(c: Credential, r: Rules): string {
  return `{ user: ${q(c.user)}, password: ${q(c.pass)}, permissions: { publish: ${list(r.publish)}, subscribe: ${list(r.subscribe)} } }`;
}

function credential(user: string): Credential {
  return { user, pass: randomBytes(18).toString('base64url') };
}

export function runAuth(runId: string, leaderId: string, workers: PlannedHost[]): RunAuth {
  const perms = new RunPermissions(runId, leaderId);
  const orchestrator = credential('orchestrator');
  const hosts: Record<string, Credential> = {};
  const lines = [userLine(orchestrator, perms.orchestrator())];
  for (const w of workers) {
    if (w.id === orchestrator.user) throw new Error(`host id "${w.id}" is reserved: it is the orchestrator's user`);
    if (w.id in hosts) throw new Error(`host id "${w.id}" is planned twice`);
    hosts[w.id] = credential(w.id);
    lines.push(userLine(hosts[w.id], perms.host(w)));
  }
  return { config: `authorization {\nusers = [\n${lines.join('\n')}\n]\n}`, orchestrator, hosts };
}
