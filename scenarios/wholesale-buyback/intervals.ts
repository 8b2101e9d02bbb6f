/**
 * The interval phase: K intervals of Δt seconds after the slot's wholesale decision (spec Revision 2).
 *
 * Each MEC server's workload evolves in continuous time: tasks arrive at the times of a Poisson
 * process of rate λ_e with exponential workloads (mean R), drawn from its stream
 * (seed, 'mec', e, 'arrivals', slot); its FCFS queue is served at C^I GHz and the backlog W never
 * falls below zero. At each interval boundary the MEC looks at its backlog: when W > C^I D_e (the
 * reserve cannot finish it within the deadline) it asks the cloud for b = (W − C^I D_e)/D_e GHz,
 * the extra rate that finishes the backlog within D_e. In steady state W is the M/M/1 workload,
 * so E[b] = E[(W − C^I D_e)^+]/D_e = b_e exactly.
 *
 * With a grant g < b the newest tasks whose FCFS end position lies beyond (C^I + g) D_e miss their
 * deadline (each task counted once). Whether the excess work then leaves the MEC's queue is
 * `BuybackDrain` (default: it does not, so the boundaries sample the reserve's M/M/1 workload);
 * either way it leaves whatever the grant, so a MEC's requests never depend on the grants and
 * several intervals can be asked for in one message.
 *
 * The cloud grants each request from the requester's own released wholesale C^C_e first, then from
 * its spare local capacity C̄_c − C_c, shared within the interval in roster order.
 */
import { stream, type Rng } from '../common/rng.ts';
import { buybackCost, type MecParams } from './model.ts';

/**
 * What the bought-back capacity does to a MEC's own queue. `none` (default): nothing — the
 * boundary sees the M/M/1 workload on the reserve, the model b_e is derived from, so the realized
 * mean is b_e. `excess`: the requested excess W − C^I D_e is served on the granted capacity and
 * leaves the queue at once (Revision 2's sentence); measured, this makes the realized mean
 * 0.2–0.3 × b_e, because b_e counts an excess again in every interval it persists.
 */
export type BuybackDrain = 'none' | 'excess';
export const BUYBACK_DRAINS: BuybackDrain[] = ['none', 'excess'];

export interface MecIntervalState {
  CI: number;
  drain: BuybackDrain;
  rng: Rng;
  /** FCFS queue: the remaining work (Gcycles) of each task in the system, oldest at `head` */
  queue: number[];
  /** the tasks' ids (arrival order within the slot, the initial ones first), parallel to `queue` */
  ids: number[];
  head: number;
  /** backlog W, Gcycles (the sum of the queue) */
  W: number;
  /** time within the slot, s, up to which the queue has been served */
  t: number;
  /** the arrival time of the next task, s */
  nextArrival: number;
  /** the next task id */
  nextId: number;
  /** ids of the tasks already counted as late */
  missed: Set<number>;
  /** the tasks beyond C^I D_e at the last boundary with a request, newest first: end positions (Gcycles) and ids */
  lastTail: MissTail;
  /** the last request, GHz (0 if none) */
  lastRequest: number;
  /** arrivals during the slot */
  tasks: number;
  /** the next interval index expected */
  k: number;
}

/** The tasks a shortfall can make late, newest first: FCFS end positions (Gcycles) and task ids. */
export interface MissTail {
  ends: number[];
  ids: number[];
}

export function arrivalsStream(seed: number, index: number, slot: number): Rng {
  return stream(seed, 'mec', index, 'arrivals', slot);
}

/**
 * A MEC's interval state for a slot. The slot starts in steady state: the number of tasks in the
 * system is drawn (first, from the same stream) from the M/M/1 law P(N = n) = (1 − ρ) ρⁿ,
 * ρ = λR/C^I, each with an exponential remaining work of mean R (memoryless for the one in
 * service), so the backlog has the M/M/1 workload law and a short slot does not start empty.
 */
export function newIntervalState(seed: number, index: number, slot: number, CI: number, m: MecParams, R: number, drain: BuybackDrain = 'none'): MecIntervalState {
  const rng = arrivalsStream(seed, index, slot);
  const rho = (m.lambda * R) / CI;
  const u = 1 - rng.next(); // in (0, 1]
  const n = rho > 0 && rho < 1 ? Math.floor(Math.log(u) / Math.log(rho)) : 0;
  const queue: number[] = new Array(n);
  const ids: number[] = new Array(n);
  let W = 0;
  for (let j = 0; j < n; j++) {
    queue[j] = rng.exp(1 / R);
    ids[j] = j;
    W += queue[j];
  }
  return { CI, drain, rng, queue, ids, head: 0, W, t: 0, nextArrival: rng.exp(m.lambda), nextId: n, missed: new Set(), lastTail: { ends: [], ids: [] }, lastRequest: 0, tasks: 0, k: 0 };
}

/** Serve the queue at C^I for `d` seconds (FCFS). */
function serve(st: MecIntervalState, d: number): void {
  let work = st.CI * d;
  const q = st.queue;
  while (work > 0 && st.head < q.length) {
    if (q[st.head] <= work) {
      work -= q[st.head];
      st.head++;
    } else {
      q[st.head] -= work;
      work = 0;
    }
  }
  if (st.head >= q.length) {
    q.length = 0;
    st.ids.length = 0;
    st.head = 0;
    st.W = 0;
  } else {
    st.W = Math.max(0, st.W - st.CI * d);
    if (st.head > 1024 && 2 * st.head > q.length) {
      q.splice(0, st.head);
      st.ids.splice(0, st.head);
      st.head = 0;
    }
  }
}

/**
 * One interval at a MEC server: arrivals at their Poisson times and FCFS service at C^I over
 * [kΔt, (k+1)Δt), then the boundary's buyback request b = (W − C^I D_e)/D_e GHz (0 for none).
 * `lastTail` keeps the tasks beyond position C^I D_e (those a short grant makes late); with
 * drain `excess` their work beyond that position leaves the queue.
 */
export function intervalStep(st: MecIntervalState, m: MecParams, R: number, dt: number): number {
  const end = (st.k + 1) * dt;
  while (st.nextArrival < end) {
    serve(st, st.nextArrival - st.t);
    st.t = st.nextArrival;
    const w = st.rng.exp(1 / R);
    st.queue.push(w);
    st.ids.push(st.nextId++);
    st.W += w;
    st.tasks++;
    st.nextArrival += st.rng.exp(m.lambda);
  }
  serve(st, end - st.t);
  st.t = end;
  st.k++;
  const cap = st.CI * m.D;
  const excess = st.W - cap;
  st.lastTail = { ends: [], ids: [] };
  st.lastRequest = 0;
  if (!(excess > 1e-12 * cap)) return 0;
  st.lastRequest = excess / m.D;
  const q = st.queue;
  let pos = st.W;
  for (let j = q.length - 1; j >= st.head && pos > cap; j--) {
    st.lastTail.ends.push(pos);
    st.lastTail.ids.push(st.ids[j]);
    pos -= q[j];
  }
  if (st.drain === 'excess') {
    // the newest tasks' work beyond C^I D_e leaves the queue (whole tasks, then part of one)
    let cut = excess;
    while (cut > 0 && q.length > st.head) {
      const j = q.length - 1;
      if (q[j] <= cut) {
        cut -= q[j];
        q.length = j;
        st.ids.length = j;
      } else {
        q[j] -= cut;
        cut = 0;
      }
    }
    st.W = cap;
  }
  return st.lastRequest;
}

/**
 * Tasks that miss their deadline when a request r (made with the tail `tail`) gets g < r: those
 * whose end position lies beyond (C^I + g)·D_e, each counted once (`st.missed`).
 */
export function missesFor(st: MecIntervalState, tail: MissTail, D: number, r: number, g: number): number {
  const granted = Math.max(0, Math.min(g, r));
  if (granted >= r * (1 - 1e-12)) return 0;
  const limit = (st.CI + granted) * D * (1 + 1e-12);
  let misses = 0;
  for (let j = 0; j < tail.ends.length && tail.ends[j] > limit; j++) {
    if (st.missed.has(tail.ids[j])) continue;
    st.missed.add(tail.ids[j]);
    misses++;
  }
  return misses;
}

/** Apply a grant (GHz) to the last request; returns the number of tasks that miss their deadline. */
export function applyGrant(st: MecIntervalState, m: MecParams, g: number): number {
  const r = st.lastRequest;
  st.lastRequest = 0;
  return missesFor(st, st.lastTail, m.D, r, g);
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
      /** realized mean buyback over the expected Σ_e b_e (Revision 2: within ±10 % over ≥ 3000 intervals) */
      buybackRatio: expectedB > 0 ? this.grantedSum / K / expectedB : this.grantedSum > 0 ? Infinity : 1,
      intervals: K,
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
  opts: { R: number; dt: number; K: number; c1: number; c2: number; batch?: number; drain?: BuybackDrain },
): IntervalTally {
  const states = mecs.map((m, i) => newIntervalState(seed, i, slot, CI[i], m, opts.R, opts.drain));
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
