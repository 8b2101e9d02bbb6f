/**
 * Mechanism `nash` — offloading decision × transmit power (spec: offload-energy.md, "Mechanism nash").
 *
 * Model (SI units: bits, cycles, Hz, W, J, s):
 * - local:            T = c s / f_l,   E = κ f_l² c s
 * - offload on k:     r = W log2(1 + p g / (ω + I_k)),  T = s / r + c s / min(f_max, F / n_off),  E = p s / r
 * - cost Z = β_T T + β_E E;  efficiency s / E (bit/J)
 * Best power on a channel: Z(p) ∝ (β_T + β_E p) / ln(1 + a p) with a = g / (ω + I) is quasiconvex;
 * its stationarity condition h(p) = β_E (1 + a p) ln(1 + a p) − a (β_T + β_E p) = 0 has h' = β_E a ln(1 + a p) > 0,
 * so h is increasing and the minimizer on [p_min, p_max] is h's root clipped to the interval (bisection).
 *
 * Protocol (decision slots; all in one orchestrator slot): the server broadcasts `state` {I: received power per
 * channel, n: users offloading}; each user replies with an update request {o, p, pg, gain} if its best response
 * lowers its cost by more than ε relative (else nil); the server grants one request (largest absolute gain, ties
 * by lower roster index) or, with `grant: all`, every one; the granted users commit and acknowledge with their
 * committed {o, pg}. No request → ε-Nash equilibrium; a profile seen before → a cycle (`no-equilibrium`, with its
 * period); `maxSlots` → `cap`. A last `final` broadcast collects each user's T, E, Z.
 */
import type { JsonObject, LeaderContext, SlotOutcome } from '../types.ts';
import { stream } from '../common/rng.ts';

export interface NashServer {
  /** number of channels */
  C: number;
  /** channel bandwidth, Hz */
  W: number;
  /** noise power, W */
  omega: number;
  /** energy per cycle coefficient (E = κ f² per cycle) */
  kappa: number;
  /** server capacity, Hz */
  F: number;
  /** the most the server gives one task, Hz */
  fmax: number;
  /** transmit power range, W */
  pmin: number;
  pmax: number;
  betaT: number;
  betaE: number;
}

export interface NashUser {
  /** distance to the base station, m (gain g = d^-4) */
  d: number;
  /** task size, bits */
  s: number;
  /** cycles per bit */
  c: number;
  /** local CPU frequency, Hz */
  fl: number;
}

export type Grant = 'one' | 'all';
export type PowerMode = 'joint' | 'fixed';

export interface NashOptions {
  epsilon: number;
  grant: Grant;
  /** `fixed`: p = p_max, decision only (the ODPC baseline) */
  power: PowerMode;
  maxSlots: number;
}

export const NASH_DEFAULTS = {
  C: 3,
  W: 5e6,
  omega: 1e-13,
  kappa: 1e-27,
  F: 20e9,
  fmax: 4e9,
  pmin: 0.01,
  pmax: 0.2,
  betaT: 0.5,
  betaE: 0.5,
  epsilon: 1e-2,
  users: 20,
} as const;

/** Users' parameters for slot 0: d ~ U[20, 100] m, s ~ U[0.5, 2] Mbit, c = 1000 cycles/bit, f_l ~ U[0.5, 1] GHz. */
export function drawNashUser(seed: number, i: number): NashUser {
  const g = stream(seed, 'ue', i, 'nash');
  const d = g.uniform(20, 100);
  const s = g.uniform(0.5e6, 2e6);
  const fl = g.uniform(0.5e9, 1e9);
  return { d, s, c: 1000, fl };
}

/**
 * A user's task in a slot: slot 0 as configured; later slots draw a new task size from the seed. A new
 * object of one literal's shape in every slot, as pricingUserAt (./pricing.ts).
 */
export function nashUserAt(seed: number, i: number, u: NashUser, slot: number): NashUser {
  const s = slot === 0 ? u.s : stream(seed, 'ue', i, 'nash-task', slot).uniform(0.5e6, 2e6);
  return { d: u.d, s, c: u.c, fl: u.fl };
}

export const gainOf = (d: number) => Math.pow(d, -4);

export interface Cost {
  T: number;
  E: number;
  Z: number;
}

export function localCost(u: NashUser, srv: NashServer): Cost {
  const T = (u.c * u.s) / u.fl;
  const E = srv.kappa * u.fl * u.fl * u.c * u.s;
  return { T, E, Z: srv.betaT * T + srv.betaE * E };
}

/** uplink rate, bit/s, with `I` the others' received power on the channel */
export function rate(srv: NashServer, p: number, g: number, I: number): number {
  return srv.W * Math.log2(1 + (p * g) / (srv.omega + I));
}

/** the server's share of one task when `nOff` users (this one included) offload */
export const serverShare = (srv: NashServer, nOff: number) => Math.min(srv.fmax, srv.F / Math.max(1, nOff));

/** cost of offloading at power p with others' received power I on the channel, nOff users offloading (self included) */
export function offloadCost(u: NashUser, srv: NashServer, p: number, I: number, nOff: number): Cost {
  const r = rate(srv, p, gainOf(u.d), I);
  const tx = u.s / r;
  const T = tx + (u.c * u.s) / serverShare(srv, nOff);
  const E = p * tx;
  return { T, E, Z: srv.betaT * T + srv.betaE * E };
}

/** The power minimizing the offloading cost on a channel with others' received power I (see the header). */
export function bestPower(u: NashUser, srv: NashServer, I: number): number {
  const a = gainOf(u.d) / (srv.omega + I);
  const h = (p: number) => srv.betaE * (1 + a * p) * Math.log1p(a * p) - a * (srv.betaT + srv.betaE * p);
  if (h(srv.pmax) <= 0) return srv.pmax;
  if (h(srv.pmin) >= 0) return srv.pmin;
  let lo = srv.pmin;
  let hi = srv.pmax;
  for (let it = 0; it < 200; it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (h(mid) < 0) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

export interface Choice {
  /** 0 = local, k = channel k (1-based) */
  o: number;
  /** transmit power (0 when local) */
  p: number;
  Z: number;
}

/**
 * Best response given the others' received power per channel and the number of OTHER users offloading.
 * Candidates: local, then channels 1..C; the strictly cheapest wins (ties → the earlier candidate).
 */
export function bestResponse(u: NashUser, srv: NashServer, Iothers: number[], nOthers: number, power: PowerMode): Choice {
  let best: Choice = { o: 0, p: 0, Z: localCost(u, srv).Z };
  for (let k = 1; k <= srv.C; k++) {
    const I = Iothers[k - 1];
    const p = power === 'fixed' ? srv.pmax : bestPower(u, srv, I);
    const Z = offloadCost(u, srv, p, I, nOthers + 1).Z;
    if (Z < best.Z) best = { o: k, p, Z };
  }
  return best;
}

/** cost of a given choice against the others' received powers and their offloading count */
export function costOf(u: NashUser, srv: NashServer, o: number, p: number, Iothers: number[], nOthers: number): Cost {
  return o === 0 ? localCost(u, srv) : offloadCost(u, srv, p, Iothers[o - 1], nOthers + 1);
}

/** 64-bit (two 32-bit lanes) hash of a profile (decisions, received powers), for cycle detection. */
export function profileKey(o: ArrayLike<number>, pg: ArrayLike<number>): string {
  const buf = new DataView(new ArrayBuffer(8));
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  const mix = (x: number) => {
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul(h2 ^ x, 0x5bd1e995);
    h2 ^= h2 >>> 13;
  };
  for (let i = 0; i < o.length; i++) {
    mix(o[i] | 0);
    buf.setFloat64(0, o[i] === 0 ? 0 : pg[i]);
    mix(buf.getInt32(0));
    mix(buf.getInt32(4));
  }
  return `${(h1 >>> 0).toString(16)}:${(h2 >>> 0).toString(16)}:${o.length}`;
}

/**
 * Cycle detector: feed the profile after each decision slot; returns the period when the profile was seen
 * before (the slot number difference), else undefined.
 */
export class CycleDetector {
  private readonly seen = new Map<string, number>();
  /** `slot` is the decision slot after whose commits the profile holds (0 = the initial profile) */
  visit(slot: number, key: string): number | undefined {
    const before = this.seen.get(key);
    if (before !== undefined) return slot - before;
    this.seen.set(key, slot);
    return undefined;
  }
}

export type NashStatus = 'equilibrium' | 'no-equilibrium' | 'cap';

// ---------------------------------------------------------------------------------------------------------
// Protocol: the user's handler and the server's slot.

export interface NashFollowerInit {
  seed: number;
  index: number;
  server: NashServer;
  user: NashUser;
  epsilon: number;
  power: PowerMode;
}

export interface NashRequest extends JsonObject {
  o: number;
  p: number;
  pg: number;
  gain: number;
}

/** A user: keeps its committed (o, p) within a slot, answers `state`, `grant` and `final`. */
export function createNashFollower(init: NashFollowerInit) {
  let slot = -1;
  let u = init.user;
  let o = 0;
  let p = 0;
  let pending: Choice | undefined;
  const g = gainOf(init.user.d);
  const others = (body: JsonObject) => {
    const I = (body.I as number[]).map((x, k) => (o === k + 1 ? Math.max(0, x - p * g) : x));
    const n = Math.max(0, Number(body.n) - (o > 0 ? 1 : 0));
    return { I, n };
  };
  return {
    handle(kind: string, body: JsonObject, meta: { slot: number }): JsonObject | undefined {
      if (meta.slot !== slot) {
        slot = meta.slot;
        u = nashUserAt(init.seed, init.index, init.user, slot);
        o = 0;
        p = 0;
        pending = undefined;
      }
      if (kind === 'state') {
        if (!Array.isArray(body.I) || body.I.length !== init.server.C || typeof body.n !== 'number') return undefined;
        const { I, n } = others(body);
        const cur = costOf(u, init.server, o, p, I, n).Z;
        const br = bestResponse(u, init.server, I, n, init.power);
        pending = undefined;
        if (cur - br.Z > init.epsilon * cur) {
          pending = br;
          return { o: br.o, p: br.p, pg: br.p * g, gain: cur - br.Z } satisfies NashRequest;
        }
        return undefined;
      }
      if (kind === 'grant') {
        if (pending) {
          o = pending.o;
          p = pending.p;
          pending = undefined;
        }
        return { o, pg: p * g };
      }
      if (kind === 'final') {
        if (!Array.isArray(body.I) || body.I.length !== init.server.C || typeof body.n !== 'number') return undefined;
        const { I, n } = others(body);
        const c = costOf(u, init.server, o, p, I, n);
        return { o, p, T: c.T, E: c.E, Z: c.Z, eff: u.s / c.E };
      }
      return undefined;
    },
  };
}

export interface NashLeaderInit {
  C: number;
  grant: Grant;
  maxSlots: number;
}

/** per-channel received power and the offloading count, summed in roster order */
export function aggregates(C: number, o: ArrayLike<number>, pg: ArrayLike<number>): { I: number[]; n: number } {
  const I = new Array<number>(C).fill(0);
  let n = 0;
  for (let j = 0; j < o.length; j++) {
    if (o[j] > 0) {
      I[o[j] - 1] += pg[j];
      n++;
    }
  }
  return { I, n };
}

export async function runNashSlot(ctx: LeaderContext, init: NashLeaderInit): Promise<SlotOutcome> {
  const N = ctx.roster.length;
  const o = new Array<number>(N).fill(0);
  const pg = new Array<number>(N).fill(0);
  const cycles = new CycleDetector();
  cycles.visit(0, profileKey(o, pg));
  let status: NashStatus = 'cap';
  let period: number | null = null;
  let decisionSlots = 0;
  let updates = 0;
  let requestsTotal = 0;
  let grantsTotal = 0;
  for (let t = 1; t <= init.maxSlots; t++) {
    decisionSlots = t;
    const { I, n } = aggregates(init.C, o, pg);
    const res = await ctx.round<NashRequest>({ kind: 'state', body: { I, n } });
    const req: number[] = [];
    res.replies.forEach((r, i) => {
      if (r && typeof r.gain === 'number' && Number.isFinite(r.gain) && r.gain > 0 && Number.isInteger(r.o) && r.o >= 0 && r.o <= init.C && Number.isFinite(r.pg)) req.push(i);
    });
    requestsTotal += req.length;
    if (req.length === 0) {
      ctx.record({ dslot: t, requests: 0, grants: 0, user: '', offloading: n, ...Object.fromEntries(I.map((x, k) => [`I${k + 1}`, x])) });
      status = 'equilibrium';
      break;
    }
    let granted: number[];
    if (init.grant === 'all') granted = req;
    else {
      let best = req[0];
      for (const i of req) if (res.replies[i]!.gain > res.replies[best]!.gain) best = i;
      granted = [best];
    }
    const ids = granted.map((i) => ctx.roster[i].id);
    grantsTotal += ids.length;
    const acks = await ctx.round<{ o: number; pg: number }>({ kind: 'grant', to: ids, body: {} });
    for (const i of granted) {
      const a = acks.replies[i];
      const r = res.replies[i]!;
      // the acknowledgement carries the committed strategy; a missing one falls back to the request
      o[i] = a && Number.isInteger(a.o) ? a.o : r.o;
      pg[i] = o[i] === 0 ? 0 : a && Number.isFinite(a.pg) ? a.pg : r.pg;
      updates++;
    }
    const after = aggregates(init.C, o, pg);
    ctx.record({ dslot: t, requests: req.length, grants: ids.length, user: ids.length === 1 ? ids[0] : '', offloading: after.n, ...Object.fromEntries(after.I.map((x, k) => [`I${k + 1}`, x])) });
    const per = cycles.visit(t, profileKey(o, pg));
    if (per !== undefined) {
      status = 'no-equilibrium';
      period = per;
      break;
    }
  }
  const { I, n } = aggregates(init.C, o, pg);
  const fin = await ctx.round<{ o: number; p: number; T: number; E: number; Z: number; eff: number }>({ kind: 'final', body: { I, n } });
  const rows = fin.replies.map((r) => r ?? { o: 0, p: 0, T: NaN, E: NaN, Z: NaN, eff: NaN });
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const equilibrium: JsonObject = {
    status,
    period,
    decisionSlots,
    updates,
    offloading: n,
    totalCost: sum((r) => r.Z),
    totalEnergy: sum((r) => r.E),
    totalDelay: sum((r) => r.T),
    meanEfficiency: N > 0 ? sum((r) => r.eff) / N : 0,
    decisions: rows.map((r) => r.o),
    powers: rows.map((r) => r.p),
  };
  const notes: string[] = [];
  if (status === 'no-equilibrium') notes.push(`cycle of period ${period} after ${decisionSlots} decision slots: no ε-equilibrium reached`);
  if (status === 'cap') notes.push(`stopped at the cap of ${init.maxSlots} decision slots`);
  return {
    equilibrium,
    converged: status === 'equilibrium',
    notes: notes.length ? notes : undefined,
    extra: {
      requests: requestsTotal,
      grants: grantsTotal,
      // the spec's count ("a message is a broadcast, a request or a grant"): one state broadcast per decision slot;
      // the runtime's `messages` also counts nil replies, grant acknowledgements and the final round
      protocolMessages: decisionSlots + requestsTotal + grantsTotal,
      grant: init.grant,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Centralized computations for the reference side (full profile, no messages).

export interface NashProfile {
  o: number[];
  p: number[];
}

/** the others' received power per channel and their offloading count, summed directly over j ≠ i */
export function othersOf(users: NashUser[], srv: NashServer, prof: NashProfile, i: number): { I: number[]; n: number } {
  const I = new Array<number>(srv.C).fill(0);
  let n = 0;
  for (let j = 0; j < users.length; j++) {
    if (j === i || prof.o[j] === 0) continue;
    I[prof.o[j] - 1] += prof.p[j] * gainOf(users[j].d);
    n++;
  }
  return { I, n };
}

export interface ProfileMetrics {
  offloading: number;
  totalCost: number;
  totalEnergy: number;
  totalDelay: number;
  meanEfficiency: number;
  costs: number[];
}

export function profileMetrics(users: NashUser[], srv: NashServer, prof: NashProfile): ProfileMetrics {
  let totalCost = 0;
  let totalEnergy = 0;
  let totalDelay = 0;
  let eff = 0;
  const costs: number[] = [];
  users.forEach((u, i) => {
    const { I, n } = othersOf(users, srv, prof, i);
    const c = costOf(u, srv, prof.o[i], prof.p[i], I, n);
    costs.push(c.Z);
    totalCost += c.Z;
    totalEnergy += c.E;
    totalDelay += c.T;
    eff += u.s / c.E;
  });
  return { offloading: prof.o.filter((x) => x > 0).length, totalCost, totalEnergy, totalDelay, meanEfficiency: users.length ? eff / users.length : 0, costs };
}

export interface SimResult {
  status: NashStatus;
  period: number | null;
  decisionSlots: number;
  profile: NashProfile;
  metrics: ProfileMetrics;
  /** the profile key after each decision slot (index 0: the initial all-local profile) */
  keys: string[];
}

/** The decision-slot dynamics computed centrally (the reference's own implementation, full sums). */
export function simulateNash(users: NashUser[], srv: NashServer, opt: NashOptions): SimResult {
  const N = users.length;
  const prof: NashProfile = { o: new Array(N).fill(0), p: new Array(N).fill(0) };
  const key = () => profileKey(prof.o, prof.p.map((p, i) => p * gainOf(users[i].d)));
  const cycles = new CycleDetector();
  const keys = [key()];
  cycles.visit(0, keys[0]);
  let status: NashStatus = 'cap';
  let period: number | null = null;
  let decisionSlots = 0;
  for (let t = 1; t <= opt.maxSlots; t++) {
    decisionSlots = t;
    const req: { i: number; c: Choice; gain: number }[] = [];
    for (let i = 0; i < N; i++) {
      const { I, n } = othersOf(users, srv, prof, i);
      const cur = costOf(users[i], srv, prof.o[i], prof.p[i], I, n).Z;
      const br = bestResponse(users[i], srv, I, n, opt.power);
      if (cur - br.Z > opt.epsilon * cur) req.push({ i, c: br, gain: cur - br.Z });
    }
    if (req.length === 0) {
      status = 'equilibrium';
      break;
    }
    const chosen = opt.grant === 'all' ? req : [req.reduce((b, r) => (r.gain > b.gain ? r : b))];
    for (const r of chosen) {
      prof.o[r.i] = r.c.o;
      prof.p[r.i] = r.c.p;
    }
    keys.push(key());
    const per = cycles.visit(t, keys[t]);
    if (per !== undefined) {
      status = 'no-equilibrium';
      period = per;
      break;
    }
  }
  return { status, period, decisionSlots, profile: prof, metrics: profileMetrics(users, srv, prof), keys };
}

/**
 * The independent ε-equilibrium check: for every user, the best unilateral deviation found by a dense power
 * grid (with a local golden refinement) on every channel and local, against its cost in the profile.
 * Returns the largest relative gain (Z − Z_dev) / Z over users and who has it.
 */
export function maxDeviationGain(users: NashUser[], srv: NashServer, prof: NashProfile, power: PowerMode, gridPoints = 801): { gain: number; user: number } {
  let worst = { gain: -Infinity, user: -1 };
  users.forEach((u, i) => {
    const { I, n } = othersOf(users, srv, prof, i);
    const cur = costOf(u, srv, prof.o[i], prof.p[i], I, n).Z;
    let best = localCost(u, srv).Z;
    for (let k = 1; k <= srv.C; k++) {
      const f = (p: number) => offloadCost(u, srv, p, I[k - 1], n + 1).Z;
      if (power === 'fixed') {
        best = Math.min(best, f(srv.pmax));
        continue;
      }
      const step = (srv.pmax - srv.pmin) / (gridPoints - 1);
      let jBest = 0;
      let zBest = Infinity;
      for (let j = 0; j < gridPoints; j++) {
        const z = f(srv.pmin + j * step);
        if (z < zBest) {
          zBest = z;
          jBest = j;
        }
      }
      // golden refinement inside the neighbouring grid cells
      let a = srv.pmin + Math.max(0, jBest - 1) * step;
      let b = srv.pmin + Math.min(gridPoints - 1, jBest + 1) * step;
      const r = (Math.sqrt(5) - 1) / 2;
      for (let it = 0; it < 80; it++) {
        const c = b - r * (b - a);
        const d = a + r * (b - a);
        if (f(c) <= f(d)) b = d;
        else a = c;
      }
      best = Math.min(best, zBest, f(0.5 * (a + b)));
    }
    const gain = (cur - best) / cur;
    if (gain > worst.gain) worst = { gain, user: i };
  });
  return worst;
}
