/**
 * The run's link model as the orchestrator plans it: the `link` section of the resolved config
 * (config file and flags, bus/link.ts) checked against the run's roles, each agent's delay factor
 * (from the scenario's optional `linkFactor` hook, e.g. by distance), and what each welcome carries
 * of it. Without a `link` section there is no plan, and the agents run without the model at all.
 */
import { checkFactor, LinkConfigError, LinkModel, type LinkSection, type LinkWelcome } from '../../bus/link.ts';
import type { AgentSpec, JsonObject, Scenario } from '../../scenarios/types.ts';
import type { Faults } from './resultsWriter.ts';
import { RunError } from './plan.ts';

export class LinkPlan {
  private constructor(
    readonly section: LinkSection,
    readonly model: LinkModel,
    private readonly seed: number,
    private readonly leader: AgentSpec,
    /** per agent id, when the scenario gives factors (absent: every factor is 1) */
    private readonly factors: Map<string, number> | undefined,
    /** the followers' roles */
    private readonly roles: string[],
  ) {}

  /** The plan for `cfg` (undefined without a `link` section); a bad section is a usage error (exit 2). */
  static of(scenario: Scenario, cfg: JsonObject, agents: AgentSpec[], leaderId: string): LinkPlan | undefined {
    if (cfg.link === undefined) return undefined;
    try {
      const model = LinkModel.parse(cfg.link, [...new Set(agents.map((a) => a.role))]);
      let factors: Map<string, number> | undefined;
      if (scenario.linkFactor) factors = new Map(agents.map((a) => [a.id, checkFactor(`the link factor of ${a.id}`, scenario.linkFactor!(cfg as never, a))]));
      const roles = [...new Set(agents.filter((a) => a.id !== leaderId).map((a) => a.role))];
      return new LinkPlan(cfg.link as LinkSection, model, Number(cfg.seed ?? 0), agents.find((a) => a.id === leaderId)!, factors, roles);
    } catch (e) {
      if (e instanceof LinkConfigError) throw new RunError(e.message, 2);
      throw e;
    }
  }

  /** What `agent`'s welcome carries (the leader's: every roster follower's factor). */
  welcomeFor(agent: AgentSpec, roster: AgentSpec[]): LinkWelcome {
    const f = this.factors;
    const lw: LinkWelcome = { section: this.section, seed: this.seed, leaderRole: this.leader.role };
    if (!f) return lw;
    lw.factor = f.get(agent.id) ?? 1;
    if (agent.id === this.leader.id) lw.rosterFactors = roster.map((a) => f.get(a.id) ?? 1);
    else lw.leaderFactor = f.get(this.leader.id) ?? 1;
    return lw;
  }

  /** The model's parameters for summary.json: the section as configured, each class resolved, and each follower role's modelled round trip. */
  describe(): Record<string, unknown> {
    const r = (x: number) => Math.round(x * 1000) / 1000;
    // the round trip leader → follower → leader of each follower role, before factors
    const rttMs = Object.fromEntries(this.roles.map((role) => {
      const st = this.model.rtt(this.leader.role, role);
      return [`${this.leader.role}>${role}>${this.leader.role}`, { meanMs: r(st.meanMs), meanDeviationMs: r(st.devMs) }];
    }));
    return { config: this.section, ...this.model.describe(), modelledRtt: rttMs, factors: this.factors ? "per agent (the scenario's linkFactor)" : null };
  }
}

/**
 * `cfg` with its `link` section: the config file's, with the flags laid over it, checked against the
 * run's roles. Throws LinkConfigError naming the key or flag.
 */
export function withLink(scenario: Scenario, cfg: JsonObject, section: LinkSection | undefined): JsonObject {
  if (section === undefined) return cfg;
  const roles = [...scenario.roles];
  LinkModel.parse(section, roles);
  return { ...cfg, link: section as JsonObject };
}

/** The link model's line: its parameters, and what it cost (retransmissions, losses, spurious resends); undefined without a model. */
export function linkLine(summary: Record<string, unknown>): string | undefined {
  const l = summary.link as { default: { delay: string; jitterMs: number; loss: number }; classes: Record<string, { delay: string; jitterMs: number; loss: number }>; modelledRtt?: Record<string, { meanMs: number }> } | null | undefined;
  if (!l) return undefined;
  const f = (summary.faults ?? {}) as Faults;
  const cls = (c: { delay: string; jitterMs: number; loss: number }) => `${c.delay}${c.jitterMs ? ` ±${fmtNum(c.jitterMs)}ms` : ''}${c.loss ? ` loss ${fmtNum(c.loss)}` : ''}`;
  const classes = Object.entries(l.classes).map(([k, c]) => ` · ${k} ${cls(c)}`).join('');
  const rtt = Object.entries(l.modelledRtt ?? {}).map(([k, v]) => `${k} ${fmtNum(v.meanMs)} ms`).join(', ');
  return `  link model: one-way ${cls(l.default)}${classes}${rtt ? ` · modelled round trip ${rtt}` : ''} · ${f.linkRetransmissions ?? 0} retransmissions (${f.linkLost ?? 0} messages lost, ${f.linkEchoes ?? 0} late replies answered twice)`;
}

function fmtNum(x: number): string {
  return Number.isInteger(x) ? String(x) : String(+x.toPrecision(6));
}
