/**
 * The interval phase: K intervals of Δt seconds after the slot's wholesale decision.
 *
 * Each interval a MEC server draws Poisson(λ_e Δt) tasks with exponential workloads (mean R) from
 * its stream (seed, 'mec', e, 'arrivals', slot) and runs the spec's FCFS backlog on its reserve,
 * Q_k = max(0, Q_{k−1} + W_k − C^I Δt). When Q_k > C^I D_e (the reserve cannot finish the backlog
 * within the deadline) it asks the cloud for the shortfall r = (Q_k − C^I D_e)/D_e GHz for that
 * interval — the realized counterpart of b_e = E[(V − C^I D_e)^+]/D_e, V the M/M/1 workload on the
 * reserve, so the time average of r estimates b_e. As in the spec's recursion the bought-back
 * capacity does not feed back into Q (it is the reserve's backlog that sizes each interval's
 * request). With a grant g < r, the newest tasks whose FCFS end position lies beyond (C^I + g) D_e
 * miss their deadline (each task is counted once, in the interval it arrives).
 *
 * The cloud grants each request from the requester's own released wholesale C^C_e first, then from
 * its spare local capacity C̄_c − C_c, shared within the interval in roster order.
 */
import { stream, type Rng } from '../common/rng.ts';
import { buybackCost, type MecParams } from './model.ts';

export interface MecIntervalState {
  CI: number;
  Q: number;
  rng: Rng;
  /** the works of the tasks that arrived in the last interval (FCFS order) */
  lastWorks: number[];
  /** the last request, GHz (0 if none) */
  lastRequest: number;
  tasks: number;
  /** the next interval index expected */
  k: number;
}

export function arrivalsStream(seed: number, index: number, slot: number): Rng {
  return stream(seed, 'mec', index, 'arrivals', slot);
}

/**
 * A MEC's interval state for a slot. The slot starts in steady state: Q_0 is drawn (first, from the
 * same stream) from the M/M/1 workload on the reserve — 0 with probability 1 − ρ, ρ = λR/C^I, else
 * exponential with mean R C^I/(C^I − λR) Gcycles — so that a short slot does not start empty.
 */
export function newIntervalState(seed: number, index: number, slot: number, CI: number, m: MecParams, R: number): MecIntervalState {
  const rng = arrivalsStream(seed, index, slot);
  const rho = (m.lambda * R) / CI;
  const u = rng.next();
  const Q = u < rho ? rng.exp((CI - m.lambda * R) / (R * CI)) : 0;
  return { CI, Q, rng, lastWorks: [], lastRequest: 0, tasks: 0, k: 0 };
}

/** One interval at a MEC server: arrivals, service, and the buyback request (GHz; 0 for none). */
export function intervalStep(st: MecIntervalState, m: MecParams, R: number, dt: number): number {
  const n = st.rng.poisson(m.lambda * dt);
  const works: number[] = new Array(n);
  let W = 0;
  for (let j = 0; j < n; j++) {
    works[j] = st.rng.exp(1 / R);
    W += works[j];
  }
  st.lastWorks = works;
  st.tasks += n;
  st.k++;
  st.Q = Math.max(0, st.Q + W - st.CI * dt);
  const excess = st.Q - st.CI * m.D;
  st.lastRequest = excess > 1e-12 * st.CI * m.D ? excess / m.D : 0;
  return st.lastRequest;
}

/**
 * Tasks that miss their deadline when a request r (made with backlog Q after the arrival of
 * `works`, FCFS order) gets g < r: the newest ones whose end position lies beyond (C^I + g)·D_e.
 */
export function missesFor(Q: number, works: number[], CI: number, D: number, r: number, g: number): number {
  const granted = Math.max(0, Math.min(g, r));
  if (granted >= r * (1 - 1e-12)) return 0;
  const limit = (CI + granted) * D * (1 + 1e-12);
  let end = Q;
  let misses = 0;
  for (let j = works.length - 1; j >= 0 && end > limit; j--) {
    misses++;
    end -= works[j];
  }
  return misses;
}

/** Apply a grant (GHz) to the last request; returns the number of new tasks that miss their deadline. */
export function applyGrant(st: MecIntervalState, m: MecParams, g: number): number {
  const r = st.lastRequest;
  st.lastRequest = 0;
  return missesFor(st.Q, st.lastWorks, st.CI, m.D, r, g);
}

/**
 * The cloud's grant rule for one interval: requests in roster order (undefined or 0 = none),
 * `released[i]` the wholesale capacity MEC i can take back (its C^C_e), `pool` the spare local
 * capacity. Returns the grants (undefined where there was no request).
 */
export function grantRule(requests: (number | undefined)[], released: number[], pool: number): (number | undefined)[] {
  let spare = Math.max(0, pool);
  return requests.map((r, i) => {
    if (!(r !== undefined && r > 0)) return undefined;
    const own = Math.max(0, released[i]);
    const g = Math.min(r, own + spare);
    spare -= Math.max(0, g - own);
    return g;
  });
}

/** Running totals of a slot's interval phase (the same code on the leader and in the reference). */
export class IntervalTally {
  /** (MEC, interval) pairs with a request, and with a grant */
  requests = 0;
  grants = 0;
  /** messages: replies carrying requests, and grant messages (equal to the above when batch = 1) */
  requestMessages = 0;
  grantMessages = 0;
  partial = 0;
  misses = 0;
  /** Σ over intervals and MECs of granted GHz */
  grantedSum = 0;
  /** Σ over intervals and MECs of requested GHz */
  requestedSum = 0;
  /** realized buyback cost, $ over the slot */
  cost = 0;

  constructor(
    private readonly tariffs: { c1: number; c2: number },
    private readonly dt: number,
  ) {}

  interval(requests: (number | undefined)[], grants: (number | undefined)[]): void {
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i];
      if (!(r !== undefined && r > 0)) continue;
      const g = grants[i] ?? 0;
      this.requests++;
      this.grants++;
      this.requestedSum += r;
      this.grantedSum += g;
      if (g < r * (1 - 1e-12)) this.partial++;
      this.cost += (buybackCost(this.tariffs, g) * this.dt) / 3600;
    }
  }

  /** the report; `expectedB` = Σ_e b_e (GHz per interval), `expectedCost` = H Σ_e g(b_e) ($ per slot) */
  report(K: number, expectedB: number, expectedCost: number): { [k: string]: number } {
    return {
      requests: this.requests,
      grants: this.grants,
      requestMessages: this.requestMessages,
      grantMessages: this.grantMessages,
      partialGrants: this.partial,
      misses: this.misses,
      buybackRealized: this.grantedSum / K,
      buybackRequested: this.requestedSum / K,
      buybackExpected: expectedB,
      costRealized: this.cost,
      costExpected: expectedCost,
    };
  }
}

/** The whole interval phase computed centrally (the reference side's replay of the protocol). */
export function simulateIntervals(
  seed: number,
  slot: number,
  mecs: MecParams[],
  CI: number[],
  released: number[],
  pool: number,
  opts: { R: number; dt: number; K: number; c1: number; c2: number; batch?: number },
): IntervalTally {
  const states = mecs.map((m, i) => newIntervalState(seed, i, slot, CI[i], m, opts.R));
  const tally = new IntervalTally(opts, opts.dt);
  const batch = Math.max(1, opts.batch ?? 1);
  const asked = new Array<boolean>(mecs.length).fill(false);
  for (let k = 0; k < opts.K; k++) {
    if (k % batch === 0) asked.fill(false);
    const requests = states.map((st, i) => {
      const r = intervalStep(st, mecs[i], opts.R, opts.dt);
      return r > 0 ? r : undefined;
    });
    const grants = grantRule(requests, released, pool);
    tally.interval(requests, grants);
    grants.forEach((g, i) => {
      if (g === undefined) return;
      tally.misses += applyGrant(states[i], mecs[i], g);
      if (!asked[i]) {
        asked[i] = true;
        tally.requestMessages++;
        tally.grantMessages++;
      }
    });
  }
  return tally;
}
