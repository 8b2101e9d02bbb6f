/**
 * Mechanism `mobility` — result delivery under movement (spec: offload-energy.md, "Mechanism mobility").
 *
 * A ring road of length L with M servers evenly spaced (server j at j L / M), coverage radius R. Each user moves
 * in one direction, accelerating at a until the speed cap, and takes a GPS fix every second (noise σ). Tasks
 * arrive as a Poisson process after the warm-up; a task arriving in (t − 1, t] is offloaded at tick t with a
 * completion time τ ~ U[τ_min, τ_max] known then. It succeeds if at t + τ the user is within R of the chosen
 * server.
 *
 * Protocol (leader: the `broker`; the servers are passive parameters — they take no decision in the spec's
 * model, so they are not agents): each tick the broker broadcasts `tick` {t}; every user takes its fix, updates
 * its constant-acceleration Kalman filter and replies (nil if nothing to say) with its new tasks
 * {k, tau, z: raw fix, xe: filtered position, xp: predicted position at completion} and, for every task whose
 * completion time passed since the previous tick, the delivery check {k, x: its true position at completion}.
 * The broker chooses a server per task — `pa`: nearest to the raw fix; `kalman`: among the servers covering the
 * filtered position, the one nearest the predicted position (none covering → nearest the filtered position) —
 * and scores a delivery as a success when |x − server| ≤ R on the ring.
 * Ticks run from 0 to warm-up + duration + τ_max, so every task completes inside the slot.
 */
import { stream } from '../common/rng.ts';
import type { JsonObject, LeaderContext, SlotOutcome } from '../types.ts';

export type Predictor = 'pa' | 'kalman';

export interface MobilityUser {
  /** start position on the ring, m */
  x0: number;
  /** direction of travel, +1 or −1 */
  dir: number;
  /** initial speed, m/s */
  v0: number;
  /** acceleration, m/s² */
  a: number;
}

export interface MobilityWorld {
  /** ring length, m */
  L: number;
  /** number of servers */
  M: number;
  /** coverage radius, m */
  R: number;
  /** speed cap, m/s */
  vmax: number;
  /** GPS noise, m */
  sigma: number;
  /** warm-up, s */
  warmup: number;
  /** task arrival window after the warm-up, s */
  duration: number;
  /** task arrival rate per user, 1/s */
  lambda: number;
  tauMin: number;
  tauMax: number;
  /** Kalman process noise (white jerk spectral density, m²/s⁵) */
  q: number;
}

export const MOBILITY_DEFAULTS = {
  L: 2000,
  M: 10,
  R: 150,
  vmax: 120 / 3.6,
  sigma: 5,
  warmup: 5,
  duration: 60,
  lambda: 0.2,
  tauMin: 2,
  tauMax: 10,
  q: 0.1,
  users: 20,
} as const;

/** start uniform on the ring, random direction, speed 60 km/h and acceleration 1.5 m/s², each ± 20 % */
export function drawMobilityUser(seed: number, i: number, L: number): MobilityUser {
  const g = stream(seed, 'ue', i, 'mobility');
  const x0 = g.uniform(0, L);
  const dir = g.next() < 0.5 ? -1 : 1;
  const v0 = (60 / 3.6) * g.uniform(0.8, 1.2);
  const a = 1.5 * g.uniform(0.8, 1.2);
  return { x0, dir, v0, a };
}

/** distance travelled by time t (accelerate to the cap, then cruise) */
export function travelled(u: MobilityUser, vmax: number, t: number): number {
  if (u.a <= 0 || u.v0 >= vmax) return u.v0 * t;
  const t1 = (vmax - u.v0) / u.a;
  if (t <= t1) return u.v0 * t + 0.5 * u.a * t * t;
  return u.v0 * t1 + 0.5 * u.a * t1 * t1 + vmax * (t - t1);
}

/** unwrapped position along the road (the ring coordinate is this modulo L) */
export const positionAt = (u: MobilityUser, vmax: number, t: number) => u.x0 + u.dir * travelled(u, vmax, t);

/** x modulo L in [0, L); idempotent (wrap(wrap(x)) === wrap(x)) */
export function wrap(x: number, L: number): number {
  const r = x % L;
  if (r >= 0) return r;
  const y = r + L;
  return y >= L ? 0 : y;
}
export function ringDistance(x: number, y: number, L: number): number {
  const d = Math.abs(wrap(x, L) - wrap(y, L));
  return Math.min(d, L - d);
}
export const serverPosition = (j: number, w: { L: number; M: number }) => (j * w.L) / w.M;

// ---------------------------------------------------------------------------------------------------------
// Constant-acceleration Kalman filter on position fixes (state [x, v, a], dt = 1 s by default).

export class KalmanCA {
  x = [0, 0, 0];
  P: number[][] = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  private started = false;

  constructor(
    private readonly r: number,
    private readonly q: number,
    private readonly p0: [number, number, number] = [0, 40 * 40, 3 * 3],
  ) {}

  /** predict dt ahead, then update with the fix z */
  step(z: number, dt = 1): void {
    if (!this.started) {
      this.started = true;
      this.x = [z, 0, 0];
      this.P = [
        [Math.max(this.r, this.p0[0]), 0, 0],
        [0, this.p0[1], 0],
        [0, 0, this.p0[2]],
      ];
      return;
    }
    const F = [
      [1, dt, 0.5 * dt * dt],
      [0, 1, dt],
      [0, 0, 1],
    ];
    const q = this.q;
    const Q = [
      [(q * dt ** 5) / 20, (q * dt ** 4) / 8, (q * dt ** 3) / 6],
      [(q * dt ** 4) / 8, (q * dt ** 3) / 3, (q * dt ** 2) / 2],
      [(q * dt ** 3) / 6, (q * dt ** 2) / 2, q * dt],
    ];
    const x = F.map((row) => row[0] * this.x[0] + row[1] * this.x[1] + row[2] * this.x[2]);
    const FP = mul(F, this.P);
    const P = add(mul(FP, transpose(F)), Q);
    // update with H = [1, 0, 0]
    const S = P[0][0] + this.r;
    const K = [P[0][0] / S, P[1][0] / S, P[2][0] / S];
    const y = z - x[0];
    this.x = x.map((v, i) => v + K[i] * y);
    this.P = P.map((row, i) => row.map((v, j) => v - K[i] * P[0][j]));
    // keep P symmetric
    for (let i = 0; i < 3; i++) for (let j = 0; j < i; j++) this.P[i][j] = this.P[j][i] = 0.5 * (this.P[i][j] + this.P[j][i]);
  }

  /** position predicted `tau` seconds ahead under constant acceleration */
  predict(tau: number): number {
    return this.x[0] + this.x[1] * tau + 0.5 * this.x[2] * tau * tau;
  }
}

const mul = (A: number[][], B: number[][]) => A.map((row) => B[0].map((_, j) => row.reduce((s, v, k) => s + v * B[k][j], 0)));
const add = (A: number[][], B: number[][]) => A.map((row, i) => row.map((v, j) => v + B[i][j]));
const transpose = (A: number[][]) => A[0].map((_, j) => A.map((row) => row[j]));

// ---------------------------------------------------------------------------------------------------------
// A user's tasks and fixes for one slot (drawn from its own streams: depend only on seed, index and slot).

export interface Task {
  /** order of the task for its user (0-based) */
  k: number;
  /** tick at which it is offloaded */
  tick: number;
  tau: number;
}

export function drawTasks(seed: number, i: number, slot: number, w: MobilityWorld): Task[] {
  const g = stream(seed, 'ue', i, 'mobility-tasks', slot);
  const tasks: Task[] = [];
  let t = w.warmup;
  for (;;) {
    t += g.exp(w.lambda);
    if (t > w.warmup + w.duration) break;
    tasks.push({ k: tasks.length, tick: Math.ceil(t), tau: g.uniform(w.tauMin, w.tauMax) });
  }
  return tasks;
}

/** the fix noise stream: one normal draw per tick, in tick order */
export const fixNoise = (seed: number, i: number, slot: number) => stream(seed, 'ue', i, 'mobility-gps', slot);

/** the last tick: every task (offloaded by tick ⌈warm-up + duration⌉, τ ≤ τ_max) completes by then */
export const lastTick = (w: MobilityWorld) => Math.ceil(w.warmup + w.duration) + Math.ceil(w.tauMax);

/** the broker's choice of server for one task */
export function chooseServer(pred: Predictor, w: MobilityWorld, z: number, xe: number, xp: number): number {
  const nearest = (x: number, among: number[]) => {
    let best = among[0];
    let bd = Infinity;
    for (const j of among) {
      const d = ringDistance(x, serverPosition(j, w), w.L);
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    return best;
  };
  const all = Array.from({ length: w.M }, (_, j) => j);
  if (pred === 'pa') return nearest(z, all);
  const covering = all.filter((j) => ringDistance(xe, serverPosition(j, w), w.L) <= w.R);
  return covering.length ? nearest(xp, covering) : nearest(xe, all);
}

// ---------------------------------------------------------------------------------------------------------
// Protocol

export interface MobilityFollowerInit {
  seed: number;
  index: number;
  user: MobilityUser;
  world: MobilityWorld;
}

export interface TickReply extends JsonObject {
  req: { k: number; tau: number; z: number; xe: number; xp: number }[];
  done: { k: number; x: number }[];
}

export function createMobilityFollower(init: MobilityFollowerInit) {
  const w = init.world;
  let slot = -1;
  let tasks: Task[] = [];
  let noise = fixNoise(init.seed, init.index, 0);
  let kf = new KalmanCA(w.sigma * w.sigma, w.q);
  let lastT = -1;
  let nextTask = 0;
  let pending: { k: number; due: number }[] = [];
  return {
    handle(kind: string, body: JsonObject, meta: { slot: number }): JsonObject | undefined {
      if (kind !== 'tick' || typeof body.t !== 'number' || !Number.isInteger(body.t)) return undefined;
      if (meta.slot !== slot) {
        slot = meta.slot;
        tasks = drawTasks(init.seed, init.index, slot, w);
        noise = fixNoise(init.seed, init.index, slot);
        kf = new KalmanCA(w.sigma * w.sigma, w.q);
        lastT = -1;
        nextTask = 0;
        pending = [];
      }
      const t = body.t;
      if (t <= lastT || t > lastTick(w)) return undefined; // a repeated tick, or one past the slot's end (a huge t would loop for ever)
      const reply: TickReply = { req: [], done: [] };
      // one fix per tick, in order; a missed tick is caught up (its tasks are reported now)
      for (let s = lastT + 1; s <= t; s++) {
        const z = positionAt(init.user, w.vmax, s) + noise.normal(0, w.sigma);
        kf.step(z);
        while (nextTask < tasks.length && tasks[nextTask].tick <= s) {
          const task = tasks[nextTask++];
          reply.req.push({ k: task.k, tau: task.tau, z, xe: kf.x[0], xp: kf.predict(task.tau) });
          pending.push({ k: task.k, due: s + task.tau });
        }
      }
      lastT = t;
      const still: typeof pending = [];
      for (const p of pending) {
        if (p.due <= t) reply.done.push({ k: p.k, x: wrap(positionAt(init.user, w.vmax, p.due), w.L) });
        else still.push(p);
      }
      pending = still;
      return reply.req.length || reply.done.length ? reply : undefined;
    },
  };
}

export interface MobilityLeaderInit {
  predictor: Predictor;
  world: MobilityWorld;
}

export interface MobilityStats {
  tasks: number;
  delivered: number;
  successes: number;
  successRate: number;
  /** by task order k (0-based: a user's first, second … task): tasks, successes, success rate */
  byOrder: { tasks: number[]; successes: number[]; rate: number[] };
}

export function emptyStats(): MobilityStats {
  return { tasks: 0, delivered: 0, successes: 0, successRate: 0, byOrder: { tasks: [], successes: [], rate: [] } };
}

/** the success rates from the counts (overall and by task order) */
export function finishStats(st: MobilityStats): MobilityStats {
  st.successRate = st.delivered ? st.successes / st.delivered : 0;
  st.byOrder.rate = st.byOrder.tasks.map((n, k) => (n ? st.byOrder.successes[k] / n : 0));
  return st;
}

function count(st: MobilityStats, k: number, ok: boolean) {
  while (st.byOrder.tasks.length <= k) {
    st.byOrder.tasks.push(0);
    st.byOrder.successes.push(0);
  }
  st.byOrder.tasks[k]++;
  st.delivered++;
  if (ok) {
    st.byOrder.successes[k]++;
    st.successes++;
  }
}

export async function runMobilitySlot(ctx: LeaderContext, init: MobilityLeaderInit): Promise<SlotOutcome> {
  const w = init.world;
  const chosen = ctx.roster.map(() => new Map<number, number>());
  const st = emptyStats();
  const T = lastTick(w);
  let malformed = 0;
  for (let t = 0; t <= T; t++) {
    const res = await ctx.round<TickReply>({ kind: 'tick', body: { t } });
    let requests = 0;
    let done = 0;
    let ok = 0;
    res.replies.forEach((r, i) => {
      if (!r) return;
      for (const q of Array.isArray(r.req) ? r.req : []) {
        if (![q.k, q.z, q.xe, q.xp].every(Number.isFinite)) {
          malformed++;
          continue;
        }
        chosen[i].set(q.k, chooseServer(init.predictor, w, q.z, q.xe, q.xp));
        st.tasks++;
        requests++;
      }
      for (const d of Array.isArray(r.done) ? r.done : []) {
        const j = chosen[i].get(d.k);
        if (j === undefined || !Number.isFinite(d.x)) {
          malformed++;
          continue;
        }
        const success = ringDistance(d.x, serverPosition(j, w), w.L) <= w.R;
        count(st, d.k, success);
        done++;
        if (success) ok++;
      }
    });
    ctx.record({ tick: t, requests, done, successes: ok });
  }
  finishStats(st);
  const notes: string[] = [];
  if (malformed) notes.push(`${malformed} malformed task entries ignored`);
  if (st.delivered !== st.tasks) notes.push(`${st.tasks - st.delivered} tasks without a delivery report`);
  return {
    equilibrium: { ...st, predictor: init.predictor, M: w.M } as unknown as JsonObject,
    converged: st.delivered === st.tasks,
    notes: notes.length ? notes : undefined,
    extra: { ticks: T + 1 },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Reference: the same world computed centrally, user by user (no messages).

export function simulateMobility(seed: number, slot: number, users: MobilityUser[], w: MobilityWorld, pred: Predictor): MobilityStats {
  const st = emptyStats();
  const T = lastTick(w);
  const results: { k: number; ok: boolean; due: number; i: number }[] = [];
  users.forEach((u, i) => {
    const tasks = drawTasks(seed, i, slot, w);
    const noise = fixNoise(seed, i, slot);
    const kf = new KalmanCA(w.sigma * w.sigma, w.q);
    let next = 0;
    for (let t = 0; t <= T; t++) {
      const z = positionAt(u, w.vmax, t) + noise.normal(0, w.sigma);
      kf.step(z);
      for (; next < tasks.length && tasks[next].tick <= t; next++) {
        const task = tasks[next];
        const j = chooseServer(pred, w, z, kf.x[0], kf.predict(task.tau));
        const due = t + task.tau;
        const ok = ringDistance(positionAt(u, w.vmax, due), serverPosition(j, w), w.L) <= w.R;
        results.push({ k: task.k, ok, due, i });
      }
    }
  });
  for (const r of results) {
    st.tasks++;
    count(st, r.k, r.ok);
  }
  return finishStats(st);
}
