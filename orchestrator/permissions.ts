/**
 * Per-role NATS users for a private server the orchestrator starts. Every user is confined to the
 * run's subjects (`mecsim.<r>.…`, r = the run's subject token):
 *   - the orchestrator: everything under the run, and the JetStream API for the run's KV bucket;
 *   - the leader's process: may publish broadcasts and direct messages (`bc.>`, `to.>`), its join,
 *     and answers to the orchestrator's requests; subscribes to its replies and its control subjects;
 *   - each follower worker: may publish only the reply subjects of the agents it hosts
 *     (`rep.<leader>.<agent>`), join requests and answers to the orchestrator; subscribes to its
 *     role's broadcasts and its agents' direct subjects.
 * So a user agent that publishes a price (or answers for another agent) is refused by the server,
 * which logs the violation (nats-server.log in the run folder); the run is unaffected.
 */
import { randomBytes } from 'node:crypto';
import type { AgentSpec } from '../scenarios/types.ts';
import { subjects } from '../bus/subjects.ts';

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

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`;

export function runAuth(runId: string, leaderId: string, workers: { id: string; agents: AgentSpec[] }[]): RunAuth {
  const s = subjects(runId);
  const cred = (user: string): Credential => ({ user, pass: randomBytes(18).toString('base64url') });
  const orchestrator = cred('orchestrator');
  const hosts: Record<string, Credential> = {};
  const users: string[] = [];
  const user = (c: Credential, pub: string[], sub: string[]) => users.push(`    { user: ${q(c.user)}, password: ${q(c.pass)}, permissions: { publish: { allow: ${list(pub)} }, subscribe: { allow: ${list(sub)} } } }`);
  // the orchestrator also keeps the leader's state in the run's JetStream KV bucket (JetStream API + the bucket's subjects)
  user(orchestrator, [s.all, '$JS.API.>', `$KV.mecsim-${runId}.>`], [s.all]);
  const answers = `${s.inbox('orch')}.>`; // replies to the orchestrator's requests (slot-done, bye)
  for (const w of workers) {
    const c = cred(w.id);
    hosts[w.id] = c;
    const ownInbox = `${s.inbox(w.id)}.>`;
    if (w.agents.some((a) => a.id === leaderId)) user(c, [`${s.base}.bc.>`, `${s.base}.to.>`, s.join, answers], [s.replyWildcard(leaderId), s.ctl(leaderId), s.ctlAll, ownInbox]);
    else {
      const roles = [...new Set(w.agents.map((a) => a.role))];
      user(
        c,
        [s.join, answers, ...w.agents.map((a) => s.reply(leaderId, a.id))],
        [s.ctlAll, ownInbox, ...roles.map((r) => s.bcast(r)), ...w.agents.map((a) => s.direct(a.id))],
      );
    }
  }
  return { config: `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}`, orchestrator, hosts };
}
