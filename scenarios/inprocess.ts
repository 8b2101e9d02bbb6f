/**
 * The in-process runner: executes a scenario's slot protocol with every follower created in this
 * process and every "message" a direct function call. It runs exactly the protocol the agents run
 * over NATS (same leader code, same follower handlers, same roster-ordered aggregation), so the
 * distributed run must reproduce its trajectory exactly. Used as the test oracle for protocol
 * equality and as the in-process timing baseline of the benchmarks.
 */
import { partsFor, roundResult, sortRoster } from './contract.ts';
import type { AgentSpec, Follower, JsonObject, Leader, RoundRequest, RoundResult, Scenario, SlotOutcome } from './types.ts';

export interface InProcessSlot {
  outcome: SlotOutcome;
  trajectory: Record<string, number | string | boolean | null>[];
  rounds: number;
  /** messages a distributed run would send for this slot's mechanism rounds (requests + replies) */
  messages: number;
}

export interface InProcessOptions {
  /**
   * Each request body and reply is copied (structuredClone) on its way, so a handler never shares an
   * object with the leader, as over a bus (default). false hands them over as they are: what the
   * scenario's own computation costs, with nothing of a transport (scripts/compute-cost.ts).
   */
  copyMessages?: boolean;
}

export class InProcessRun {
  private readonly followers = new Map<string, Follower>();
  private readonly roster: AgentSpec[];
  private readonly leader: Leader;
  private readonly leaderId: string;
  private readonly copy: <T>(x: T) => T;

  constructor(scenario: Scenario, cfg: JsonObject, options: InProcessOptions = {}) {
    this.copy = options.copyMessages === false ? (x) => x : (x) => structuredClone(x);
    const parts = partsFor(scenario, cfg);
    const agents = parts.agents(cfg);
    const leaderId = (this.leaderId = parts.leaderId(cfg));
    const leader = agents.find((a) => a.id === leaderId);
    if (!leader) throw new Error(`scenario ${scenario.id}: leader ${leaderId} is not among its agents`);
    this.leader = parts.createLeader(parts.agentInit(cfg, leader));
    this.roster = sortRoster(agents.filter((a) => a.id !== leaderId), scenario.roles);
    for (const a of this.roster) {
      this.followers.set(a.id, parts.createFollower(parts.agentInit(cfg, a), { id: a.id, role: a.role, index: a.index }));
    }
  }

  get followerCount(): number {
    return this.roster.length;
  }

  async runSlot(slot: number): Promise<InProcessSlot> {
    const trajectory: InProcessSlot['trajectory'] = [];
    let round = 0;
    let messages = 0;
    const leaderId = this.leaderId;
    const outcome = await this.leader.runSlot({
      slot,
      roster: this.roster,
      record: (row) => trajectory.push({ slot, ...row }),
      round: async <R = JsonObject>(req: RoundRequest): Promise<RoundResult<R>> => {
        round++;
        const targets = targetsOf(this.roster, req);
        const broadcast = !Array.isArray(req.to);
        messages += broadcast ? 1 : targets.length;
        const expect = req.expectReplies !== false;
        const replies: (R | undefined)[] = this.roster.map(() => undefined);
        // a broadcast to all (no `to`) addresses the whole roster: no set to build and ask
        const targetSet = req.to === undefined ? undefined : new Set(targets.map((t) => t.id));
        this.roster.forEach((a, i) => {
          if (targetSet && !targetSet.has(a.id)) return;
          const body = (req.bodies && req.bodies[a.id]) ?? req.body ?? {};
          const reply = this.followers.get(a.id)!.handle(req.kind, this.copy(body), { slot, round, from: leaderId });
          if (!expect) return;
          messages++; // the reply, or the nil acknowledgement the runtime sends for `undefined`
          if (reply !== undefined) replies[i] = this.copy(reply) as R;
        });
        return roundResult(replies);
      },
    });
    return { outcome, trajectory, rounds: round, messages };
  }
}

/** Followers in roster order: see contract.ts. */
export { sortRoster } from './contract.ts';

/** Each roster's id → agent index, built once: a roster is fixed for a run. */
const rosterIndexes = new WeakMap<AgentSpec[], Map<string, AgentSpec>>();

/** The agents a round request addresses, in roster order for broadcasts and list order for direct sends. */
export function targetsOf(roster: AgentSpec[], req: RoundRequest): AgentSpec[] {
  if (req.to === undefined) return roster;
  if (typeof req.to === 'string') return roster.filter((a) => a.role === req.to);
  // a roster is fixed for a run: its index is built once (a one-agent round must not cost O(roster))
  let byId = rosterIndexes.get(roster);
  if (!byId) rosterIndexes.set(roster, (byId = new Map(roster.map((a) => [a.id, a]))));
  return req.to.map((id) => {
    const a = byId.get(id);
    if (!a) throw new Error(`round ${req.kind}: unknown target ${id}`);
    return a;
  });
}
